"""``qa.client`` against the live app: a real ``qa serve`` for every method and error, the app in this process
(over an ASGI transport) for the settings a test needs, and sockets that never answer for the time-outs."""

import subprocess
import sys
import textwrap
import time

import anyio
import httpx
import msgspec
import pytest

from conftest import REPO
from live_server import QA, TOKEN, closed_port, live_server, service_env, silent_port

from qa.client import (AskResponse, AsyncClient, BadRequest, Client, DocumentBody, DocumentSummary, Health, NotFound,
                       QAClientError, RequestTimedOut, SearchResponse, ServiceBusy, ServiceUnreachable, TooLarge,
                       Unauthorized, WriteResponse, WritesOff)

QUESTION = "Where was the 2018 coordination conference held?"


@pytest.fixture(scope="module")
def base(tmp_path_factory, seed_index_dir, tiny_reader_dir):
    with live_server(tmp_path_factory, seed_index_dir, tiny_reader_dir, QA_MAX_DOCUMENTS_PER_REQUEST="3") as url:
        yield url


def _without_time(value) -> dict:
    out = msgspec.to_builtins(value) if isinstance(value, msgspec.Struct) else dict(value)
    out.pop("took_ms")
    return out


def test_the_read_methods_return_the_wire_types(base):
    with Client(base) as qa:
        health = qa.health()
        assert isinstance(health, Health) and health.status == "ok" and health.documents == 5
        docs = qa.documents()
        assert len(docs) == 5 and all(isinstance(d, DocumentSummary) for d in docs)
        assert qa.documents(offset=1, limit=2) == docs[1:3]
        body = qa.document(docs[0].doc_id)
        assert isinstance(body, DocumentBody) and body.title == docs[0].title and len(body.text) == docs[0].length
        found = qa.search("coordination conference", k=2, mode="lexical")
        assert isinstance(found, SearchResponse) and found.mode == "lexical" and len(found.results) == 2
        for r in found.results:
            assert qa.document(r.doc_id).text[r.start : r.end] == r.passage
        assert found.results == qa.search("coordination conference", k=2, mode="lexical").results


def test_ask_gives_the_answer_and_citations_of_post_api_ask(base):
    with Client(base) as qa:
        response = qa.ask(QUESTION, top_k=3, max_answers=2)
        assert isinstance(response, AskResponse) and 1 <= len(response.answers) <= 2
        for a in response.answers:
            for c in a.citations:
                assert qa.document(c.doc_id).text[c.start : c.end] == a.text
    raw = httpx.post(base + "/api/ask", json={"question": QUESTION, "top_k": 3, "max_answers": 2}, timeout=30).json()
    assert _without_time(response) == _without_time(raw)


def test_ask_passes_the_request_fields_through_and_refuses_unknown_ones(base):
    with Client(base) as qa:
        extra = {k: v for k, v in {"order": "recent", "since": "2000-01-01"}.items() if k in qa_fields()}
        raw = httpx.post(base + "/api/ask", json={"question": QUESTION, **extra}, timeout=30).json()
        assert _without_time(qa.ask(QUESTION, **extra)) == _without_time(raw)  # the service's own fields, as they are
        with pytest.raises(TypeError, match="topk"):
            qa.ask(QUESTION, topk=3)


def qa_fields() -> set[str]:
    from qa.web.schemas import AskRequest

    return set(AskRequest.__struct_fields__)


@pytest.mark.parametrize("call, error, field", [
    (lambda qa: qa.ask(""), BadRequest, "question"),
    (lambda qa: qa.ask(" \u200b "), BadRequest, "question"),
    (lambda qa: qa.ask("x" * 1001), BadRequest, "question"),
    (lambda qa: qa.ask(QUESTION, top_k=0), BadRequest, "top_k"),
    (lambda qa: qa.ask(QUESTION, max_answers=21), BadRequest, "max_answers"),
    (lambda qa: qa.search("conference", k=51), BadRequest, "k"),
    (lambda qa: qa.search("conference", mode="fuzzy"), BadRequest, "mode"),
    (lambda qa: qa.document("no-such-doc"), NotFound, "no-such-doc"),
    (lambda qa: qa.delete("no-such-doc"), Unauthorized, "token"),  # no token: the 401 comes before the 404
])
def test_client_errors_are_typed_and_name_what_is_wrong(base, call, error, field):
    with Client(base) as qa, pytest.raises(error) as e:
        call(qa)
    assert field in e.value.detail and e.value.status_code in (400, 401, 404)
    assert isinstance(e.value, QAClientError)


