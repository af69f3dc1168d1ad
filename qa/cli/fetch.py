"""``qa ingest URL...`` and ``qa ingest --feed URL --watch``: pages and feeds fetched over HTTP(S), on the
command line only (the HTTP API never fetches a URL, so the service cannot be made to send requests).

Every fetch is bounded: a time-out for connecting and for each read, a limited number of redirects, and
no more than ``QA_MAX_CONTENT_BYTES`` read (the body is read in pieces and dropped past the limit, after
decompression). A feed is polled with conditional GET (``ETag``, ``Last-Modified``), so an unchanged feed
costs a 304. Each failure is one line that says what went wrong with which URL.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import typer

from qa.corpus import formats
from qa.corpus.documents import LoadResult, combine, documents_from_content
from qa.corpus.hygiene import BadDocument
from qa.settings import Settings

ACCEPT = ("text/html, application/xhtml+xml, application/rss+xml, application/atom+xml, application/pdf, "
          "application/xml;q=0.9, text/xml;q=0.9, text/plain;q=0.8, */*;q=0.5")
_VAGUE = {"text/plain", "application/octet-stream", "binary/octet-stream", ""}  # says nothing: the content decides


class FetchFailed(Exception):
    """A URL that could not be fetched; the message says why."""


def is_url(text: str) -> bool:
    return text.lower().startswith(("http://", "https://"))


@dataclass
class Fetched:
    url: str  # after redirects
    data: bytes
    content_type: str
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False  # a conditional GET answered 304

    def claimed(self) -> str | None:
        """What the response says it is: its content type, unless that says nothing, then the URL's extension."""
        media = self.content_type.split(";")[0].strip().lower()
        return formats.claimed_kind(name=self.url, content_type=None if media in _VAGUE else media)


class Fetcher:
    def __init__(self, timeout: float, max_bytes: int, max_redirects: int, agent: str = "qa-news ingest") -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self.client = httpx.Client(timeout=timeout, follow_redirects=True, max_redirects=max_redirects,
                                   headers={"User-Agent": agent, "Accept": ACCEPT}, trust_env=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> "Fetcher":
        return cls(settings.fetch_timeout_seconds, settings.max_content_bytes, settings.fetch_max_redirects)

    def close(self) -> None:
        self.client.close()

    def get(self, url: str, etag: str | None = None, last_modified: str | None = None) -> Fetched:
        if not is_url(url) or not urlsplit(url).hostname:
            raise FetchFailed("only http:// and https:// URLs are fetched")
        headers = {k: v for k, v in (("If-None-Match", etag), ("If-Modified-Since", last_modified)) if v}
        try:
            with self.client.stream("GET", url, headers=headers) as r:
                final = str(r.url)
                if r.status_code == 304:
                    return Fetched(final, b"", "", etag, last_modified, not_modified=True)
                if r.status_code >= 400:
                    raise FetchFailed(f"HTTP {r.status_code} {r.reason_phrase}".rstrip())
                declared = r.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > self.max_bytes:
                    raise FetchFailed(self._too_big(int(declared)))
                body = bytearray()
                for piece in r.iter_bytes():
                    body += piece
                    if len(body) > self.max_bytes:
                        raise FetchFailed(self._too_big(None))
                return Fetched(final, bytes(body), r.headers.get("content-type", ""), r.headers.get("etag"),
                               r.headers.get("last-modified"))
        except httpx.TooManyRedirects:
            raise FetchFailed(f"more than {self.max_redirects} redirects (QA_FETCH_MAX_REDIRECTS)") from None
        except httpx.TimeoutException:
            raise FetchFailed(f"no answer within {self.timeout:g} s (QA_FETCH_TIMEOUT_SECONDS)") from None
        except httpx.HTTPError as e:
            raise FetchFailed(f"{type(e).__name__}: {str(e)[:200] or 'the request failed'}") from None

    def _too_big(self, size: int | None) -> str:
        said = f"{size:,} bytes" if size is not None else "more bytes than allowed"
        return f"{said}, over the limit of {self.max_bytes:,} (QA_MAX_CONTENT_BYTES)"


def documents_at(fetched: Fetched, max_bytes: int) -> tuple[list, list[tuple[str, str]]]:
    """The documents in a fetched page, feed or PDF (``BadDocument`` when it cannot be read)."""
    if not fetched.data.strip():
        raise BadDocument("the response is empty")
    kind = formats.kind_of(fetched.data, fetched.claimed())
    if kind == "jsonl":
        raise BadDocument("JSON lines are read from files only")
    return documents_from_content(fetched.data, kind, max_bytes, location=fetched.url)


def load_urls(urls: list[str], fetcher: Fetcher, max_bytes: int) -> LoadResult:
    """What ``load_documents`` is for files, for URLs: each fetched and read; what fails is reported by URL."""
    parts = []
    for url in urls:
        res = LoadResult()
        try:
            docs, refused = documents_at(fetcher.get(url), max_bytes)
            res.documents.extend(docs)
            res.errors.extend(f"{url}: {label} skipped: {reason}" for label, reason in refused)
        except (FetchFailed, BadDocument) as e:
            res.errors.append(f"{url}: skipped: {e}")
        parts.append((url, res))
    return combine(parts, [])


def watch_feeds(settings: Settings, urls: list[str], interval: float, ingest: Callable[[LoadResult], object],
                rounds: int | None = None) -> None:
    """Poll each feed every ``interval`` seconds and ingest what it holds when it has changed (a 304 or the
    same ETag costs nothing; entries already in the index are reported unchanged and not embedded again),
    until SIGINT (Ctrl-C) or SIGTERM; ``rounds``: stop after that many polls (tests). A failed poll is
    said and the next one tried."""
    stop = threading.Event()
    # our own handlers: a shell starts background processes with SIGINT ignored, and a stop should let
    # the ingest under way finish its write
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    fetcher = Fetcher.from_settings(settings)
    seen: dict[str, tuple[str | None, str | None]] = {}  # feed -> (ETag, Last-Modified) of its last good poll
    typer.echo(f"watching {', '.join(urls)} every {interval:g} s (Ctrl-C to stop)")
    done = 0
    try:
        while not stop.is_set() and (rounds is None or done < rounds):
            for url in urls:
                etag, modified = seen.get(url, (None, None))
                try:
                    fetched = fetcher.get(url, etag, modified)
                    if fetched.not_modified:
                        typer.echo(f"{url}: not modified")
                        continue
                    if fetched.etag and fetched.etag == etag:  # a server that ignores If-None-Match
                        typer.echo(f"{url}: not modified")
                        continue
                    if formats.kind_of(fetched.data, fetched.claimed()) != "feed":
                        raise BadDocument("not an RSS or Atom feed")
                    docs, refused = documents_at(fetched, settings.max_document_bytes)
                except (FetchFailed, BadDocument) as e:
                    typer.secho(f"rejected: {url}: {e}", fg=typer.colors.YELLOW, err=True)
                    continue
                ingest(LoadResult(docs, [f"{url}: {label} skipped: {reason}" for label, reason in refused]))
                seen[url] = (fetched.etag, fetched.last_modified)
            done += 1
            if rounds is None or done < rounds:
                stop.wait(interval)
    finally:
        fetcher.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    typer.echo("stopped watching")
