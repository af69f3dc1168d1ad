"""Loading articles from disk and cleaning scrape leftovers.

Accepts ``.txt``/``.md`` files (first non-empty line is the title; ``doc_id`` is the file stem, made safe),
``.jsonl`` files with one ``{"id", "title", "text"}`` object per line (``url``, ``published``, ``source``
and ``author`` optional), and news as published: web pages, RSS/Atom feeds and PDFs (``formats.py``; a
document known by its URL takes its id from it). A file, line or feed entry that cannot be taken (not
UTF-8, empty, binary, too big, malformed, not what it claims to be: ``hygiene.py``, ``formats.py``) is
reported by name and skipped; the rest of the batch still loads.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from qa.corpus import formats
from qa.corpus.hygiene import (BadDocument, check_id, check_meta_text, check_published, check_text, check_title,
                               check_url, parse_date, safe_id, url_id)
from qa.limits import MAX_TITLE_CHARS

SUFFIXES = tuple(formats.EXTENSIONS)  # what a folder is searched for

_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)\s*\|?")  # markdown image left by the scraper, e.g. "![]() |"
_COMMENT = re.compile(r"Comment \(\d+\)")
_DATA_URI = re.compile(r"data:[\w.+-]+/[\w.+-]+;base64,[A-Za-z0-9+/=]{64,}")  # an inline image: no words to read
_TRAILING_PIPE = re.compile(r"\s+\|\s*$")
META = ("url", "published", "source", "author")  # what a document may say about where and when it was published


@dataclass(frozen=True)
class Origin:
    """One place an article was published; every part optional."""

    url: str | None = None
    published: str | None = None  # ISO 8601 date or date-time, as the publisher gave it
    source: str | None = None  # site or feed name
    author: str | None = None

    def record(self) -> dict:
        return {k: getattr(self, k) for k in META if getattr(self, k) is not None}


@dataclass(frozen=True)
class Document:
    doc_id: str
    title: str
    text: str  # cleaned text; every offset the service reports points into this string
    url: str | None = None
    published: str | None = None  # ISO 8601 date or date-time
    source: str | None = None
    author: str | None = None
    other_sources: tuple[Origin, ...] = ()  # other places the identical text was published
    pages: tuple[int, ...] = ()  # a PDF's pages: where each starts in ``text`` (page n starts at pages[n-1])

    @property
    def origin(self) -> Origin:
        return Origin(self.url, self.published, self.source, self.author)

    @property
    def origins(self) -> list[Origin]:
        """Every place this text was published, this document's own first."""
        own = [self.origin] if self.origin.record() else []
        return own + list(self.other_sources)

    @property
    def day(self) -> str | None:
        """The calendar day it was published (as the publisher printed it), ``YYYY-MM-DD``."""
        return self.published[:10] if self.published else None

    def page_of(self, offset: int) -> int | None:
        """The page (from 1) that holds the character at ``offset``, for a document with pages."""
        if not self.pages:
            return None
        return max(1, bisect.bisect_right(self.pages, offset))

    @property
    def content_hash(self) -> str:
        """What decides "unchanged": title and text, and the metadata when there is any (a document
        without metadata hashes as it did before metadata existed)."""
        extra = self.record(text=False)
        for key in ("doc_id", "title"):
            extra.pop(key)
        tail = "\n" + json.dumps(extra, sort_keys=True, ensure_ascii=False) if extra else ""
        return hashlib.sha256(f"{self.title}\n{self.text}{tail}".encode()).hexdigest()

    @property
    def text_hash(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    def record(self, text: bool = True) -> dict:
        """As stored in a snapshot's ``documents.jsonl``: parts that are not there are left out."""
        out: dict = {"doc_id": self.doc_id, "title": self.title}
        if text:
            out["text"] = self.text
        out.update(self.origin.record())
        if self.other_sources:
            out["other_sources"] = [o.record() for o in self.other_sources]
        if self.pages:
            out["pages"] = list(self.pages)
        return out

    @classmethod
    def from_record(cls, d: dict) -> "Document":
        return cls(d["doc_id"], d["title"], d["text"], *(d.get(k) for k in META),
                   other_sources=tuple(Origin(**o) for o in d.get("other_sources", ())),
                   pages=tuple(d.get("pages", ())))

    def with_copy(self, other: "Document") -> "Document":
        """This document, with ``other`` (the same text published elsewhere) as one more source; a source
        with the same URL is replaced, one already here is not added twice. A document that said nothing of
        where it was published takes ``other``'s as its own."""
        new = other.origin
        if not new.record() or new == self.origin or new in self.other_sources:
            return self
        if not self.origin.record() or (new.url and new.url == self.url):  # it said nothing of itself, or is this copy
            return replace(self, url=new.url, published=new.published, source=new.source, author=new.author)
        same = [i for i, o in enumerate(self.other_sources) if new.url and o.url == new.url]
        if same:  # the same copy, described anew: in its place
            return replace(self, other_sources=tuple(new if i == same[0] else o
                                                     for i, o in enumerate(self.other_sources)))
        return replace(self, other_sources=self.other_sources + (new,))

    def without_url(self, url: str) -> "Document":
        """This document no longer listing ``url`` among its other sources."""
        return replace(self, other_sources=tuple(o for o in self.other_sources if o.url != url))


@dataclass
class LoadResult:
    documents: list[Document] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def clean_text(raw: str) -> str:
    """Remove scrape leftovers line by line; keep the wording otherwise as written."""
    lines = []
    for line in raw.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = _DATA_URI.sub("", line)
        line = _IMAGE.sub("", line)
        line = _COMMENT.sub("", line)
        line = _TRAILING_PIPE.sub("", line)
        line = line.rstrip()
        if line.strip() in {"Source", "|"}:
            line = ""
        if line.startswith(":"):
            line = line[1:].lstrip()
        lines.append(line)
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text)  # runs of blank lines left by removed leftovers
    return text.strip()


