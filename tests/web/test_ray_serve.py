"""``qa serve --ray``: reading on Ray Serve replicas (a local Ray) answers as the plain server does."""

from __future__ import annotations

import json
import threading

import pytest
from litestar.testing import TestClient

from conftest import REPO
from qa.answering.pipeline import AnswerPipeline
from qa.web.app import create_app

QUESTIONS = [json.loads(line)["question"] for line in (REPO / "eval" / "gold.jsonl").read_text().splitlines()[:8]]


@pytest.fixture(scope="module")
def answering(settings):
    """Every span is an answer (the tiny random reader is sure of none), so there are answers to compare."""
    return settings.model_copy(update={"no_answer_threshold": -1e6})


@pytest.fixture(scope="module")
def pipeline(answering):
    return AnswerPipeline.from_settings(answering)


@pytest.fixture(scope="module")
def remote_pipeline(answering, local_ray):
    from qa.reader.ray_serve import RemoteReader, start_readers, stop_readers

    handle = start_readers(answering, replicas=2)
    yield AnswerPipeline.from_settings(answering, reader=RemoteReader.from_settings(answering, handle))
    stop_readers()


def _answers(result):
    return [(a.text, round(a.score, 4), [(c.doc_id, c.start, c.end) for c in a.citations]) for a in result.answers]


def test_replicas_answer_as_the_local_reader(pipeline, remote_pipeline):
    for q in QUESTIONS:
        expected = _answers(pipeline.ask(q))
        assert expected and _answers(remote_pipeline.ask(q)) == expected, q


def test_concurrent_questions_on_the_replicas_each_get_their_own_answer(pipeline, remote_pipeline):
    got: dict[str, list] = {}
    start = threading.Barrier(len(QUESTIONS))

    def ask(q):
        start.wait()
        got[q] = _answers(remote_pipeline.ask(q))

    threads = [threading.Thread(target=ask, args=(q,)) for q in QUESTIONS]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert got == {q: _answers(pipeline.ask(q)) for q in QUESTIONS}


def test_the_api_is_unchanged_on_ray(answering, pipeline, remote_pipeline):
    seen = []
    for p in (pipeline, remote_pipeline):
        with TestClient(app=create_app(answering, p)) as c:
            r = c.post("/api/ask", json={"question": QUESTIONS[1], "max_answers": 3})
            assert r.status_code in (200, 201), r.text
            body = r.json()
            body.pop("took_ms")
            health = c.get("/health")
            assert health.status_code == 200
            seen.append((body, health.json()))
    assert seen[0] == seen[1] and seen[0][0]["answers"]


def test_more_replicas_than_a_local_ray_has_cpus_is_refused_not_left_waiting(answering, local_ray):
    from qa.errors import UserProblem
    from qa.reader.ray_serve import start_readers

    with pytest.raises(UserProblem, match="need 3 CPUs"):
        start_readers(answering, replicas=3)
