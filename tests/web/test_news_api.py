"""News over HTTP through the real app: pages, feeds and PDFs sent as published, their metadata on every
document, citation and search hit, and questions asked within a date range or a source
(qa/web/documents.py, app.py, schemas.py)."""

import base64
import sys

import pytest
from litestar.testing import TestClient
from pydantic import SecretStr

from qa.search.store import PassageIndex
from qa.web.app import create_app

from conftest import REPO, make_pipeline, make_reader

sys.path.insert(0, str(REPO / "bench"))
from news_formats import SITE, atom_feed, news_page, pdf_of, rss_feed, seed_articles  # noqa: E402

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
A = seed_articles()  # published 2023-07-10, 2022-12-22, 2022-06-05, 2021-11-17, 2021-05-01
DIGEST_URL = "https://news.example.org/digest.pdf"


@pytest.fixture(scope="module")
def news(settings, pipeline, tmp_path_factory):
    """The app over a copy of the seed index, with the seed articles sent again as a page, an RSS feed,
    an Atom feed and a PDF; every span is accepted (the tiny reader is random) so that answers exist."""
    import shutil

    index = tmp_path_factory.mktemp("news") / "index"
    shutil.copytree(settings.index_dir, index)
    app_settings = settings.model_copy(update={"index_dir": index, "api_token": SecretStr(TOKEN),
                                               "reader_runtime": "torch", "recent_margin": 1.0})
    # over the copy: writes go to the index the pipeline was loaded from, and the session's seed index is shared
    answering = make_pipeline(pipeline.retriever, make_reader(pipeline.reader.model_dir, no_answer_threshold=-1e6),
                              top_k=8, max_answers=8, recent_margin=1.0).with_index(PassageIndex.load(index))
    with TestClient(app=create_app(app_settings, answering)) as client:
        bad_feed = rss_feed(A[2:3]).replace("</channel>", "<item><title>Gallery</title><link>https://news.example.org/"
                                            "g.html</link></item><item><title>Odd date</title><link>https://news."
                                            "example.org/odd.html</link><pubDate>soon</pubDate><description>Text."
                                            "</description></item></channel>")
        body = {"documents": [
            {"content": news_page(A[0]), "content_type": "text/html; charset=utf-8"},
            {"content": bad_feed, "content_type": "application/rss+xml"},
            {"content": atom_feed(A[3:4]), "content_type": "application/atom+xml"},
            {"content": base64.b64encode(pdf_of([A[4], A[1]])).decode(), "content_type": "application/pdf",
             "url": DIGEST_URL, "source": "PDF Desk", "published": "2021-05-02"},
            {"content": "%PDF-1.7 not really", "content_type": "text/plain", "id": "fake-txt"},
            {"content": base64.b64encode(b"GIF89a...").decode(), "content_type": "application/pdf", "id": "gif"},
            {"content": "<rss><channel><item>", "content_type": "application/rss+xml", "id": "cut-feed"},
            {"id": "bad-date", "text": "Dated\nText.", "published": "2023-02-30"},
            {"content": news_page(A[1]), "content_type": "text/html", "published": "last week", "id": "x"},
        ]}
        r = client.post("/api/documents", json=body, headers=AUTH)
        assert r.status_code == 200, r.text
        assert PassageIndex.load(settings.index_dir).manifest.document_count == 5  # the shared seed index untouched
        yield client, r.json()


def test_pages_feeds_and_pdfs_go_in_and_each_bad_one_is_refused_with_its_reason(news):
    client, written = news
    page_id, feed_id, atom_id = (f"news.example.org_news_{a.stem}.html" for a in (A[0], A[2], A[3]))
    assert sorted(written["added"]) == sorted([page_id, feed_id, "news.example.org_digest.pdf"])
    # the Atom entry's text is the seed .txt file's, word for word: stored once, the seed now saying where it was published
    assert written["merged"] == [{"id": atom_id, "into": "003_a6d69e29b11ebe8e"}]
    seed = client.get("/api/documents/003_a6d69e29b11ebe8e").json()
    assert (seed["url"], seed["published"], seed["source"]) == (A[3].url, A[3].published, SITE)
    reasons = {x["id"]: x["reason"] for x in written["rejected"]}
    assert "neither content nor a summary" in reasons["https://news.example.org/g.html"]
    assert "its date is not a date: 'soon'" in reasons["https://news.example.org/odd.html"]
    assert "claims to be plain text but holds a PDF" in reasons["fake-txt"]
    assert "not a PDF" in reasons["gif"] and "malformed XML" in reasons["cut-feed"]
    assert "'published' is not a date" in reasons["bad-date"] and "'published' is not a date" in reasons["x"]
    assert len(client.get("/api/documents").json()) == 5 + 3  # nothing half-written
    doc = client.get(f"/api/documents/{page_id}").json()
    assert (doc["url"], doc["published"], doc["source"], doc["author"]) == (A[0].url, "2023-07-10", SITE, A[0].author)
    listed = {d["doc_id"]: d for d in client.get("/api/documents").json()}
    assert listed[feed_id]["published"] == A[2].published and listed[feed_id]["source"] == SITE
    assert listed["004_e78e7126cb0131b0"]["url"] is None  # the .txt seeds say nothing of where they were published
    pdf = client.get("/api/documents/news.example.org_digest.pdf").json()
    assert (pdf["url"], pdf["source"], pdf["published"]) == (DIGEST_URL, "PDF Desk", "2021-05-02")
    assert pdf["pages"][0] == 0 and pdf["other_sources"] == []
    sources = client.get("/api/sources").json()
    assert sources == [{"source": SITE, "documents": 3}, {"source": "PDF Desk", "documents": 1}]


