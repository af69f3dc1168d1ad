"""Articles as they are published: web pages (trafilatura), RSS and Atom feeds (feedparser) and PDFs
(pypdf), read from bytes into text and what they say about themselves (title, URL, date, site, author).

What the bytes are is decided by their content and by what they claim to be (a file's extension, a
declared content type): a claim the content contradicts (a "PDF" that is not one, a ``.txt`` that holds a
PDF or binary data, a "feed" that is an HTML page) is refused with the reason. Nothing here fetches
anything: a URL is only a name and the base of relative links. ``documents.py`` makes documents of the
results.
"""

from __future__ import annotations

import io
import re
import statistics
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from qa.corpus.hygiene import BadDocument

# What a name's extension or a declared content type claims
EXTENSIONS = {".txt": "text", ".md": "text", ".jsonl": "jsonl", ".html": "html", ".htm": "html", ".xhtml": "html",
              ".rss": "feed", ".atom": "feed", ".xml": "feed", ".pdf": "pdf"}
CONTENT_TYPES = {"text/plain": "text", "text/markdown": "text", "text/html": "html", "application/xhtml+xml": "html",
                 "application/rss+xml": "feed", "application/atom+xml": "feed", "application/rdf+xml": "feed",
                 "application/xml": "feed", "text/xml": "feed", "application/feed+xml": "feed",
                 "application/pdf": "pdf"}
NAMES = {"text": "plain text", "jsonl": "JSON lines", "html": "an HTML page", "feed": "an RSS or Atom feed",
         "pdf": "a PDF"}

_FEED_ROOT = re.compile(rb"<(?:[\w-]+:)?(?:rss|feed|rdf)[\s>/]", re.IGNORECASE)
_HTML_ROOT = re.compile(rb"<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>]", re.IGNORECASE)
_TEXT_CONTROLS = set(range(32)) - {9, 10, 12, 13}


@dataclass
class Extract:
    """One article found in published content; every part but the text may be missing."""

    text: str
    title: str | None = None
    url: str | None = None  # as found: checked by the caller
    published: str | None = None  # as found: parsed by the caller
    source: str | None = None
    author: str | None = None
    pages: list[str] = field(default_factory=list)  # a PDF's text page by page (``text`` is then empty)
    label: str = ""  # how a message names it: a feed entry's link or number


def claimed_kind(name: str | None = None, content_type: str | None = None) -> str | None:
    """What a declared content type (first) or a file name's extension says the bytes are; None: it says nothing."""
    if content_type:
        media = content_type.split(";")[0].strip().lower()
        if media in CONTENT_TYPES:
            return CONTENT_TYPES[media]
        if media.endswith("+xml"):
            return "feed"
    if name:
        path = urlsplit(name).path if "://" in name else name
        dot = path.rfind(".")
        return EXTENSIONS.get(path[dot:].lower()) if dot >= 0 else None
    return None


def sniff(data: bytes) -> str | None:
    """What the bytes hold by their look: ``pdf``, ``binary``, ``feed``, ``html``, or None (text of no known markup)."""
    if b"%PDF-" in data[:1024]:  # the header may follow a little junk
        return "pdf"
    head = data[:8192]
    if b"\x00" in head or sum(b in _TEXT_CONTROLS for b in head) > len(head) // 100 + 2:
        return "binary"
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if _HTML_ROOT.search(start[:2048]):
        return "html"
    if start.startswith(b"<") and _FEED_ROOT.search(start):
        return "feed"
    return None


def kind_of(data: bytes, claimed: str | None) -> str:
    """The format to read ``data`` as, given what it claims to be; ``BadDocument`` when they disagree."""
    found = sniff(data)
    said = f"it claims to be {NAMES[claimed]}" if claimed else "it"
    if found == "pdf":
        if claimed not in (None, "pdf"):
            raise BadDocument(f"{said} but holds a PDF")
        return "pdf"
    if claimed == "pdf":
        what = {"html": "an HTML page", "feed": "XML", "binary": "binary data"}.get(found or "", "text")
        raise BadDocument(f"not a PDF (no %PDF- header; it holds {what})")
    if claimed in ("text", "jsonl"):
        return claimed  # binary data is refused by the text checks (not UTF-8, control characters)
    if found == "binary":
        raise BadDocument(f"{said} but holds binary data, not text" if claimed else "binary data, not text")
    if claimed == "feed" and found == "html":
        raise BadDocument(f"{said} but holds an HTML page")
    if claimed == "html":
        return "feed" if found == "feed" else "html"
    return found or claimed or "text"


