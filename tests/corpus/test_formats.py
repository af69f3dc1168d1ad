"""News as published, read into documents: web pages, RSS and Atom feeds, PDFs, and what is refused
(qa/corpus/formats.py, qa/corpus/documents.py). The pages, feeds and PDF are made from the seed
articles (bench/news_formats.py)."""

import base64
import json
import sys

import pytest

from qa.corpus import formats
from qa.corpus.documents import clean_text, documents_from_item, load_documents
from qa.corpus.hygiene import BadDocument

from conftest import MAX_BYTES, REPO

sys.path.insert(0, str(REPO / "bench"))
from news_formats import (COMMENTS, COOKIES, FOOTER, NAVIGATION, RELATED, SITE, atom_feed, news_page, pdf_of,  # noqa: E402
                          rss_feed, scanned_pdf, seed_articles)

ARTICLES = seed_articles()
CONTENT = 20_000_000


def _load(path, max_content=CONTENT):
    return load_documents([path], MAX_BYTES, max_content)


def paragraphs(a) -> list[str]:
    """An article's paragraphs as any loader keeps them: scrape leftovers ("Comment (0)") cleaned away."""
    return [line for line in clean_text(a.text).split("\n")[1:] if line]


@pytest.fixture(scope="module")
def article():
    return ARTICLES[0]


def test_a_news_page_keeps_the_article_and_its_metadata_and_drops_the_boilerplate(tmp_path, article):
    (tmp_path / "page.html").write_text(news_page(article))
    res = _load(tmp_path / "page.html")
    assert res.errors == []
    [doc] = res.documents
    assert doc.title == article.title and doc.text.split("\n")[0] == article.title
    assert (doc.url, doc.published[:10], doc.source, doc.author) == (article.url, "2023-07-10", SITE, article.author)
    assert doc.doc_id == "news.example.org_news_000_555c1164a5d21455.html"  # from its canonical URL
    for p in paragraphs(article):
        assert p in doc.text
    for junk in [COOKIES, RELATED[0], COMMENTS[0], FOOTER, "Photo: Le Minh", "Accept all"]:
        assert junk not in doc.text, junk
    assert not any(line.strip() in NAVIGATION for line in doc.text.split("\n"))


@pytest.mark.parametrize("make", [rss_feed, atom_feed])
def test_each_feed_entry_is_a_document_with_its_link_date_source_and_full_text(tmp_path, make):
    (tmp_path / "feed.xml").write_text(make(ARTICLES[:2]))
    res = _load(tmp_path / "feed.xml")
    assert res.errors == [] and len(res.documents) == 2
    for doc, a in zip(res.documents, ARTICLES):
        assert (doc.url, doc.published, doc.source, doc.author) == (a.url, a.published, SITE, a.author)
        assert doc.title == a.title and all(p in doc.text for p in paragraphs(a))


def test_a_feed_without_full_content_gives_each_entry_its_summary(tmp_path):
    (tmp_path / "feed.rss").write_text(rss_feed(ARTICLES[:1], full=False))
    [doc] = _load(tmp_path / "feed.rss").documents
    assert doc.text == f"{ARTICLES[0].title}\n{ARTICLES[0].paragraphs[0]}"


def test_a_feed_entry_without_text_or_with_a_date_that_is_not_one_is_refused_and_the_rest_go_in(tmp_path):
    good = ARTICLES[0]
    xml = rss_feed([good]).replace("</channel>", """<item><title>Photo gallery</title>
<link>https://news.example.org/gallery/1.html</link><pubDate>Mon, 10 Jul 2023 09:00:00 +0700</pubDate></item>
<item><title>Flood update</title><link>https://news.example.org/news/flood.html</link>
<pubDate>the day before yesterday</pubDate><description>Water rose in Hue.</description></item></channel>""")
    (tmp_path / "feed.xml").write_text(xml)
    res = _load(tmp_path / "feed.xml")
    assert [d.url for d in res.documents] == [good.url]
    text = "\n".join(res.errors)
    assert "gallery/1.html skipped: no text: the entry has neither content nor a summary" in text
    assert "news/flood.html skipped: its date is not a date: 'the day before yesterday'" in text


