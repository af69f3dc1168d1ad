"""The service's edge: security headers, request checks, error bodies, health, metrics and admission,
through the real app, see qa/web/edge.py, admission.py and metrics.py."""

import asyncio
import logging
import re
import time

import pytest
from litestar.testing import TestClient

from qa.errors import TimeUp
from qa.web.admission import Admission, ClientGone, Shed
from qa.web.app import create_app

from conftest import make_pipeline, make_reader


@pytest.fixture(scope="module")
def client(pipeline, settings):
    reader = make_reader(pipeline.reader.model_dir, no_answer_threshold=-1e6)
    with TestClient(app=create_app(settings, make_pipeline(pipeline.retriever, reader, top_k=3))) as c:
        yield c


def test_every_response_carries_the_security_headers_and_a_request_id(client):
    for r in (client.get("/"), client.get("/static/app.js"), client.get("/nowhere"), client.get("/health"),
              client.post("/api/ask", json={"question": ""}), client.post("/api/ask", json={"question": "Who?"})):
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert r.headers["x-content-type-options"] == "nosniff" and r.headers["referrer-policy"] == "no-referrer"
        assert re.fullmatch(r"[0-9a-f]{16}", r.headers["x-request-id"])


def test_the_chat_page_has_no_inline_script_so_the_policy_can_forbid_it(client):
    html = client.get("/").text
    assert re.findall(r"<script(?![^>]*\bsrc=)", html) == []
    assert not re.search(r"\son[a-z]+\s*=", html)  # no inline event handlers either


@pytest.mark.parametrize("headers", [{"content-type": "text/plain"}, {"content-type": "application/x-www-form-urlencoded"}, {}])
def test_post_bodies_must_be_json(client, headers):
    r = client.post("/api/ask", content=b'{"question": "Who?"}', headers=headers)
    assert r.status_code == 415 and r.json()["status_code"] == 415


def test_deeply_nested_json_is_a_400_even_in_an_ignored_field(client):
    deep = '{"question": "Who?", "ignored": ' + "[" * 964 + "]" * 964 + "}"
    r = client.post("/api/ask", content=deep.encode(), headers={"content-type": "application/json"})
    assert r.status_code == 400 and "nests deeper" in r.json()["detail"]


def test_paths_with_nul_or_outside_the_page_are_404_not_500(client):
    for path in ("/static/app.js%00.png", "/static/%2e%2e/settings.py", "/static/index.html", "/api/documents/a%00b"):
        r = client.get(path)
        assert r.status_code == 404, path


def test_only_the_allowed_host_names_are_served(client):
    assert client.get("/health", headers={"host": "evil.example"}).status_code == 400
    assert client.get("/api/documents", headers={"host": "rebind.attacker.test:8000"}).status_code == 400
    assert client.get("/health", headers={"host": "localhost:8000"}).status_code == 200


def test_numbers_as_strings_and_invisible_questions_are_refused(client):
    r = client.post("/api/ask", json={"question": "Who attended?", "top_k": "5"})
    assert r.status_code == 400 and "top_k" in r.text
    r = client.post("/api/ask", json={"question": "\u200b\u200c\u200d\ufeff"})
    assert r.status_code == 400 and "question" in r.text


