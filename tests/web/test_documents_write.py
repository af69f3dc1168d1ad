"""Adding, replacing and deleting articles over HTTP, and snapshots from other processes picked up,
through the real app (Litestar's test client runs its lifespan), see qa/web/documents.py and corpus.py."""

import time

import pytest
from pydantic import SecretStr
from litestar.testing import TestClient

from qa.web.app import create_app

from conftest import MAX_BYTES, index_config

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
FERRY = {"id": "ferry-2026", "title": "Ferry service", "text": "Ferry service\nThe new ferry to Co To island left "
         "Van Don port on March 3 with 240 passengers. The Quang Ninh transport department runs it."}


@pytest.fixture
def app_settings(settings, index_copy):
    return settings.model_copy(update={"index_dir": index_copy, "api_token": SecretStr(TOKEN), "reader_runtime": "torch",
                                       "no_answer_threshold": -1e6, "max_documents_per_request": 4,
                                       "index_poll_seconds": 0.2})


@pytest.fixture
def client(app_settings):
    with TestClient(app=create_app(app_settings)) as c:
        yield c


def test_writes_are_off_without_a_configured_token_and_need_the_right_one(client, settings, index_copy):
    with TestClient(app=create_app(settings.model_copy(update={"index_dir": index_copy, "reader_runtime": "torch"}))) as c:
        r = c.post("/api/documents", json={"documents": [FERRY]})
        assert r.status_code == 403 and "QA_API_TOKEN" in r.json()["detail"]
        assert c.delete("/api/documents/004_e78e7126cb0131b0").status_code == 403
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}, {"Authorization": TOKEN}):
        r = client.post("/api/documents", json={"documents": [FERRY]}, headers=headers)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer", headers
        assert client.delete("/api/documents/004_e78e7126cb0131b0", headers=headers).status_code == 401
    assert client.get("/api/documents").status_code == 200  # reads stay open
    assert len(client.get("/api/documents").json()) == 5


def test_a_write_is_seen_at_once_by_documents_search_and_ask(client):
    bad = [{"id": "a/b", "text": "x"}, {"id": "t", "title": 5, "text": "Body."}, {"text": "no id"}]
    r = client.post("/api/documents", json={"documents": [FERRY, *bad]}, headers=AUTH)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["added"] == ["ferry-2026"] and body["updated"] == [] and body["unchanged"] == []
    assert [x["id"] for x in body["rejected"]] == ["a/b", "t", None]
    assert all(x["reason"] for x in body["rejected"])
    assert client.get("/api/documents/ferry-2026").json()["title"] == "Ferry service"
    assert len(client.get("/api/documents").json()) == 6
    hits = client.get("/api/search", params={"q": "ferry Co To island passengers", "k": 1}).json()["results"]
    assert hits[0]["doc_id"] == "ferry-2026"
    answers = client.post("/api/ask", json={"question": "How many passengers did the ferry carry?"}).json()["answers"]
    assert any(c["doc_id"] == "ferry-2026" for a in answers for c in a["citations"])
    again = client.post("/api/documents", json={"documents": [FERRY]}, headers=AUTH).json()
    assert again["unchanged"] == ["ferry-2026"] and again["added"] == []
    changed = {**FERRY, "text": FERRY["text"].replace("240", "260")}
    assert client.post("/api/documents", json={"documents": [changed]}, headers=AUTH).json()["updated"] == ["ferry-2026"]
    assert "260 passengers" in client.get("/api/documents/ferry-2026").json()["text"]


def test_delete_removes_a_document_everywhere_and_unknown_ids_are_404(client):
    assert client.delete("/api/documents/003_a6d69e29b11ebe8e", headers=AUTH).status_code == 204
    assert client.get("/api/documents/003_a6d69e29b11ebe8e").status_code == 404
    assert "003_a6d69e29b11ebe8e" not in {d["doc_id"] for d in client.get("/api/documents").json()}
    hits = client.get("/api/search", params={"q": "Lao provinces cooperation", "k": 50}).json()["results"]
    assert hits and all(h["doc_id"] != "003_a6d69e29b11ebe8e" for h in hits)
    r = client.delete("/api/documents/003_a6d69e29b11ebe8e", headers=AUTH)
    assert r.status_code == 404 and r.json()["status_code"] == 404