# ---------------------------------------------------------------- web pages
def extract_html(data: bytes | str, url: str | None = None) -> Extract:
    """The article of a web page: its main text without navigation, ads, comments, image captions or
    banners, and its metadata. ``url``: where the page came from (the page's own canonical URL wins)."""
    import trafilatura

    try:
        found = trafilatura.bare_extraction(
            data, url=url, with_metadata=True, include_comments=False, include_images=False, include_tables=True,
            deduplicate=False, date_extraction_params={"extensive_search": False, "original_date": True})
    except Exception as e:  # lxml and the extractor's own errors on markup it cannot parse: the page is refused
        raise BadDocument(f"malformed HTML ({type(e).__name__}: {str(e)[:200]})") from None
    text = (found.text or "").strip() if found is not None else ""
    if not text:
        raise BadDocument("no article text found in the HTML page")
    title = found.title
    if title and found.sitename and title.strip().casefold() == found.sitename.strip().casefold():
        title = _page_title(data, found.sitename) or title  # "Headline - Site" cut to the site's name
    return Extract(_headed(text, title), title, found.url or url, found.date, found.sitename or found.hostname,
                   found.author)


_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def _page_title(data: bytes | str, site: str) -> str | None:
    """The page's <title> without the site's name before or after it."""
    from html import unescape

    head = data[:65536].decode("utf-8", errors="replace") if isinstance(data, bytes) else data[:65536]
    m = _TITLE.search(head)
    if not m:
        return None
    title = " ".join(unescape(m.group(1)).split())
    for sep in (" - ", " | ", " – ", " — ", " :: "):
        if title.endswith(sep + site):
            return title[: -len(sep + site)].strip() or None
        if title.startswith(site + sep):
            return title[len(site + sep):].strip() or None
    return None


def _headed(text: str, title: str | None) -> str:
    """The text led by its headline, as a ``.txt`` article is, so that the headline can answer too."""
    if title and not text.lstrip().startswith(title.strip()):
        return f"{title.strip()}\n{text}"
    return text


def fragment_text(html: str) -> str:
    """The text of an HTML fragment (a feed entry's content), paragraph by paragraph."""
    import trafilatura

    page = f"<html><body><article>{html}</article></body></html>"
    try:
        found = trafilatura.bare_extraction(page, favor_recall=True, include_comments=False, include_images=False,
                                            include_tables=True, deduplicate=False, with_metadata=False)
        text = (found.text or "").strip() if found is not None else ""
        return text or trafilatura.html2txt(page).strip()  # too short for the extractor: all of its text
    except Exception:  # markup that cannot be parsed gives no text: the entry is refused for that
        return ""


# ---------------------------------------------------------------- feeds
def extract_feed(data: bytes, url: str | None = None) -> list[Extract]:
    """One article per entry of an RSS or Atom feed: its text from the entry's full content where the feed
    carries it, else its summary (empty when it has neither: the caller refuses that entry)."""
    import feedparser
    from xml.sax import SAXException

    headers = {"content-location": url} if url else {}  # the base of relative links; nothing is fetched
    try:
        parsed = feedparser.parse(io.BytesIO(data), response_headers=headers, resolve_relative_uris=True,
                                  sanitize_html=True)
    except Exception as e:  # feedparser reports most problems in bozo_exception; anything else refuses the feed too
        raise BadDocument(f"malformed XML ({type(e).__name__}: {str(e)[:200]})") from None
    error = parsed.get("bozo_exception")
    if isinstance(error, SAXException):
        raise BadDocument(f"malformed XML: {error}")
    if not parsed.version:
        raise BadDocument("not an RSS or Atom feed (no <rss>, <feed> or <rdf:RDF> root)")
    if not parsed.entries:
        raise BadDocument("the feed has no entries")
    source = (parsed.feed.get("title") or "").strip() or _host(parsed.feed.get("link") or url)
    out = []
    for n, entry in enumerate(parsed.entries, 1):
        title = (entry.get("title") or "").strip() or None
        body = _entry_text(entry)
        out.append(Extract(_headed(body, title) if body else "", title, entry.get("link"),
                           entry.get("published") or entry.get("updated"), source, entry.get("author"),
                           label=entry.get("link") or entry.get("id") or f"entry {n}"))
    return out


