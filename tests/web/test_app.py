"""The HTTP API and chat page through Litestar's test client, see qa/web/app.py."""

import re

import pytest
from litestar.testing import TestClient

from qa.web.app import create_app

from conftest import make_pipeline, make_reader


@pytest.fixture(scope="module")
def client(pipeline, settings):
    # accept every span so that answers exist with the tiny random reader
    reader = make_reader(pipeline.reader.model_dir, no_answer_threshold=-1e6)
    p = make_pipeline(pipeline.retriever, reader, top_k=3, max_answers=3)
    with TestClient(app=create_app(settings, p)) as c:
        yield c


@pytest.fixture(scope="module")
def silent_client(pipeline, settings):
    reader = make_reader(pipeline.reader.model_dir, no_answer_threshold=1e6)
    with TestClient(app=create_app(settings, make_pipeline(pipeline.retriever, reader))) as c:
        yield c


def test_health(client):
    r = client.get("/health")
    assert r.status_code == 200 and r.json()["status"] == "ok" and r.json()["documents"] == 5


def _pyproject_version() -> str:
    import tomllib

    from conftest import REPO

    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]


def test_health_keeps_its_fields_and_adds_the_service_and_reader_versions(client):
    """The fields of 0.1.0 are a contract: all still there, in order, with the versions added after them. The
    service's version is pyproject.toml's; the tiny reader's qa_config.json names none, so it is null."""
    body = client.get("/health").json()
    assert list(body) == ["status", "documents", "passages", "embedding_model", "reader", "verifier",
                          "version", "reader_version"]
    assert body["version"] == _pyproject_version() and body["reader_version"] is None
    assert client.get("/schema/openapi.json").json()["info"]["version"] == _pyproject_version()


def test_health_and_metrics_name_the_version_the_readers_config_gives(pipeline, settings, tiny_reader_dir, tmp_path):
    import shutil

    from qa.reader import config

    named = shutil.copytree(tiny_reader_dir, tmp_path / "reader")
    config.update(named, {"version": "v99"})
    with TestClient(app=create_app(settings, make_pipeline(pipeline.retriever, make_reader(named)))) as c:
        assert c.get("/health").json()["reader_version"] == "v99"
        metrics = c.get("/metrics").text
    assert f'qa_service_info{{version="{_pyproject_version()}"}} 1.0' in metrics
    assert re.search(r'qa_reader_info\{[^}]*version="v99"', metrics), metrics


def test_ask_returns_cited_answers_that_match_the_documents(client):
    r = client.post("/api/ask", json={"question": "Where was the 2018 coordination conference held?", "top_k": 3})
    assert r.status_code == 200
    body = r.json()
    assert set(body) >= {"question", "answers", "took_ms"}
    assert body["answers"]
    for a in body["answers"]:
        assert set(a) >= {"text", "score", "citations"}
        for c in a["citations"]:
            assert set(c) >= {"doc_id", "title", "start", "end", "passage", "passage_start"}
            doc = client.get(f"/api/documents/{c['doc_id']}").json()
            assert doc["text"][c["start"] : c["end"]] == a["text"]
            assert doc["title"] == c["title"]


def test_max_answers_limits_the_list(client):
    r = client.post("/api/ask", json={"question": "Who attended the conference?", "top_k": 5, "max_answers": 1})
    assert r.status_code == 200 and len(r.json()["answers"]) == 1


def test_not_found_is_an_empty_answer_list(silent_client):
    r = silent_client.post("/api/ask", json={"question": "What is the capital of Peru?"})
    assert r.status_code == 200 and r.json()["answers"] == []


@pytest.mark.parametrize(
    "body, field",
    [
        ({"question": ""}, "question"),
        ({"question": "   \n\t "}, "question"),
        ({"question": "x" * 1001}, "question"),
        ({"question": "ok?", "top_k": 0}, "top_k"),
        ({"question": "ok?", "top_k": 51}, "top_k"),
        ({"question": "ok?", "top_k": "five"}, "top_k"),
        ({"question": 42}, "question"),
        ({"question": "ok?", "max_answers": 0}, "max_answers"),
        ({}, "question"),
    ],
)
def test_bad_ask_input_is_a_400_naming_the_field(client, body, field):
    r = client.post("/api/ask", json=body)
    assert r.status_code == 400, r.text
    assert field in r.text
    assert r.headers["content-type"].startswith("application/json")