def test_every_citation_and_search_hit_says_where_and_when_its_article_was_published(news):
    client, _ = news
    body = client.post("/api/ask", json={"question": "Who chaired the conference?", "top_k": 20}).json()
    cites = [c for a in body["answers"] for c in a["citations"]]
    assert cites
    for c in cites:
        doc = client.get(f"/api/documents/{c['doc_id']}").json()
        assert (c["url"], c["published"], c["source"], c["author"]) == (
            doc["url"], doc["published"], doc["source"], doc["author"])
        assert c["page"] is None if not doc["pages"] else 1 <= c["page"] <= len(doc["pages"])
    hits = client.get("/api/search", params={"q": "military region conference", "k": 50}).json()["results"]
    assert {h["source"] for h in hits} == {None, SITE, "PDF Desk"}
    pages = client.get("/api/documents/news.example.org_digest.pdf").json()["pages"]
    in_pdf = [h for h in hits if h["source"] == "PDF Desk"]
    assert in_pdf and all(h["page"] == sum(1 for p in pages if p <= h["start"]) for h in in_pdf)
    assert all(h["page"] is None for h in hits if h["source"] != "PDF Desk")


def test_search_and_ask_read_only_inside_a_date_range_or_a_source(news):
    client, _ = news
    q = {"q": "military region conference", "k": 10}
    inside = client.get("/api/search", params={**q, "since": "2022-01-01", "until": "2022-12-31"}).json()["results"]
    assert inside and {h["published"][:10] for h in inside} <= {"2022-12-22", "2022-06-05"}
    both = client.get("/api/search", params=[("q", q["q"]), ("k", 10), ("source", "pdf desk"), ("source", SITE)]).json()
    assert {h["source"] for h in both["results"]} == {SITE, "PDF Desk"}
    body = client.post("/api/ask", json={"question": "Who attended the conference?", "top_k": 10,
                                         "since": "2021-01-01", "until": "2021-12-31", "source": ["PDF Desk"]}).json()
    cites = [c for a in body["answers"] for c in a["citations"]]
    assert cites and {c["doc_id"] for c in cites} == {"news.example.org_digest.pdf"}
    later = client.post("/api/ask", json={"question": "Who attended the conference?", "since": "2030-01-01"})
    assert later.status_code == 200 and later.json()["answers"] == []


@pytest.mark.parametrize("params, key", [({"since": "2023-02-30"}, "since"), ({"until": "July 2023"}, "until")])
def test_a_date_that_is_not_a_date_is_a_400_naming_it(news, params, key):
    client, _ = news
    r = client.get("/api/search", params={"q": "conference", **params})
    assert r.status_code == 400 and r.json()["extra"][0]["key"] == key, r.text
    r = client.post("/api/ask", json={"question": "Who attended?", **params})
    assert r.status_code == 400 and key in r.json()["detail"], r.text


def test_since_after_until_is_an_empty_range_that_finds_nothing(news):
    client, _ = news
    empty = {"since": "2023-05-01", "until": "2023-04-01"}
    r = client.get("/api/search", params={"q": "conference", **empty})
    assert r.status_code == 200 and r.json()["results"] == [], r.text
    assert client.get("/api/search", params={"q": "conference"}).json()["results"]  # unfiltered, it finds some
    r = client.post("/api/ask", json={"question": "Who attended?", **empty})
    assert r.status_code == 200 and r.json()["answers"] == [], r.text
    for bad in ({"since": 20230101}, {"source": [1, 2]}, {"order": "newest"}, {"source": ""}):
        assert client.post("/api/ask", json={"question": "Who attended?", **bad}).status_code == 400, bad


def test_order_recent_puts_close_answers_from_newer_articles_first(news):
    client, _ = news  # recent_margin 1.0 here: every answer counts as close
    body = client.post("/api/ask", json={"question": "Who attended the conference?", "top_k": 20, "max_answers": 8,
                                         "order": "recent", "source": [SITE, "PDF Desk"]}).json()
    days = [max(c["published"] for c in a["citations"]) for a in body["answers"]]
    assert len(days) >= 2 and days == sorted(days, reverse=True)
    by_score = client.post("/api/ask", json={"question": "Who attended the conference?", "top_k": 20, "max_answers": 8,
                                             "source": [SITE, "PDF Desk"]}).json()
    scores = [a["score"] for a in by_score["answers"]]
    assert scores == sorted(scores, reverse=True)