def test_one_pdf_keeps_its_pages_and_every_article_in_it(tmp_path):
    (tmp_path / "digest.pdf").write_bytes(pdf_of(ARTICLES))
    res = _load(tmp_path / "digest.pdf")
    assert res.errors == []
    [doc] = res.documents
    assert doc.doc_id == "digest" and doc.title == "Military news digest" and doc.author == SITE
    assert doc.published == "2023-07-12T09:00:00+00:00" and len(doc.pages) > 5 and doc.pages[0] == 0
    for a in ARTICLES:
        assert a.title in doc.text
        for p in paragraphs(a):  # wrapped lines joined again: each paragraph whole, on one line
            assert " ".join(p.split()) in doc.text, p[:60]  # (a PDF has no no-break spaces to give back)
    where = doc.text.index(paragraphs(ARTICLES[-1])[-1])
    assert doc.page_of(where) == len(doc.pages) and doc.page_of(0) == 1
    assert doc.page_of(doc.pages[1]) == 2 and doc.page_of(doc.pages[1] - 1) == 1


@pytest.mark.parametrize("name, data, reason", [
    ("scan.pdf", "scanned", "no text in the PDF's 1 page(s): a scanned PDF"),
    ("broken.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF",
     "malformed PDF"),
    ("cut.pdf", "truncated", "malformed PDF"),
    ("notes.pdf", b"Meeting notes: the harbour reopens on Monday.", "not a PDF (no %PDF- header; it holds text)"),
    ("report.txt", "pdf", "it claims to be plain text but holds a PDF"),
    ("photo.html", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4,
     "it claims to be an HTML page but holds binary data"),
    ("data.txt", b"\x00\x01\x02binary\x00" * 20, "NUL or other control characters"),
    ("feed.xml", b"<?xml version='1.0'?><rss version='2.0'><channel><title>T</title><item><title>A</item></channel>",
     "malformed XML"),
    ("feed.rss", b"<!DOCTYPE html><html><body><p>Not a feed.</p></body></html>",
     "it claims to be an RSS or Atom feed but holds an HTML page"),
    ("empty-feed.atom", b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>T</title></feed>',
     "the feed has no entries"),
    ("shell.html", b"<html><head><title>App</title><script src='/app.js'></script></head><body><div id='root'>"
     b"</div></body></html>", "no article text found in the HTML page"),  # a page that its scripts would fill
    ("tags.html", b"<<<>>><</p><div <p>>", "no article text found in the HTML page"),
])
def test_bad_files_are_refused_with_their_reason_and_the_rest_of_the_batch_loads(tmp_path, name, data, reason):
    if data == "scanned":
        data = scanned_pdf()
    elif data == "truncated":
        data = pdf_of(ARTICLES[:1])[:1500]
    elif data == "pdf":
        data = pdf_of(ARTICLES[:1])
    (tmp_path / name).write_bytes(data)
    (tmp_path / "good.txt").write_text("Good news\nThe bridge opened.")
    res = load_documents([tmp_path], MAX_BYTES, CONTENT)
    assert [d.doc_id for d in res.documents] == ["good"]
    [error] = res.errors
    assert error.startswith(str(tmp_path / name)) and reason in error, error


def test_a_page_over_the_size_limit_is_refused_before_it_is_read(tmp_path, article):
    page = news_page(article)
    (tmp_path / "page.html").write_text(page)
    res = _load(tmp_path / "page.html", max_content=len(page.encode()) - 1)
    assert res.documents == [] and "over the limit" in res.errors[0] and "QA_MAX_CONTENT_BYTES" in res.errors[0]


