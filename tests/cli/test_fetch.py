"""``qa ingest URL...`` and ``qa ingest --feed URL --watch`` against a real local HTTP server (http.server in
a thread): pages, feeds and PDFs fetched and read, each failure said with its URL, and a feed polled with
conditional GET (qa/cli/fetch.py)."""

import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from typer.testing import CliRunner

from qa.cli.fetch import Fetcher, FetchFailed, watch_feeds
from qa.cli.main import app
from qa.search.store import PassageIndex
from qa.settings import Settings

from conftest import REPO

sys.path.insert(0, str(REPO / "bench"))
from news_formats import SITE, news_page, pdf_of, rss_feed, seed_articles  # noqa: E402

A = seed_articles()
LIMIT = 200_000  # QA_MAX_CONTENT_BYTES in these tests
PAGE, PDF = news_page(A[0]).encode(), pdf_of(A[1:2])  # made once: a busy machine must not make a fetch time out
TIMEOUT = 3  # QA_FETCH_TIMEOUT_SECONDS in these tests; /slow answers after three times that


class Site(BaseHTTPRequestHandler):
    feed_version = 1
    feed_requests: list[dict] = []

    def log_message(self, *args):  # quiet
        pass

    def _send(self, status, body=b"", ctype="text/html; charset=utf-8", headers=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # noqa: N802
        path = self.path
        if path == "/page.html":
            return self._send(200, PAGE)
        if path == "/moved":
            return self._send(302, headers=[("Location", "/page.html")])
        if path == "/loop":
            return self._send(302, headers=[("Location", "/loop")])
        if path == "/digest":
            return self._send(200, PDF, "application/octet-stream")
        if path == "/fake.pdf":
            return self._send(200, b"<html><body><p>Not a PDF at all.</p></body></html>", "application/pdf")
        if path == "/nul.txt":
            return self._send(200, b"\x00\x01binary" * 50, "text/plain")
        if path == "/big.html":
            return self._send(200, b"<p>" + b"word " * LIMIT + b"</p>")
        if path == "/chunked-big":  # no Content-Length: the limit must hold while reading
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            for _ in range(50):
                self.wfile.write(b"<p>" + b"word " * 1000 + b"</p>")
            self.close_connection = True
            return
        if path == "/slow":
            time.sleep(3 * TIMEOUT)
            return self._send(200, b"<p>late</p>")
        if path == "/feed.xml":
            etag = f'"v{Site.feed_version}"'
            Site.feed_requests.append({"if-none-match": self.headers.get("If-None-Match"),
                                       "if-modified-since": self.headers.get("If-Modified-Since")})
            if self.headers.get("If-None-Match") == etag:
                Site.feed_version += 1  # a new entry is published after this poll
                return self._send(304, ctype="application/rss+xml")
            body = rss_feed(A[2:2 + Site.feed_version]).encode()
            return self._send(200, body, "application/rss+xml",
                              [("ETag", etag), ("Last-Modified", "Mon, 10 Jul 2023 08:30:00 GMT")])
        return self._send(404, b"not here")


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):  # a client that gave up (over the limit, too slow): expected
        pass


@pytest.fixture(scope="module")
def site():
    server = Server(("127.0.0.1", 0), Site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def limits(monkeypatch):
    monkeypatch.setenv("QA_MAX_CONTENT_BYTES", str(LIMIT))
    monkeypatch.setenv("QA_FETCH_TIMEOUT_SECONDS", str(TIMEOUT))
    monkeypatch.setenv("QA_FETCH_MAX_REDIRECTS", "3")


def test_ingest_fetches_pages_and_pdfs_says_each_failure_and_takes_the_rest(site, limits, tmp_path):
    urls = ["/moved", "/digest", "/fake.pdf", "/nul.txt", "/big.html", "/chunked-big", "/slow", "/loop", "/missing"]
    r = CliRunner().invoke(app, ["ingest", *(site + u for u in urls), "--index", str(tmp_path / "idx")])
    assert r.exit_code == 1, r.output
    assert "2 added" in r.output and "7 rejected" in r.output and "Traceback" not in r.output
    for url, reason in [("/fake.pdf", "not a PDF"), ("/nul.txt", "control characters"),
                        ("/big.html", "over the limit of 200,000 (QA_MAX_CONTENT_BYTES)"),
                        ("/chunked-big", "over the limit of 200,000"), ("/slow", f"no answer within {TIMEOUT} s"),
                        ("/loop", "more than 3 redirects"), ("/missing", "HTTP 404")]:
        line = next((x for x in r.output.splitlines() if x.startswith(f"rejected: {site}{url}: ")), "")
        assert reason in line, (url, r.output)
    docs = PassageIndex.load(tmp_path / "idx").documents
    page = docs["news.example.org_news_000_555c1164a5d21455.html"]  # named by its canonical URL, not the redirect
    assert (page.url, page.source, page.author) == (A[0].url, SITE, A[0].author)
    pdf = docs["127.0.0.1_digest"] if "127.0.0.1_digest" in docs else next(d for d in docs.values() if d.pages)
    assert pdf.url == f"{site}/digest" and pdf.pages


def test_a_url_that_is_not_http_is_refused_without_a_request():
    fetcher = Fetcher(1.0, 1000, 1)
    for url in ("file:///etc/passwd", "ftp://example.org/x", "http://"):
        with pytest.raises(FetchFailed, match="only http:// and https://"):
            fetcher.get(url)


def test_a_watched_feed_is_polled_with_conditional_get_and_its_new_entries_go_in(site, limits, tmp_path):
    Site.feed_version, Site.feed_requests = 1, []
    got = []
    watch_feeds(Settings(index_dir=tmp_path / "idx"), [f"{site}/feed.xml"], 0.05, got.append, rounds=3)
    # poll 1: the feed (one entry); poll 2: 304, not modified; poll 3: the feed again, with a new entry
    assert [r["if-none-match"] for r in Site.feed_requests] == [None, '"v1"', '"v1"']
    assert Site.feed_requests[1]["if-modified-since"] == "Mon, 10 Jul 2023 08:30:00 GMT"
    assert [[d.url for d in r.documents] for r in got] == [[A[2].url], [A[2].url, A[3].url]]


def test_ingest_of_a_feed_url_puts_in_each_entry(site, limits, tmp_path):
    Site.feed_version = 2
    r = CliRunner().invoke(app, ["ingest", "--feed", f"{site}/feed.xml", "--index", str(tmp_path / "idx")])
    assert r.exit_code == 0, r.output
    assert "2 added" in r.output
    docs = PassageIndex.load(tmp_path / "idx").documents
    assert {d.url for d in docs.values()} == {A[2].url, A[3].url} and {d.source for d in docs.values()} == {SITE}