def _entry_text(entry) -> str:
    contents = [c for c in entry.get("content", []) if (c.get("value") or "").strip()]
    if contents:
        best = max(contents, key=lambda c: len(c["value"]))
    elif (entry.get("summary") or "").strip():
        best = {"value": entry["summary"], "type": (entry.get("summary_detail") or {}).get("type", "text/html")}
    else:
        return ""
    if "html" in (best.get("type") or "text/html"):
        return fragment_text(best["value"])
    return best["value"].strip()


def _host(url: str | None) -> str | None:
    return urlsplit(url).hostname if url else None


# ---------------------------------------------------------------- PDF
def extract_pdf(data: bytes) -> Extract:
    """The text of a PDF page by page, its wrapped lines joined into paragraphs; its title, author and
    creation date from the document information."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise BadDocument("the PDF is encrypted")
        pages = [_page_text(page) for page in reader.pages]
        info = reader.metadata or {}
        title, author = info.get("/Title"), info.get("/Author")
        created = reader.metadata.creation_date if reader.metadata else None
    except BadDocument:
        raise
    except Exception as e:  # pypdf raises many kinds of error on a broken file; each means the same here
        raise BadDocument(f"malformed PDF ({type(e).__name__}: {str(e)[:200]})") from None
    if not any(p.strip() for p in pages):
        raise BadDocument(f"no text in the PDF's {len(pages)} page(s): a scanned PDF holds only images "
                          "(run OCR on it first)")
    return Extract("", str(title).strip() if title else None, None, created.isoformat() if created else None, None,
                   str(author).strip() if author else None, pages=pages)


def _page_text(page) -> str:
    """A page's lines, each a run of text at one height, joined into paragraphs: a line follows the one
    above in the same paragraph when it has the same font size and the gap between them is no wider than
    the page's usual step between lines of that size (a wider gap, a new size such as a heading's, or text
    moving up, as into a new column, starts a paragraph)."""
    lines: list[list] = []  # [height, font size, text]

    def visit(text, cm, tm, font, size) -> None:
        if not text.strip():
            return
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        scale = abs(tm[3] * cm[3]) or 1.0
        text = text.replace("\n", " ")
        if lines and abs(lines[-1][0] - y) < 1.0:
            lines[-1][2] += text
        else:
            lines.append([y, round(size * scale, 1), text])

    plain = page.extract_text(visitor_text=visit)
    if not lines:
        return plain or ""
    steps: dict[float, list[float]] = {}
    for a, b in zip(lines, lines[1:]):
        if a[1] == b[1] and a[0] > b[0]:
            steps.setdefault(a[1], []).append(a[0] - b[0])
    usual = {size: statistics.median(gaps) for size, gaps in steps.items()}
    out: list[str] = []
    above = None
    for y, size, text in lines:
        text = " ".join(text.split())  # justified text comes out with runs of spaces
        if not text:
            continue
        same = above is not None and above[1] == size and 0 < above[0] - y <= 1.3 * usual.get(size, 0.0)
        if not same:
            out.append(text)
        elif re.search(r"\w-$", out[-1]):  # a word broken at a hyphen stays whole, its hyphen kept
            out[-1] += text
        else:
            out[-1] += " " + text
        above = (y, size)
    return "\n".join(out)