def test_a_wrong_token_and_too_many_documents(base):
    with Client(base, token="wrong") as qa, pytest.raises(Unauthorized):
        qa.add([{"id": "x", "text": "y"}])
    with Client(base, token=TOKEN) as qa, pytest.raises(TooLarge) as e:
        qa.add([{"id": f"d{i}", "text": "text"} for i in range(4)])  # QA_MAX_DOCUMENTS_PER_REQUEST=3
    assert e.value.status_code == 413 and "QA_MAX_DOCUMENTS_PER_REQUEST" in e.value.detail


def test_time_outs_and_a_service_that_cannot_be_reached():
    with silent_port() as port, Client(f"http://127.0.0.1:{port}", timeout=0.5) as qa:
        t0 = time.monotonic()
        with pytest.raises(RequestTimedOut) as e:
            qa.ask(QUESTION)
        assert 0.4 < time.monotonic() - t0 < 5 and isinstance(e.value, TimeoutError)
        with pytest.raises(RequestTimedOut):
            qa.health()
    with Client(f"http://127.0.0.1:{closed_port()}", timeout=5) as qa, pytest.raises(ServiceUnreachable) as e:
        qa.documents()
    assert "cannot be reached" in str(e.value) and not isinstance(e.value, RequestTimedOut)


def test_the_async_client_times_out_too():
    async def main():
        async with AsyncClient(f"http://127.0.0.1:{port}", timeout=0.3) as qa:
            with pytest.raises(RequestTimedOut):
                await qa.search("conference")

    with silent_port() as port:
        anyio.run(main)