def test_jsonl_lines_carry_metadata_and_a_date_that_is_not_a_date_is_refused(tmp_path):
    lines = [{"id": "a", "text": "Ferry news\nThe ferry left.", "url": "https://x.example/a", "published": "2024-03-03",
              "source": "Harbour Daily", "author": "T. Van"},
             {"id": "b", "text": "Other news\nRain.", "published": "March the third"},
             {"id": "c", "text": "Link\nText.", "url": "javascript:alert(1)"},
             {"url": "https://x.example/no-id", "text": "No id\nIts id comes from its URL."}]
    (tmp_path / "a.jsonl").write_text("\n".join(json.dumps(x) for x in lines))
    res = _load(tmp_path / "a.jsonl")
    docs = {d.doc_id: d for d in res.documents}
    assert set(docs) == {"a", "x.example_no-id"}
    assert (docs["a"].url, docs["a"].published, docs["a"].source, docs["a"].author) == (
        "https://x.example/a", "2024-03-03", "Harbour Daily", "T. Van")
    text = "\n".join(res.errors)
    assert "line 2 skipped: 'published' is not a date: 'March the third'" in text
    assert "line 3 skipped: 'url' must be an absolute http:// or https:// URL" in text


def test_http_items_send_content_with_its_type_and_what_they_give_overrides_what_it_says(article):
    docs, refused = documents_from_item({"content": news_page(article), "content_type": "text/html; charset=utf-8",
                                         "source": "Given Site", "id": "given-id"}, MAX_BYTES, CONTENT)
    assert refused == [] and docs[0].doc_id == "given-id" and docs[0].source == "Given Site"
    assert docs[0].url == article.url and docs[0].author == article.author
    pdf = base64.b64encode(pdf_of(ARTICLES[:1])).decode()
    [doc], _ = documents_from_item({"content": pdf, "content_type": "application/pdf", "url": "https://x.example/d.pdf"},
                                   MAX_BYTES, CONTENT)
    assert doc.doc_id == "x.example_d.pdf" and doc.pages and ARTICLES[0].paragraphs[0] in doc.text
    for item, reason in [
        ({"content": "<p>x</p>"}, "'content' needs its 'content_type'"),
        ({"content": "x", "content_type": "image/png"}, "cannot read content_type 'image/png'"),
        ({"content": "not base64!", "content_type": "application/pdf", "id": "p"}, "must be base64"),
        ({"content": base64.b64encode(b"hello").decode(), "content_type": "application/pdf", "id": "p"}, "not a PDF"),
        ({"content": pdf, "content_type": "application/pdf"}, "no id: give an 'id', or a 'url'"),
        ({"content": "x" * 2000, "content_type": "text/plain", "id": "big"}, "over the limit of 1,000"),
        ({"content": "<p>x</p>", "content_type": "text/html", "text": "y", "id": "both"}, "not both"),
    ]:
        with pytest.raises(BadDocument, match=reason):
            documents_from_item(item, MAX_BYTES, 1000 if item.get("id") == "big" else CONTENT)


@pytest.mark.parametrize("claimed, data, kind", [
    ("html", b"<?xml version='1.0'?><rss version='2.0'><channel></channel></rss>", "feed"),  # a feed served as a page
    (None, b"<!doctype html><html><body>x</body></html>", "html"),
    (None, b"\xef\xbb\xbf<?xml version='1.0'?>\n<feed xmlns='http://www.w3.org/2005/Atom'>", "feed"),
    (None, b"plain words", "text"),
    ("text", b"<html><body>a .txt that quotes markup stays text</body></html>", "text"),
])
def test_the_format_is_chosen_by_content_and_claim(claimed, data, kind):
    assert formats.kind_of(data, claimed) == kind


def test_claims_come_from_the_content_type_first_then_the_extension():
    assert formats.claimed_kind("a.PDF") == "pdf" and formats.claimed_kind("https://x.org/feed.rss?x=1") == "feed"
    assert formats.claimed_kind("a.html", "application/atom+xml; charset=utf-8") == "feed"
    assert formats.claimed_kind("noext") is None
