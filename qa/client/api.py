"""A typed client for the HTTP API (``Client``, and ``AsyncClient`` for asyncio programs).

It returns the wire contract's own msgspec structs (``qa/web/schemas.py``): the same answers and citations
as ``POST /api/ask``, decoded, not copied into a second set of types. It imports httpx and msgspec only: no
torch, transformers or litestar, so a notebook or another service can use it without the models.

Each method is written once, as a ``_Call`` (what to send, what comes back); the two clients only send it.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import msgspec

from qa.web.schemas import (AskRequest, AskResponse, DocumentBody, DocumentSummary, Health, SearchResponse,
                            WriteResponse)

DEFAULT_URL = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT = 30.0  # seconds; the service's own deadline for a question is 15 s (QA_REQUEST_DEADLINE_SECONDS)
DEFAULT_WRITE_TIMEOUT = 300.0  # a write embeds its documents, and may wait for another writer's lock first


class QAClientError(Exception):
    """Every error this client raises."""


class ServiceUnreachable(QAClientError):
    """No answer from the service: it could not be connected to, or the connection broke."""


class RequestTimedOut(ServiceUnreachable, TimeoutError):
    """The service did not answer within the client's time-out."""


class UnexpectedResponse(QAClientError):
    """The service answered with something that is not the API's JSON (another program on that port?)."""


class ApiError(QAClientError):
    """The service answered with an error status. ``detail`` is its message (it names the field at fault for a
    400); ``body`` the whole JSON error body, ``request_id`` the id that finds a 5xx in the server's log."""

    def __init__(self, status_code: int, detail: str, body: Any = None, request_id: str | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(f"{status_code}: {detail}")
        self.status_code = status_code
        self.detail = detail
        self.body = body
        self.request_id = request_id
        self.retry_after = retry_after  # seconds, from the Retry-After header, when the service sent one


class BadRequest(ApiError):
    """400: bad input (an empty or too long question, ``top_k`` out of range, ...); ``detail`` names the field."""


class Unauthorized(ApiError):
    """401: a write without the right token (``Client(token=...)``, the server's ``QA_API_TOKEN``)."""


class WritesOff(ApiError):
    """403: the server has writes turned off (it was started without ``QA_API_TOKEN``)."""


class NotFound(ApiError):
    """404: no document with this id."""


class TooLarge(ApiError):
    """413: too many documents in one request (``QA_MAX_DOCUMENTS_PER_REQUEST``), or too large a body."""


class ServiceBusy(ApiError):
    """503: shed (too many questions at once), past the deadline, or the index or reader cannot be used now.
    ``retry_after`` says when to come back; ``Client(retries=N)`` waits that long and tries again itself."""


class ServerError(ApiError):
    """Any other 5xx: a fault in the service; ``request_id`` finds it in the server's log."""


_ERRORS: dict[int, type[ApiError]] = {400: BadRequest, 401: Unauthorized, 403: WritesOff, 404: NotFound,
                                      413: TooLarge, 503: ServiceBusy}


@dataclass(frozen=True)
class _Call:
    """One request of the API and the type its answer decodes to (``None``: no body)."""

    method: str
    path: str
    result: Any = None
    params: dict[str, Any] | None = None
    body: bytes | None = None
    write: bool = False


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers["retry-after"]))
    except (KeyError, ValueError):  # absent, or an HTTP date (the service sends seconds)
        return None


def _error(response: httpx.Response) -> ApiError:
    try:
        body = response.json()
    except ValueError:
        body = response.text[:300]
    detail = body.get("detail") if isinstance(body, dict) else None
    if not isinstance(detail, str):
        detail = response.reason_phrase or "error"
    fields = body.get("extra") if isinstance(body, dict) else None  # a 400's fields at fault: [{"key", "message"}]
    named = [f"{f['key']}: {f.get('message', '')}" for f in fields if isinstance(f, dict) and f.get("key")] \
        if isinstance(fields, list) else []
    if named and not any(n.split(":")[0] in detail for n in named):
        detail = f"{detail} ({'; '.join(named)})"
    request_id = (body.get("request_id") if isinstance(body, dict) else None) or response.headers.get("x-request-id")
    kind = _ERRORS.get(response.status_code) or (ServerError if response.status_code >= 500 else ApiError)
    return kind(response.status_code, detail, body, request_id, _retry_after(response))


def _decode(call: _Call, response: httpx.Response) -> Any:
    if response.status_code >= 400:
        raise _error(response)
    if call.result is None:
        return None
    try:
        return msgspec.json.decode(response.content, type=call.result)
    except (msgspec.DecodeError, msgspec.ValidationError) as e:
        raise UnexpectedResponse(f"{call.method} {call.path} -> {response.status_code}: not the API's JSON ({e})") from e