def make_document(doc_id: str, raw: str, title: str | None = None, **meta) -> Document:
    """A document from checked parts (``hygiene.py``); the title defaults to the first line of the text.
    ``meta``: ``url``, ``published``, ``source``, ``author``, ``pages`` as ``Document`` holds them."""
    text = clean_text(raw)
    if not text:
        raise BadDocument("no text after removing scrape leftovers")
    if not title:
        title = next(line.strip() for line in text.split("\n") if line.strip())
    return Document(doc_id=doc_id, title=title.strip(), text=text, **meta)


def check_meta(fields: dict) -> dict:
    """The metadata of a JSON object, checked: ``{"url", "published", "source", "author"}``, those given."""
    meta = {"url": check_url(fields.get("url")), "published": check_published(fields.get("published")),
            "source": check_meta_text(fields.get("source"), "source"),
            "author": check_meta_text(fields.get("author"), "author")}
    return {k: v for k, v in meta.items() if v is not None}


def document_from_fields(fields: object, max_bytes: int) -> Document:
    """A document from a JSON object ``{"id", "title"?, "text", "url"?, "published"?, "source"?, "author"?}``
    (a JSON line or an HTTP item). With a ``url`` the id may be left out: it is made from the URL."""
    if not isinstance(fields, dict):
        raise BadDocument(f"expected an object with 'id' and 'text', not {type(fields).__name__}")
    meta = check_meta(fields)
    missing = [k for k in ("id", "text") if k not in fields and not (k == "id" and "url" in meta)]
    if missing:
        raise BadDocument(f"missing {' and '.join(repr(k) for k in missing)}")
    doc_id = check_id(fields["id"]) if "id" in fields else url_id(meta["url"])
    return make_document(doc_id, check_text(fields["text"], max_bytes), check_title(fields.get("title")), **meta)