def test_malformed_json_and_wrong_body_type_are_400(client):
    r = client.post("/api/ask", content=b'{"question": "unterminated', headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["status_code"] == 400
    r = client.post("/api/ask", json=["a", "list"])
    assert r.status_code == 400


def test_search_modes_and_validation(client):
    for mode in ("hybrid", "dense", "lexical"):
        r = client.get("/api/search", params={"q": "coordination conference 2018", "k": 3, "mode": mode})
        assert r.status_code == 200, r.text
        res = r.json()["results"]
        assert 1 <= len(res) <= 3 and res[0]["doc_id"] == "004_e78e7126cb0131b0"
        doc = client.get(f"/api/documents/{res[0]['doc_id']}").json()
        assert doc["text"][res[0]["start"] : res[0]["end"]] == res[0]["passage"]
    for params, field in [({"q": "x", "k": 0}, "k"), ({"q": "x", "k": 99}, "k"), ({"q": "  "}, "q"),
                          ({"k": 3}, "q"), ({"q": "x", "mode": "magic"}, "mode"), ({"q": "x", "k": "many"}, "k")]:
        r = client.get("/api/search", params=params)
        assert r.status_code == 400, (params, r.text)
        assert field in r.text


def test_documents_list_and_unknown_id(client):
    docs = client.get("/api/documents").json()
    assert len(docs) == 5 and list(docs[0]) == ["doc_id", "title", "length", "url", "published", "source", "author"]
    r = client.get("/api/documents/no-such-doc")
    assert r.status_code == 404 and r.json()["status_code"] == 404


def test_openapi_schema_is_served(client):
    r = client.get("/schema/openapi.json")
    assert r.status_code == 200 and "/api/ask" in r.json()["paths"]


def test_chat_page_is_served_and_uses_only_local_assets(client):
    r = client.get("/")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    html = r.text
    refs = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert refs, "the page should load its script and style"
    for ref in refs:
        assert not re.match(r"^(https?:)?//", ref), f"external asset {ref}"
        if ref.startswith("/static/"):
            assert client.get(ref).status_code == 200, ref
    assert "innerHTML" not in client.get("/static/app.js").text.replace("// innerHTML", "")


def test_question_of_exactly_1000_characters_is_accepted(client):
    q = ("Where was the conference held? " * 40)[:1000]
    r = client.post("/api/ask", json={"question": q, "top_k": 1})
    assert r.status_code == 200, r.text


def test_search_defaults_come_from_the_settings(pipeline, settings):
    """``GET /api/search`` without ``k`` or ``mode`` uses QA_TOP_K and QA_RETRIEVAL_MODE, as /api/ask does."""
    p = make_pipeline(pipeline.retriever, pipeline.reader, top_k=2, mode="lexical")
    with TestClient(app=create_app(settings, p)) as c:
        body = c.get("/api/search", params={"q": "coordination conference 2018"}).json()
        assert body["mode"] == "lexical" and len(body["results"]) == 2
        assert all(r["dense_score"] is None for r in body["results"])  # lexical only
        assert len(c.get("/api/search", params={"q": "conference", "k": 4, "mode": "dense"}).json()["results"]) == 4


def test_the_wire_json_of_an_answer_is_the_fixed_contract(client, pipeline):
    """The response is the wire type, apart from the domain one, and its JSON is field for field the contract:
    the same bytes as the domain result encoded directly."""
    import msgspec

    from qa.web.schemas import AskResponse, encode

    result = make_pipeline(pipeline.retriever, make_reader(pipeline.reader.model_dir, no_answer_threshold=-1e6)
                           ).ask("Who attended the conference?")
    assert result.answers and encode(AskResponse.of(result)) == msgspec.json.encode(result)
    body = client.post("/api/ask", json={"question": "Who attended the conference?"}).json()
    assert list(body) == ["question", "answers", "took_ms"]
    assert list(body["answers"][0]) == ["text", "score", "citations"]
    # the contract's fields first and in order; the news metadata only added after them
    assert list(body["answers"][0]["citations"][0]) == ["doc_id", "title", "start", "end", "passage", "passage_start",
                                                        "url", "published", "source", "author", "page", "other_sources"]


def test_an_unusable_index_or_reader_is_a_json_503_naming_the_problem(pipeline, settings, monkeypatch):
    from qa.search.store import IndexNotFound

    p = make_pipeline(pipeline.retriever, pipeline.reader)

    def gone(*args, **kwargs):
        raise IndexNotFound("no index in /somewhere: build one with `qa ingest` first")

    monkeypatch.setattr(p.retriever, "search", gone)
    with TestClient(app=create_app(settings, p)) as c:
        r = c.post("/api/ask", json={"question": "Who attended?"})
        assert r.status_code == 503 and r.json() == {"status_code": 503, "detail": "no index in /somewhere: build one with `qa ingest` first"}


def test_the_app_loads_its_models_in_the_lifespan_when_none_are_given(settings):
    with TestClient(app=create_app(settings.model_copy(update={"reader_runtime": "torch"}))) as c:
        assert c.get("/health").json()["documents"] == 5
        assert c.post("/api/ask", json={"question": "Who attended?"}).status_code == 200


def test_chat_page_carries_the_services_limits_and_default(client, settings):
    from qa.settings import MAX_QUESTION_CHARS, MAX_TOP_K

    html = client.get("/").text
    assert "{{" not in html
    assert f'maxlength="{MAX_QUESTION_CHARS}"' in html and f'max="{MAX_TOP_K}"' in html
    assert f'id="top-k" type="number" min="1" max="{MAX_TOP_K}" step="1" value="{settings.top_k}"' in html
