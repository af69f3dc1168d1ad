"""The service's edge: what a request may be, what every response carries, and how failures are told.

- Every response carries a request id (``X-Request-ID``) and security headers: a Content-Security-Policy
  with ``default-src 'self'``, no inline script and ``frame-ancestors 'none'``, ``nosniff``, no referrer.
- Paths with NUL or other control characters are a 404; bodies of POST/PUT/PATCH must be
  ``application/json`` (415), nested at most ``QA_MAX_JSON_DEPTH`` deep (400); a Host header outside
  ``QA_ALLOWED_HOSTS`` is a 400 (a DNS-rebinding page cannot read a service on the user's machine).
- Errors never echo large inputs back; every 5xx is logged with its traceback and its request id, which the
  JSON body carries too.
"""

from __future__ import annotations

import logging
import re
import secrets
import time

from litestar import MediaType, Request, Response, route
from litestar.enums import HttpMethod
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.handlers import HTTPRouteHandler
from litestar.types import Message, Scope

from qa.timing import current

log = logging.getLogger("qa.web")

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
_BODY_METHODS = {"POST", "PUT", "PATCH"}
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_ECHO = 300  # characters of any input an error message may repeat


def request_id(scope: Scope) -> str:
    state = scope.setdefault("state", {})
    if "request_id" not in state:
        state["request_id"] = secrets.token_hex(8)
    return state["request_id"]


def json_depth(body: bytes, limit: int) -> int:
    """How deep the arrays and objects of a JSON text nest (counting stops past ``limit``)."""
    depth = deepest = 0
    for c in _JSON_STRING.sub(b'""', body).translate(None, _NOT_BRACKETS):
        depth += 1 if c in b"[{" else -1
        if depth > deepest:
            deepest = depth
            if deepest > limit:
                break
    return deepest


def host_name(header: str) -> str:
    """The name in a Host header, without its port: "localhost:8000" -> "localhost", "[::1]:8000" -> "[::1]"."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[: header.find("]") + 1]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def make_request_check(max_json_depth: int, allowed_hosts: list[str]):
    hosts = {h.lower() for h in allowed_hosts}

    async def check_request(request: Request) -> None:
        """Run before every route handler (and before its body is decoded)."""
        request.scope.setdefault("state", {})["started"] = time.perf_counter()
        if host_name(request.headers.get("host", "")) not in hosts:
            # a page on another name (DNS rebinding) must not reach a service on the user's own machine
            raise HTTPException(status_code=400, detail="unknown Host header: this service answers to "
                                f"{', '.join(sorted(hosts))} (QA_ALLOWED_HOSTS)")
        if _CONTROL.search(request.scope["path"]):
            raise NotFoundException()
        if request.method in _BODY_METHODS:
            media = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if media != "application/json":
                raise HTTPException(status_code=415, detail="send the body as JSON, with Content-Type: application/json")
            body = await request.body()
            if json_depth(body, max_json_depth) > max_json_depth:
                raise ValidationException(detail=f"the JSON body nests deeper than {max_json_depth} levels")

    return check_request


def every_method(request: Request) -> Response:
    """The answer to OPTIONS on a path that several handlers share: ``Allow`` names every method there.

    Litestar 2 makes a path's OPTIONS when the path's first handler is registered, naming that handler's
    methods only (``GET, OPTIONS`` where POST exists too; litestar-org/litestar#4169, fixed in v3 only).
    An OPTIONS handler registered before the path's other handlers stands in its place and answers this.
    """
    template = request.scope["path_template"]
    methods = next(r.methods for r in request.app.routes if r.path_format == template)
    return Response(None, status_code=204, headers={"Allow": ", ".join(sorted(methods))}, media_type=MediaType.TEXT)


def options_naming_every_method(*paths: str) -> HTTPRouteHandler:
    """An app-level OPTIONS handler for ``paths`` (``every_method``): list it before their other handlers."""

    @route(list(paths), http_method=HttpMethod.OPTIONS, include_in_schema=False)
    async def allow(request: Request) -> Response:
        return every_method(request)

    return allow


async def mark_response(response: Response) -> Response:
    """``after_request``: when stages are timed (``qa/timing.py``), the handler's answer is ready now; from
    here to the first bytes sent is the response's encoding (JSON)."""
    times = current()
    if times is not None:
        times.marks["json"] = time.perf_counter()
    return response


async def add_headers(message: Message, scope: Scope) -> None:
    if message["type"] == "http.response.start":
        times = current()
        if times is not None and "json" in times.marks:
            times.add("json", time.perf_counter() - times.marks.pop("json"))
        headers = list(message.get("headers") or [])
        present = {name.lower() for name, _ in headers}
        headers += [(n, v) for n, v in SECURITY_HEADERS if n not in present]
        headers.append((b"x-request-id", request_id(scope).encode()))
        message["headers"] = headers
        scope.setdefault("state", {})["status"] = message["status"]


def _short(value: object) -> object:
    if isinstance(value, str) and len(value) > MAX_ECHO:
        return value[:MAX_ECHO] + f"… ({len(value):,} characters)"
    if isinstance(value, dict):
        return {k: _short(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_short(v) for v in value]
    return value


def http_error(request: Request, exc: HTTPException) -> Response:
    """Client errors as JSON, with whatever they quote of the input cut short."""
    body = {"status_code": exc.status_code, "detail": _short(exc.detail)}
    if exc.extra:
        body["extra"] = _short(exc.extra)
    if exc.status_code >= 500:
        log.error("%s %s -> %d (request %s): %s", request.method, request.url.path[:MAX_ECHO], exc.status_code,
                  request_id(request.scope), exc.detail)
        body["request_id"] = request_id(request.scope)
    return Response(body, status_code=exc.status_code, media_type=MediaType.JSON, headers=exc.headers)


def server_error(request: Request, exc: Exception) -> Response:
    """Anything unexpected: logged with its traceback, answered with the id that finds it in the log."""
    rid = request_id(request.scope)
    log.exception("%s %s failed (request %s)", request.method, request.url.path[:MAX_ECHO], rid)
    return Response({"status_code": 500, "detail": "Internal Server Error", "request_id": rid}, status_code=500,
                    media_type=MediaType.JSON)
