"""Shedding ahead of the app (qa/web/admission.py ``ShedGate``, put in front by qa/web/server.py), through a
real uvicorn server as ``qa serve`` configures it: a question over the admission bound is refused before
its body is read or validated, with a JSON 503 and a Retry-After that varies; /health and /metrics are
answered meanwhile; the refusals are counted and timed in /metrics."""

import contextlib
import inspect
import re
import socket
import sys
import threading
import time

import httpx
import pytest
import uvicorn

from qa.web.admission import QUESTION_ROUTES, ShedGate
from qa.web.app import create_app
from qa.web.server import config

from conftest import REPO, make_pipeline

sys.path.insert(0, str(REPO / "bench"))
from bench_load import load, shed_summary, shed_times  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def busy_server(pipeline, settings):
    """A server reading one question at a time with no queue, whose questions wait for ``release``: while one
    is held, every other question is over the bound."""
    served = settings.model_copy(update={"max_concurrent_questions": 1, "max_queued_questions": 0,
                                         "retry_after_seconds": 1, "retry_after_spread_seconds": 2,
                                         "shed_hold_seconds": 0.05, "max_held_refusals": 64,
                                         "host": "127.0.0.1", "port": _free_port()})
    p = make_pipeline(pipeline.retriever, pipeline.reader, top_k=2, answer_cache_size=0)  # every question is held
    release, entered = threading.Event(), threading.Event()
    ask = p.ask

    def held_ask(*args, **kwargs):
        entered.set()
        release.wait(60)
        return ask(*args, **kwargs)

    p.ask = held_ask
    app = create_app(served, p)
    server = uvicorn.Server(config(app, served, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{served.port}", app, release, entered
    release.set()
    server.should_exit = True
    thread.join(timeout=10)


@contextlib.contextmanager
def one_question_held(busy_server):
    """While inside, the server reads one question and holds it: every other question is over the bound."""
    base, _, release, entered = busy_server
    release.clear()
    entered.clear()
    holder = threading.Thread(target=lambda: httpx.post(base + "/api/ask", json={"question": "Who attended?"},
                                                        timeout=60))
    holder.start()
    assert entered.wait(30)
    try:
        yield
    finally:
        release.set()
        holder.join(60)


def test_a_question_over_the_bound_is_refused_before_its_body_is_read_and_health_and_metrics_still_answer(busy_server):
    base, app, release, entered = busy_server
    admission = app.state.admission
    held = {}
    holder = threading.Thread(target=lambda: held.update(r=httpx.post(base + "/api/ask", json={"question": "Who attended?"},
                                                                       timeout=60)))
    holder.start()
    assert entered.wait(30)  # the one question the bound allows is being read
    try:
        # a body that the app would refuse with a 415 is not looked at: the refusal comes first
        r = httpx.post(base + "/api/ask", content=b"not json", headers={"content-type": "text/plain"})
        assert r.status_code == 503 and r.json()["status_code"] == 503 and "busy" in r.json()["detail"]
        assert r.headers["content-type"] == "application/json" and r.headers["x-content-type-options"] == "nosniff"
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert httpx.get(base + "/api/search", params={"q": "conference"}).status_code == 503

        # a body announced but never sent: the answer does not wait for it
        with socket.create_connection(("127.0.0.1", int(base.rsplit(":", 1)[1])), timeout=5) as s:
            s.sendall(b"POST /api/ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 1000000\r\n\r\n")
            t0 = time.monotonic()
            head = s.recv(4096)
            assert head.startswith(b"HTTP/1.1 503") and time.monotonic() - t0 < 2

        waits = set()
        for _ in range(30):
            r = httpx.post(base + "/api/ask", json={"question": "Who attended?"})
            assert r.status_code == 503
            waits.add(int(r.headers["retry-after"]))
        assert waits <= {1, 2, 3} and len(waits) > 1  # spread, so refused clients do not all come back at once

        assert httpx.get(base + "/health").status_code == 200 and httpx.head(base + "/health").status_code == 200
        metrics = httpx.get(base + "/metrics").text
        shed = float(re.search(r"^qa_questions_shed_total (\S+)$", metrics, re.M).group(1))
        count = float(re.search(r"^qa_shed_seconds_count (\S+)$", metrics, re.M).group(1))
        within_1ms = float(re.search(r'^qa_shed_seconds_bucket\{le="0.001"\} (\S+)$', metrics, re.M).group(1))
        assert shed == count >= 33 and within_1ms >= count / 2  # a refusal's own server time: p50 under 1 ms
    finally:
        release.set()
        holder.join(60)
    assert held["r"].status_code == 200  # the question it was reading is answered
    assert httpx.post(base + "/api/ask", json={"question": "Who attended?"}, timeout=60).status_code == 200
    deadline = time.monotonic() + 5  # the gate lets go once the app returns, just after the last byte is sent
    while admission.inside and time.monotonic() < deadline:
        time.sleep(0.01)
    assert admission.inside == 0 and admission.stats.running == 0


def test_the_load_bench_drives_clients_that_retry_at_once_and_clients_that_honour_retry_after(busy_server):
    """bench/bench_load.py's two kinds of client against the gate, and the refusals' server time it reads."""
    base = busy_server[0]
    with one_question_held(busy_server):
        before = shed_times(base)
        at_once = load(base, ["Who attended?"], clients=2, seconds=1.5)
        honour = load(base, ["Who attended?"], clients=2, seconds=1.5, honour_retry_after=True)
        shed = shed_summary(before, shed_times(base))
    assert set(at_once["statuses"]) == set(honour["statuses"]) == {"503"} and at_once["answered"] == 0
    refused_at_once, refused_honour = at_once["statuses"]["503"], honour["statuses"]["503"]
    assert 2 <= refused_honour <= 4  # a refusal, then at least 1 s of waiting: at most two tries each in 1.5 s
    assert refused_at_once >= 5 * refused_honour
    assert shed["refused"] == refused_at_once + refused_honour and shed["p50_ms_at_most"] <= 1


def test_a_client_that_asks_again_at_once_is_paced_by_the_pause_and_past_the_held_bound_refused_at_once(busy_server):
    """A refusal is sent after 0.5 to 1.5 times the pause, so a client that retries at once makes a few
    refusals a second instead of as many as it can send; once ``max_held`` are held the rest go out at once.
    The refusal's own server time leaves the pause out: still under a millisecond at p50."""
    base, app = busy_server[:2]
    admission = app.state.admission
    kept = admission.shed_hold, admission.max_held
    try:
        with one_question_held(busy_server):
            admission.shed_hold = 0.2  # 0.1 to 0.3 s a refusal
            before = shed_times(base)
            paced = load(base, ["Who attended?"], clients=2, seconds=2.0)
            shed = shed_summary(before, shed_times(base))
            admission.max_held = 0  # none may be held: every refusal goes out at once
            unpaced = load(base, ["Who attended?"], clients=2, seconds=2.0)
    finally:
        admission.shed_hold, admission.max_held = kept
    assert set(paced["statuses"]) == set(unpaced["statuses"]) == {"503"}
    n_paced, n_unpaced = paced["statuses"]["503"], unpaced["statuses"]["503"]
    assert 2 * 2.0 / 0.3 - 2 <= n_paced <= 2 * 2.0 / 0.1 + 2  # each client waits 0.1 to 0.3 s a refusal
    assert paced["refused_p50_ms"] >= 100  # the client saw the pause ...
    assert shed["refused"] == n_paced and shed["p50_ms_at_most"] <= 1  # ... the server's own time leaves it out
    assert n_unpaced >= 3 * n_paced
    assert admission.stats.held == 0


def test_the_gate_stands_before_every_handler_that_reads_a_question(settings):
    """A new question route left out of QUESTION_ROUTES would queue and shed only after its body is read."""
    app = create_app(settings)
    reading = {(path, method) for path, handlers in app.route_handler_method_map.items() for method, h in handlers.items()
               if "admission" in inspect.signature(h.fn).parameters}
    assert reading == set(QUESTION_ROUTES.items())


def test_the_gate_passes_everything_else_through_untouched():
    """Only the question routes, and only their asking method, are ever refused."""
    import asyncio

    from qa.web.admission import Admission

    seen = []

    async def app(scope, receive, send):
        seen.append((scope["method"], scope["path"]))

    admission = Admission(concurrency=1, queue=0, deadline_seconds=1.0)
    admission.inside = 1  # full
    gate = ShedGate(app, admission, QUESTION_ROUTES, ())
    sent = []

    async def send(message):
        sent.append(message)

    async def scenario():
        for method, path in (("GET", "/health"), ("GET", "/metrics"), ("GET", "/api/ask"), ("POST", "/api/documents"),
                             ("POST", "/api/ask"), ("GET", "/api/search")):
            await gate({"type": "http", "method": method, "path": path}, None, send)

    asyncio.run(scenario())
    assert seen == [("GET", "/health"), ("GET", "/metrics"), ("GET", "/api/ask"), ("POST", "/api/documents")]
    assert [m["status"] for m in sent if m["type"] == "http.response.start"] == [503, 503]
    assert admission.stats.shed == 2 and sum(admission.stats.shed_times.counts) == 2