def test_a_whole_number_written_5_0_counts_and_a_body_that_is_not_json_is_a_clear_400(client):
    r = client.post("/api/ask", json={"question": "Who attended the conference?", "top_k": 2.0, "max_answers": 1.0})
    assert r.status_code == 200 and len(r.json()["answers"]) <= 1
    assert client.post("/api/ask", json={"question": "Who attended?", "top_k": 2.5}).status_code == 400
    r = client.post("/api/ask", content=b'{"question": "Who', headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.headers["content-type"].startswith("application/json"), r.text


def test_errors_do_not_echo_large_inputs(client):
    r = client.get("/api/search", params={"q": "x" * 60_000})
    assert r.status_code == 400 and len(r.content) < 3000
    r = client.get("/api/documents/" + "y" * 5000)
    assert r.status_code == 404 and len(r.content) < 3000


def test_health_has_head_and_no_absolute_paths(client):
    assert client.head("/health").status_code == 200
    body = client.get("/health").json()
    assert not body["reader"].startswith("/") and "/tmp" not in client.get("/health").text
    assert body["verifier"] is None  # the tiny reader's policy weighs no verifier


def test_metrics_report_requests_by_route_queue_and_index(client):
    client.post("/api/ask", json={"question": "Who attended?"})
    text = client.get("/metrics").text
    assert 'qa_http_requests_total{method="POST",route="/api/ask",status="200"}' in text
    assert "qa_http_request_seconds_bucket" in text and "qa_questions_waiting 0.0" in text
    assert "qa_index_documents 5.0" in text and "qa_questions_shed_total" in text


def test_the_api_docs_pages_are_off_and_the_schema_is_on(client):
    assert client.get("/schema/swagger").status_code == 404
    schema = client.get("/schema/openapi.json").json()
    assert "404" in schema["paths"]["/api/documents/{doc_id}"]["get"]["responses"]


def test_a_failure_is_a_json_500_with_the_request_id_that_finds_its_traceback(pipeline, settings, monkeypatch):
    p = make_pipeline(pipeline.retriever, pipeline.reader)

    def broken(*args, **kwargs):
        raise RuntimeError("simulated failure")

    monkeypatch.setattr(p.retriever, "search", broken)
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logging.getLogger("qa.web").addHandler(handler)
    try:
        with TestClient(app=create_app(settings, p)) as c:
            r = c.get("/api/search", params={"q": "conference"})
    finally:
        logging.getLogger("qa.web").removeHandler(handler)
    assert r.status_code == 500 and r.json()["request_id"] == r.headers["x-request-id"]
    assert "simulated" not in r.text  # the details stay in the log
    record = next(rec for rec in records if r.headers["x-request-id"] in rec.getMessage())
    assert record.exc_info and "simulated failure" in str(record.exc_info[1])


def test_a_question_past_its_deadline_is_a_503(pipeline, settings):
    fast = settings.model_copy(update={"request_deadline_seconds": 1e-6})
    with TestClient(app=create_app(fast, make_pipeline(pipeline.retriever, pipeline.reader))) as c:
        r = c.post("/api/ask", json={"question": "Who attended?"})
    assert r.status_code == 503 and "deadline" in r.json()["detail"] and r.headers["retry-after"] == "1"


class _Request:
    """Stands in for a Litestar request: ``receive`` says when the client leaves."""

    def __init__(self, leaves_after: float | None = None) -> None:
        self.leaves_after = leaves_after

    async def receive(self):
        if self.leaves_after is None:
            await asyncio.sleep(3600)
        await asyncio.sleep(self.leaves_after)
        return {"type": "http.disconnect"}


def test_admission_reads_a_bounded_number_sheds_the_rest_and_drops_clients_that_left():
    async def scenario():
        admission = Admission(concurrency=1, queue=1, deadline_seconds=5.0)
        started = []

        def slow(deadline):
            started.append(time.monotonic())
            time.sleep(0.3)
            return "done"

        first = asyncio.ensure_future(admission.run(_Request(), slow))
        await asyncio.sleep(0.05)
        second = asyncio.ensure_future(admission.run(_Request(), slow))  # waits: the queue has room for one
        gone = None
        await asyncio.sleep(0.05)
        with pytest.raises(Shed):  # the third finds the slot taken and the queue full
            await admission.run(_Request(), slow)
        assert await first == "done" and await second == "done"
        leaving = Admission(concurrency=1, queue=4, deadline_seconds=5.0)
        hold = asyncio.ensure_future(leaving.run(_Request(), slow))
        await asyncio.sleep(0.05)
        with pytest.raises(ClientGone):
            await leaving.run(_Request(leaves_after=0.05), slow)
        await hold
        return admission.stats, leaving.stats, len(started), gone

    stats, leaving_stats, runs, _ = asyncio.run(scenario())
    assert stats.shed == 1 and runs == 3 and leaving_stats.dropped == 1  # the client that left never ran
    assert stats.running == stats.waiting == 0


def test_admission_stops_waiting_at_the_deadline():
    async def scenario():
        admission = Admission(concurrency=1, queue=4, deadline_seconds=0.2)
        hold = asyncio.ensure_future(admission.run(_Request(), lambda deadline: time.sleep(0.6)))
        await asyncio.sleep(0.05)
        t0 = time.monotonic()
        with pytest.raises(TimeUp):
            await admission.run(_Request(), lambda deadline: "never")
        waited = time.monotonic() - t0
        await hold
        return waited, admission.stats

    waited, stats = asyncio.run(scenario())
    assert waited < 0.4 and stats.timed_out == 1


@pytest.mark.parametrize("path, methods", [("/api/documents", "GET, OPTIONS, POST"),
                                           ("/api/documents/some-id", "DELETE, GET, OPTIONS"),
                                           ("/health", "GET, HEAD, OPTIONS")])
def test_options_names_every_method_the_path_has(client, path, methods):
    """Where several handlers share a path, Allow names all their methods, not only the first handler's."""
    r = client.options(path)
    assert r.status_code == 204 and r.headers["allow"] == methods
    assert "x-request-id" in r.headers  # answered by the app, with the edge's headers
