"""What may go into the corpus: one set of checks for every way in (files, JSON lines, HTTP).

A document is refused with a reason a person can act on, never half-taken:
- its id must be text that survives ``GET /api/documents/{doc_id}`` unchanged (no slashes, no
  whitespace, no control characters, not ``.`` or ``..``); ids made from file names are made safe instead;
- its title, when given, must be text (a blank one means "use the first line");
- its text must be text: no NUL or other control characters (binary files), not over the size limit,
  and not empty once scrape leftovers are removed;
- its metadata, each part optional: ``url`` an absolute http(s) URL (the chat page links to it, so no
  ``javascript:``), ``published`` a date (ISO 8601, or RFC 2822 as feeds and HTTP write it), ``source`` and
  ``author`` short text.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from qa.limits import MAX_DOC_ID_CHARS, MAX_SOURCE_CHARS, MAX_TITLE_CHARS, MAX_URL_CHARS

# Characters an id may hold: letters and digits of any script, and a few marks that need no care in a URL path.
_ID = re.compile(r"^[\w.\-:~@+,=()\[\]]+$")
_UNSAFE_ID_CHAR = re.compile(r"[^\w.\-:~@+,=()\[\]]+")
_ALLOWED_CONTROLS = frozenset("\t\n\r\f\v")


class BadDocument(ValueError):
    """A document that cannot go in; the message is the reason."""


def check_id(raw: object) -> str:
    if not isinstance(raw, str):
        raise BadDocument(f"'id' must be text, not {type(raw).__name__}")
    if not raw:
        raise BadDocument("'id' is empty")
    if len(raw) > MAX_DOC_ID_CHARS:
        raise BadDocument(f"'id' is longer than {MAX_DOC_ID_CHARS} characters")
    if raw in (".", "..") or not _ID.match(raw):
        raise BadDocument("'id' may hold only letters, digits and . - _ : ~ @ + , = ( ) [ ] "
                          "(no spaces, slashes or control characters), so that /api/documents/{id} finds it")
    return raw


def safe_id(name: str) -> str:
    """An id made from a file name: unsafe characters become ``_``."""
    cleaned = _UNSAFE_ID_CHAR.sub("_", unicodedata.normalize("NFC", name)).strip("_")[:MAX_DOC_ID_CHARS]
    return cleaned if cleaned not in ("", ".", "..") else "_"


def check_title(raw: object) -> str | None:
    """The title as given, or None for "take the first line" (absent or blank)."""
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise BadDocument(f"'title' must be text, not {type(raw).__name__}")
    if _control_characters(raw):
        raise BadDocument("'title' holds control characters")
    if len(raw) > MAX_TITLE_CHARS:
        raise BadDocument(f"'title' is longer than {MAX_TITLE_CHARS} characters")
    return raw.strip() or None


def check_text(raw: object, max_bytes: int) -> str:
    if not isinstance(raw, str):
        raise BadDocument(f"'text' must be text, not {type(raw).__name__}")
    size = len(raw.encode("utf-8", errors="replace"))
    if size > max_bytes:
        raise BadDocument(f"the text is {size:,} bytes, over the limit of {max_bytes:,} (QA_MAX_DOCUMENT_BYTES)")
    bad = _control_characters(raw)
    if bad:
        raise BadDocument(f"the text holds {bad} NUL or other control characters: binary data, not an article")
    return raw


def _control_characters(text: str) -> int:
    return sum(1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in _ALLOWED_CONTROLS)


def url_id(url: str) -> str:
    """The id of a document known by its URL: host and path made safe, so that the same URL always
    names the same document (ingesting it again updates it). A long URL keeps its start and a hash."""
    parts = urlsplit(url)
    readable = safe_id(parts.netloc + parts.path.rstrip("/") + ("?" + parts.query if parts.query else ""))
    if len(readable) <= 80:
        return readable
    return readable[:60].rstrip("_") + "-" + hashlib.sha256(url.encode()).hexdigest()[:12]


def optional_text(raw: object, not_text: Callable[[str], Exception]) -> str | None:
    """An optional text field, stripped; None when absent or blank. Anything but text raises ``not_text(type name)``,
    so each caller keeps its own error type and message."""
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise not_text(type(raw).__name__)
    return raw.strip() or None


def check_url(raw: object) -> str | None:
    raw = optional_text(raw, lambda kind: BadDocument(f"'url' must be text, not {kind}"))
    if raw is None:
        return None
    if len(raw) > MAX_URL_CHARS:
        raise BadDocument(f"'url' is longer than {MAX_URL_CHARS} characters")
    parts = urlsplit(raw)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or _control_characters(raw) or " " in raw:
        raise BadDocument("'url' must be an absolute http:// or https:// URL")
    return raw


def check_published(raw: object) -> str | None:
    """A publication date or time as ISO 8601: ``2023-07-10``, or ``2023-07-10T08:30:00+07:00`` with the
    offset it was given (its calendar day is the day the publisher printed). RFC 2822 dates are read too."""
    text = optional_text(raw, lambda kind: BadDocument(f"'published' must be text (an ISO 8601 date), not {kind}"))
    if text is None:
        return None
    parsed = parse_date(text)
    if parsed is None:
        raise BadDocument(f"'published' is not a date: {text[:60]!r} (use ISO 8601, e.g. 2023-07-10 or "
                          "2023-07-10T08:30:00+07:00)")
    return parsed


def parse_date(text: str) -> str | None:
    """``text`` as a normalised ISO 8601 date or date-time, or None when it is not one."""
    value: date | datetime | None = None
    if len(text) == 10:
        try:
            value = date.fromisoformat(text)
        except ValueError:
            pass
    if value is None:
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            try:
                value = parsedate_to_datetime(text)
            except (TypeError, ValueError, IndexError):
                return None
    if not 1000 <= value.year <= 9999:
        return None
    return value.isoformat()


def check_meta_text(raw: object, key: str) -> str | None:
    """``source`` or ``author``: short text, or None when absent or blank."""
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise BadDocument(f"'{key}' must be text, not {type(raw).__name__}")
    if _control_characters(raw):
        raise BadDocument(f"'{key}' holds control characters")
    if len(raw) > MAX_SOURCE_CHARS:
        raise BadDocument(f"'{key}' is longer than {MAX_SOURCE_CHARS} characters")
    return " ".join(raw.split()) or None