def documents_from_item(fields: object, max_bytes: int, max_content_bytes: int
                        ) -> tuple[list[Document], list[tuple[str, str]]]:
    """The documents of one HTTP item: ``{"id", "title"?, "text", ...}`` is one document (``document_from_fields``);
    ``{"content", "content_type", "id"?, "title"?, "url"?, "published"?, "source"?, "author"?}`` is a page, a
    feed or a PDF as published (a PDF's content in base64), read by ``documents_from_content`` with the
    given parts on top. Returns the documents and the feed entries refused; ``BadDocument`` refuses the item."""
    if not isinstance(fields, dict) or "content" not in fields:
        return [document_from_fields(fields, max_bytes)], []
    if "text" in fields:
        raise BadDocument("give 'text' or 'content', not both")
    content, declared = fields["content"], fields.get("content_type")
    if not isinstance(declared, str) or not declared.strip():
        raise BadDocument("'content' needs its 'content_type': " + ", ".join(sorted(formats.CONTENT_TYPES)))
    claimed = formats.claimed_kind(content_type=declared)
    if claimed is None:
        raise BadDocument(f"cannot read content_type {declared[:80]!r}: send one of "
                          + ", ".join(sorted(formats.CONTENT_TYPES)))
    if not isinstance(content, str):
        raise BadDocument(f"'content' must be text (base64 for a PDF), not {type(content).__name__}")
    if claimed == "pdf":
        try:
            data = base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError):
            raise BadDocument("a PDF's 'content' must be base64") from None
    else:
        try:
            data = content.encode("utf-8")
        except UnicodeEncodeError:
            raise BadDocument("'content' holds characters that are not text (lone surrogates)") from None
    if len(data) > max_content_bytes:
        raise BadDocument(f"the content is {len(data):,} bytes, over the limit of {max_content_bytes:,} "
                          "(QA_MAX_CONTENT_BYTES)")
    if not data.strip():
        raise BadDocument("'content' is empty")
    given = {"id": check_id(fields["id"]) if "id" in fields else None, "title": check_title(fields.get("title")),
             **check_meta(fields)}
    return documents_from_content(data, formats.kind_of(data, claimed), max_bytes,
                                  {k: v for k, v in given.items() if v is not None})


def documents_from_content(data: bytes, kind: str, max_bytes: int, given: dict | None = None,
                           fallback_id: str | None = None, location: str | None = None
                           ) -> tuple[list[Document], list[tuple[str, str]]]:
    """The articles in published content of ``kind`` (``formats.kind_of``): a page, a PDF or plain text is
    one document, a feed one per entry. Returns them and, for a feed, the entries refused as
    ``(entry, reason)``; content that cannot be read at all raises ``BadDocument``.

    ``given`` (checked metadata, an ``id`` and a ``title``) overrides what the content says of itself;
    ``location`` is where it was fetched from (a page's own canonical URL wins over it). A document's id is
    the one given, else made from its URL, else ``fallback_id``.
    """
    given = dict(given or {})
    if kind == "text":
        text = check_text(_utf8(data), max_bytes)
        found = [formats.Extract(text, url=location)]
    elif kind == "html":
        found = [formats.extract_html(data, given.get("url") or location)]
    elif kind == "feed":
        found = formats.extract_feed(data, given.pop("url", None) or location)  # the feed's URL is no entry's
        for key in ("id", "title", "published", "author"):  # each entry has its own; a given source names the feed
            given.pop(key, None)
    elif kind == "pdf":
        found = [formats.extract_pdf(data)]
        found[0].url = location
    else:
        raise BadDocument(f"cannot read {formats.NAMES.get(kind, kind)} here")
    docs, refused = [], []
    for n, part in enumerate(found):
        try:
            docs.append(_document_of(part, given, max_bytes, fallback_id if len(found) == 1 else None))
        except BadDocument as e:
            if len(found) == 1:
                raise
            refused.append((part.label or f"entry {n + 1}", str(e)))
    return docs, refused


def _id_for(given: dict, url: str | None, fallback_id: str | None) -> str:
    if given.get("id"):
        return given["id"]
    if url:
        return url_id(url)
    if fallback_id:
        return fallback_id
    raise BadDocument("no id: give an 'id', or a 'url' (or content that names its own URL)")


def _document_of(part: formats.Extract, given: dict, max_bytes: int, fallback_id: str | None) -> Document:
    """A document from what ``formats`` found, with what was given on top; a found URL or date that is
    not one is refused like a given one."""
    meta = {"url": given.get("url") or check_url(part.url),
            "published": given.get("published") or _found_date(part.published),
            "source": given.get("source") or check_meta_text(part.source, "source"),
            "author": given.get("author") or check_meta_text(part.author, "author")}
    meta = {k: v for k, v in meta.items() if v is not None}
    doc_id = _id_for(given, meta.get("url"), fallback_id)
    title = given.get("title") or check_title((part.title or "")[:MAX_TITLE_CHARS] or None)
    if not part.pages:
        if not part.text.strip():
            raise BadDocument("no text: the entry has neither content nor a summary" if part.label else "no text")
        return make_document(doc_id, check_text(part.text, max_bytes), title, **meta)
    text, starts = "", []
    for page in part.pages:  # cleaned page by page, so that each page's start is known in the cleaned text
        clean = clean_text(check_text(page, max_bytes))
        if text and clean:
            text += " " if _runs_on(text, clean) else "\n"
        starts.append(len(text))
        text += clean
    check_text(text, max_bytes)
    return make_document(doc_id, text, title, pages=tuple(starts), **meta)