def test_limits_are_enforced_and_named(client):
    many = [{"id": f"d{i}", "text": f"Article {i}."} for i in range(5)]
    r = client.post("/api/documents", json={"documents": many}, headers=AUTH)
    assert r.status_code == 413 and "QA_MAX_DOCUMENTS_PER_REQUEST" in r.json()["detail"]
    big = {"id": "big", "text": "word " * (MAX_BYTES // 5 + 1)}
    r = client.post("/api/documents", json={"documents": [big]}, headers=AUTH)
    assert r.status_code == 200 and "QA_MAX_DOCUMENT_BYTES" in r.json()["rejected"][0]["reason"]
    for body in ({"documents": "nope"}, {}, [1, 2]):
        assert client.post("/api/documents", json=body, headers=AUTH).status_code == 400
    assert len(client.get("/api/documents").json()) == 5  # nothing went in


def test_documents_list_pages_with_offset_and_limit(client):
    everything = client.get("/api/documents").json()
    assert client.get("/api/documents", params={"offset": 1, "limit": 2}).json() == everything[1:3]
    assert client.get("/api/documents", params={"offset": 10}).json() == []
    assert client.get("/api/documents", params={"limit": 0}).status_code == 400


def test_a_snapshot_written_by_another_process_is_served_within_seconds(client, app_settings, embedder, tmp_path):
    from qa.search.ingest import ingest

    (tmp_path / "late.txt").write_text("Late news\nA storm closed the Hai Van pass on Sunday evening.\n")
    r = ingest([tmp_path / "late.txt"], app_settings.index_dir, index_config(embedder), MAX_BYTES)
    assert r.added == ["late"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and client.get("/api/documents/late").status_code != 200:
        time.sleep(0.1)
    assert client.get("/api/documents/late").status_code == 200
    hits = client.get("/api/search", params={"q": "storm Hai Van pass", "k": 1}).json()["results"]
    assert hits[0]["doc_id"] == "late"


def test_a_write_that_waits_too_long_for_another_writer_is_a_503_naming_it(app_settings):
    from qa.search.lock import IndexLock

    with TestClient(app=create_app(app_settings.model_copy(update={"write_wait_seconds": 0.3}))) as c:
        holder = IndexLock(app_settings.index_dir, "qa ingest")
        assert holder.try_acquire()
        try:
            r = c.post("/api/documents", json={"documents": [FERRY]}, headers=AUTH)
        finally:
            holder.release()
        assert r.status_code == 503 and "being written by" in r.json()["detail"] and "qa ingest" in r.json()["detail"]
        assert c.get("/api/documents/ferry-2026").status_code == 404
        assert c.post("/api/documents", json={"documents": [FERRY]}, headers=AUTH).json()["added"] == ["ferry-2026"]


def test_leftovers_of_killed_writes_are_removed_when_the_server_starts(app_settings):
    from qa.search.store import PassageIndex

    index_dir = app_settings.index_dir
    (index_dir / "snap-20260101-000000-dead00.partial").mkdir()
    (index_dir / "snap-20260101-000000-dead01").mkdir()
    (index_dir / "CURRENT.tmp").write_text("snap-20260101-000000-dead01")
    with TestClient(app=create_app(app_settings)) as c:
        assert c.get("/health").status_code == 200
    names = sorted(p.name for p in index_dir.iterdir() if p.name.startswith(("snap-", "CURRENT")))
    assert names == ["CURRENT", PassageIndex.current_name(index_dir)]


def test_a_repeated_question_sees_the_articles_written_since_it_was_first_answered(client):
    question = {"question": "How many passengers did the ferry carry?"}
    before = client.post("/api/ask", json=question).json()["answers"]
    assert all(c["doc_id"] != "ferry-2026" for a in before for c in a["citations"])
    assert client.post("/api/ask", json=question).json()["answers"] == before  # the cached answers
    assert client.post("/api/documents", json={"documents": [FERRY]}, headers=AUTH).status_code == 200
    after = client.post("/api/ask", json=question).json()["answers"]
    assert any(c["doc_id"] == "ferry-2026" for a in after for c in a["citations"])
    assert client.delete("/api/documents/ferry-2026", headers=AUTH).status_code == 204
    gone = client.post("/api/ask", json=question).json()["answers"]
    assert all(c["doc_id"] != "ferry-2026" for a in gone for c in a["citations"])
    metrics = client.get("/metrics").text
    assert "qa_answer_cache_hits 0.0" in metrics  # the snapshot after the delete has answered once, by reading
    assert "qa_answer_cache_misses 1.0" in metrics