class Counting(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner, self.requests = inner, 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        return await self.inner.handle_async_request(request)


def _in_process(settings, pipeline, **client_options):
    """An ``AsyncClient`` over the app in this process (its lifespan run), and the transport that counts requests."""
    from qa.web.app import create_app

    app = create_app(settings, pipeline)
    transport = Counting(httpx.ASGITransport(app=app))
    return app, transport, AsyncClient("http://127.0.0.1", transport=transport, **client_options)


def test_a_busy_service_is_a_503_with_retry_after_honoured_when_asked(settings, pipeline):
    """A question past its deadline is a 503 with Retry-After: raised at once by default, waited for and tried
    again with ``retries``, and raised at once when it asks for longer than ``max_retry_wait``."""
    hurried = settings.model_copy(update={"request_deadline_seconds": 1e-9})

    async def attempt(**options) -> tuple[ServiceBusy, int, float]:
        app, transport, qa = _in_process(hurried, pipeline, **options)
        async with app.lifespan(), qa:
            t0 = time.monotonic()
            with pytest.raises(ServiceBusy) as e:
                await qa.ask(QUESTION)
            return e.value, transport.requests, time.monotonic() - t0

    error, requests, _ = anyio.run(attempt)
    assert error.status_code == 503 and error.retry_after == 1.0 and requests == 1 and "deadline" in error.detail
    _, requests, seconds = anyio.run(lambda: attempt(retries=2))
    assert requests == 3 and seconds >= 2.0
    _, requests, seconds = anyio.run(lambda: attempt(retries=2, max_retry_wait=0.5))
    assert requests == 1 and seconds < 1.0


def test_writes_turned_off_are_a_403(settings, pipeline):
    assert settings.api_token is None

    async def main():
        app, _, qa = _in_process(settings, pipeline, token="any")
        async with app.lifespan(), qa:
            with pytest.raises(WritesOff) as e:
                await qa.add([{"id": "x", "text": "y"}])
            assert e.value.status_code == 403 and "QA_API_TOKEN" in e.value.detail
            assert (await qa.health()).documents == 5  # reads still work

    anyio.run(main)


def test_a_retry_that_goes_through(tmp_path):
    """Retry-After: 0 then an answer: the client returns the answer (no live service needed for the order)."""
    answers = iter([httpx.Response(503, json={"status_code": 503, "detail": "busy"}, headers={"Retry-After": "0"}),
                    httpx.Response(200, json={"status": "ok", "documents": 1, "passages": 2, "embedding_model": "m",
                                              "reader": "r", "verifier": None})])
    with Client("http://127.0.0.1:1", retries=1, transport=httpx.MockTransport(lambda r: next(answers))) as qa:
        assert qa.health().documents == 1


def test_the_client_loads_no_torch_transformers_or_litestar(base):
    code = textwrap.dedent(f"""
        import importlib.abc, sys

        class Absent(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {{"torch", "transformers", "litestar", "sentence_transformers", "faiss"}}:
                    raise ImportError(f"{{name}} is not installed here")

        sys.meta_path.insert(0, Absent())
        from qa.client import Client

        with Client({base!r}) as qa:
            r = qa.ask({QUESTION!r})
            c = r.answers[0].citations[0]
            assert qa.document(c.doc_id).text[c.start:c.end] == r.answers[0].text
        print("ok")
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr[-3000:]


def test_qa_ask_url_prints_what_qa_ask_prints(base, seed_index_dir, tiny_reader_dir):
    """``qa ask --url`` asks the server; ``qa ask`` the same index and reader in its own process: same output."""
    env = service_env(seed_index_dir, tiny_reader_dir)
    remote = subprocess.run([QA, "ask", QUESTION, "--url", base, "--json"], env=env, capture_output=True, text=True,
                            timeout=120)
    local = subprocess.run([QA, "ask", QUESTION, "--json"], env=env, capture_output=True, text=True, timeout=300)
    assert remote.returncode == local.returncode == 0, remote.stderr + local.stderr
    raw = httpx.post(base + "/api/ask", json={"question": QUESTION}, timeout=30).json()
    assert _without_time(msgspec.json.decode(remote.stdout)) == _without_time(raw) == \
        _without_time(msgspec.json.decode(local.stdout))
    # the text is printed from that same response, by the same lines of code as without --url
    text = subprocess.run([QA, "ask", QUESTION, "--url", base], env=env, capture_output=True, text=True, timeout=120)
    for n, a in enumerate(raw["answers"], 1):
        c = a["citations"][0]
        assert f"{n}. {a['text']}" in text.stdout and f"[{c['doc_id']}]" in text.stdout
        assert f"chars {c['start']}-{c['end']}" in text.stdout


def test_qa_ask_url_says_what_went_wrong(base):
    r = subprocess.run([QA, "ask", "x", "--url", base, "--top-k", "0"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "400" in r.stderr and "top_k" in r.stderr
    r = subprocess.run([QA, "ask", "x", "--url", f"http://127.0.0.1:{closed_port()}"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 2 and "cannot be reached" in r.stderr


def test_writes_with_the_token(base):
    """Last in this file: it changes the index that the tests above read."""
    with Client(base, token=TOKEN) as qa:
        report = qa.add([{"id": "bridge", "title": "Bridge opens", "text": "The Rach Mieu 2 bridge opened on Friday."},
                         {"id": "bad id", "text": "an id with a space"}])
        assert isinstance(report, WriteResponse) and report.added == ["bridge"]
        assert [r.id for r in report.rejected] == ["bad id"] and "id" in report.rejected[0].reason
        assert qa.document("bridge").text.startswith("The Rach Mieu 2 bridge")
        assert qa.add([{"id": "bridge", "title": "Bridge opens", "text": "The Rach Mieu 2 bridge opened on Friday."}]
                      ).unchanged == ["bridge"]
        assert qa.delete("bridge") is None
        with pytest.raises(NotFound):
            qa.document("bridge")
        with pytest.raises(NotFound) as e:
            qa.delete("bridge")
        assert e.value.status_code == 404 and "bridge" in e.value.detail