def _runs_on(before: str, after: str) -> bool:
    """Whether a page's text goes on with the next page's in the same sentence (it ends without a stop)."""
    return not before.rstrip().endswith((".", "!", "?", ":", ";", '"', "”", "’", ")")) and after[:1].isalnum()


def _found_date(raw: str | None) -> str | None:
    if not raw:
        return None
    parsed = parse_date(raw.strip())
    if parsed is None:
        raise BadDocument(f"its date is not a date: {raw.strip()[:60]!r}")
    return parsed


def _utf8(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BadDocument(f"not UTF-8 text ({e.reason} at byte {e.start})") from None


def load_file(path: Path, max_bytes: int, max_content_bytes: int | None = None) -> LoadResult:
    """The articles in one file, by its content and extension: ``.txt``/``.md``, ``.jsonl``, a web page
    (``.html``), a feed (``.xml``, ``.rss``, ``.atom``) or a PDF. A page, feed or PDF may be up to
    ``max_content_bytes`` (default ``max_bytes``) as published; every text, up to ``max_bytes``."""
    res = LoadResult()
    try:
        claimed = formats.claimed_kind(path.name)
        limit, what = (max_bytes, "QA_MAX_DOCUMENT_BYTES") if claimed in (None, "text") else (
            max_content_bytes or max_bytes, "QA_MAX_CONTENT_BYTES")
        size = path.stat().st_size
        if size > limit and claimed != "jsonl":  # a JSON-lines file is checked line by line
            raise BadDocument(f"{size:,} bytes, over the limit of {limit:,} ({what})")
        data = path.read_bytes()
        if not data.strip():
            raise BadDocument("empty file")
        kind = formats.kind_of(data, claimed)
        if kind == "jsonl":
            for n, line in enumerate(_utf8(data).splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    res.documents.append(document_from_fields(json.loads(line), max_bytes))
                except json.JSONDecodeError as e:
                    res.errors.append(f"{path}: line {n} skipped: not JSON ({e.msg})")
                except BadDocument as e:
                    res.errors.append(f"{path}: line {n} skipped: {e}")
        else:
            docs, refused = documents_from_content(data, kind, max_bytes, fallback_id=safe_id(path.stem))
            res.documents.extend(docs)
            res.errors.extend(f"{path}: {label} skipped: {reason}" for label, reason in refused)
    except (OSError, BadDocument) as e:
        res.errors.append(f"{path}: skipped: {e}")
    return res


def find_files(paths: list[Path]) -> tuple[list[Path], list[str]]:
    """The article files under ``paths``, and a message for each path that does not exist."""
    files: list[Path] = []
    missing: list[str] = []
    for p in paths:
        if p.is_dir():
            files.extend(sorted(f for f in p.rglob("*") if f.is_file() and f.suffix in SUFFIXES))
        elif p.is_file():
            files.append(p)
        else:
            missing.append(f"{p}: skipped: no such file or folder")
    return files, missing


def load_documents(paths: list[Path], max_bytes: int, max_content_bytes: int | None = None) -> LoadResult:
    """Load every article under ``paths``; what cannot be loaded is reported and the rest still loads.
    Duplicate ids keep the first."""
    files, missing = find_files(paths)
    return combine([(f, load_file(f, max_bytes, max_content_bytes)) for f in files], missing)


def combine(parts: list[tuple[Path, LoadResult]], errors: list[str]) -> LoadResult:
    """Files loaded one by one (here or on other machines), as one result in file order: a document id
    seen in an earlier file wins, and the later one is reported."""
    res = LoadResult(errors=list(errors))
    seen: set[str] = set()
    for f, part in parts:
        res.errors.extend(part.errors)
        for d in part.documents:
            if d.doc_id in seen:
                res.errors.append(f"{f}: skipped duplicate document id {d.doc_id!r}")
                continue
            seen.add(d.doc_id)
            res.documents.append(d)
    return res