def _query(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _ask(question: str, top_k: int | None, max_answers: int | None, fields: Mapping[str, Any]) -> _Call:
    known = set(AskRequest.__struct_fields__)
    unknown = sorted(set(fields) - known)
    if unknown:
        raise TypeError(f"ask() got unknown field(s) {', '.join(unknown)}; the API's fields: {', '.join(sorted(known))}")
    body = {"question": question, "top_k": top_k, "max_answers": max_answers, **fields}
    return _Call("POST", "/api/ask", AskResponse,
                 body=msgspec.json.encode({k: v for k, v in body.items() if v is not None}))


def _search(q: str, k: int | None, mode: str | None, filters: Mapping[str, Any]) -> _Call:
    params = {"q": q, "k": k, "mode": mode, **filters}
    return _Call("GET", "/api/search", SearchResponse,  # a list is the parameter repeated (source=a&source=b)
                 params={name: [_query(x) for x in v] if isinstance(v, (list, tuple)) else _query(v)
                         for name, v in params.items() if v is not None})


def _documents(offset: int, limit: int | None) -> _Call:
    params = {"offset": offset} | ({"limit": limit} if limit is not None else {})
    return _Call("GET", "/api/documents", list[DocumentSummary], params=params)


def _document_path(doc_id: str) -> str:
    return "/api/documents/" + quote(doc_id, safe="")


def _add(documents: Iterable[Mapping[str, Any]]) -> _Call:
    items = [msgspec.structs.asdict(d) if isinstance(d, msgspec.Struct) else dict(d) for d in documents]
    return _Call("POST", "/api/documents", WriteResponse, body=msgspec.json.encode({"documents": items}), write=True)


class _Base:
    def __init__(self, base_url: str, token: str | None, timeout: float | httpx.Timeout | None,
                 write_timeout: float | None, retries: int, max_retry_wait: float) -> None:
        if retries < 0:
            raise ValueError("retries must be 0 or more")
        self.base_url = base_url.rstrip("/")
        self.retries = retries
        self.max_retry_wait = max_retry_wait
        self._write_timeout = write_timeout
        self._headers = {"accept": "application/json"} | ({"authorization": f"Bearer {token}"} if token else {})

    def _request(self, http: httpx.Client | httpx.AsyncClient, call: _Call) -> httpx.Request:
        headers = {"content-type": "application/json"} if call.body is not None else None
        extra = {"timeout": self._write_timeout} if call.write and self._write_timeout is not None else {}
        return http.build_request(call.method, call.path, params=call.params, content=call.body, headers=headers,
                                  **extra)

    def _outcome(self, call: _Call, response: httpx.Response, attempt: int) -> tuple[Any, float | None]:
        """``(answer, None)``, or ``(None, seconds)`` to wait before trying again (a 503 with Retry-After, while
        ``retries`` last); any other error is raised."""
        try:
            return _decode(call, response), None
        except ServiceBusy as e:
            if attempt >= self.retries or e.retry_after is None or e.retry_after > self.max_retry_wait:
                raise
            return None, e.retry_after

    def _unreachable(self, call: _Call, e: httpx.TransportError) -> QAClientError:
        where = f"{call.method} {self.base_url}{call.path}"
        if isinstance(e, httpx.TimeoutException):
            return RequestTimedOut(f"{where}: no answer in time ({type(e).__name__}); the client's time-out is "
                                   f"set with Client(timeout=...)")
        return ServiceUnreachable(f"{where}: the service cannot be reached ({type(e).__name__}: {e})")


class Client(_Base):
    """The HTTP API from Python, synchronously::

        from qa.client import Client

        with Client("http://127.0.0.1:8000") as qa:
            r = qa.ask("Where was the conference held?")
            for a in r.answers:                       # best first; [] when the articles do not hold the answer
                c = a.citations[0]
                assert qa.document(c.doc_id).text[c.start:c.end] == a.text

    ``token`` is sent as ``Authorization: Bearer`` (the writes need it). ``timeout`` bounds each request
    (``write_timeout`` the writes, which embed their documents); past it ``RequestTimedOut`` is raised. With
    ``retries=N`` a 503 whose ``Retry-After`` is at most ``max_retry_wait`` seconds is tried again, up to N
    times, each after waiting as long as it says; otherwise (and with the default 0) it is raised at once as
    ``ServiceBusy``, with ``retry_after`` set. Error statuses are ``ApiError`` subclasses.
    """

    def __init__(self, base_url: str = DEFAULT_URL, token: str | None = None, *,
                 timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
                 write_timeout: float | None = DEFAULT_WRITE_TIMEOUT, retries: int = 0, max_retry_wait: float = 30.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        super().__init__(base_url, token, timeout, write_timeout, retries, max_retry_wait)
        self._http = httpx.Client(base_url=self.base_url, headers=self._headers, timeout=timeout, transport=transport)

    def _send(self, call: _Call) -> Any:
        for attempt in itertools.count():
            try:
                response = self._http.send(self._request(self._http, call))
            except httpx.TransportError as e:
                raise self._unreachable(call, e) from e
            result, wait = self._outcome(call, response, attempt)
            if wait is None:
                return result
            time.sleep(wait)

    def ask(self, question: str, *, top_k: int | None = None, max_answers: int | None = None,
            **fields: Any) -> AskResponse:
        """``POST /api/ask``: answers copied from the articles, best first, each with its citations
        (``document.text[start:end] == answer.text``); ``answers == []`` when the articles do not hold it.
        ``fields`` are the request's other fields, whatever ``AskRequest`` has (filters, for one)."""
        return self._send(_ask(question, top_k, max_answers, fields))

    def search(self, q: str, *, k: int | None = None, mode: str | None = None, **filters: Any) -> SearchResponse:
        """``GET /api/search``: ranked passages with scores and character offsets; ``mode`` is hybrid, dense or
        lexical. ``filters`` go as further query parameters (dates as ISO text)."""
        return self._send(_search(q, k, mode, filters))

    def documents(self, offset: int = 0, limit: int | None = None) -> list[DocumentSummary]:
        """``GET /api/documents``: id, title and length of each document (all of them unless ``limit``)."""
        return self._send(_documents(offset, limit))

    def document(self, doc_id: str) -> DocumentBody:
        """``GET /api/documents/{doc_id}``: the whole document; ``NotFound`` for an unknown id."""
        return self._send(_Call("GET", _document_path(doc_id), DocumentBody))

    def add(self, documents: Iterable[Mapping[str, Any]]) -> WriteResponse:
        """``POST /api/documents`` (needs the token): each item ``{"id", "title"?, "text", ...}`` is added or
        replaced; a bad one comes back in ``rejected`` with its reason, the rest go in."""
        return self._send(_add(documents))

    def delete(self, doc_id: str) -> None:
        """``DELETE /api/documents/{doc_id}`` (needs the token); ``NotFound`` for an unknown id."""
        self._send(_Call("DELETE", _document_path(doc_id), write=True))

    def health(self) -> Health:
        """``GET /health``: documents, passages and models, once the service is ready (else ``ServiceBusy``)."""
        return self._send(_Call("GET", "/health", Health))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncClient(_Base):
    """``Client`` for asyncio programs: the same methods, awaited. ``transport`` may be
    ``httpx.ASGITransport(app)`` to ask an app in the same process (``qa mcp`` does, without ``--url``)."""

    def __init__(self, base_url: str = DEFAULT_URL, token: str | None = None, *,
                 timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
                 write_timeout: float | None = DEFAULT_WRITE_TIMEOUT, retries: int = 0, max_retry_wait: float = 30.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        super().__init__(base_url, token, timeout, write_timeout, retries, max_retry_wait)
        self._http = httpx.AsyncClient(base_url=self.base_url, headers=self._headers, timeout=timeout,
                                       transport=transport)

    async def _send(self, call: _Call) -> Any:
        import anyio

        for attempt in itertools.count():
            try:
                response = await self._http.send(self._request(self._http, call))
            except httpx.TransportError as e:
                raise self._unreachable(call, e) from e
            result, wait = self._outcome(call, response, attempt)
            if wait is None:
                return result
            await anyio.sleep(wait)

    async def ask(self, question: str, *, top_k: int | None = None, max_answers: int | None = None,
                  **fields: Any) -> AskResponse:
        """See ``Client.ask``."""
        return await self._send(_ask(question, top_k, max_answers, fields))

    async def search(self, q: str, *, k: int | None = None, mode: str | None = None, **filters: Any) -> SearchResponse:
        """See ``Client.search``."""
        return await self._send(_search(q, k, mode, filters))

    async def documents(self, offset: int = 0, limit: int | None = None) -> list[DocumentSummary]:
        return await self._send(_documents(offset, limit))

    async def document(self, doc_id: str) -> DocumentBody:
        return await self._send(_Call("GET", _document_path(doc_id), DocumentBody))

    async def add(self, documents: Iterable[Mapping[str, Any]]) -> WriteResponse:
        return await self._send(_add(documents))

    async def delete(self, doc_id: str) -> None:
        await self._send(_Call("DELETE", _document_path(doc_id), write=True))

    async def health(self) -> Health:
        return await self._send(_Call("GET", "/health", Health))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
