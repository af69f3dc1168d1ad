"""What may go into the corpus: one set of checks for every way in (files, JSON lines, HTTP).

A document is refused with a reason a person can act on, never half-taken:
- its id must be text that survives ``GET /api/documents/{doc_id}`` unchanged (no slashes, no
  whitespace, no control characters, not ``.`` or ``..``); ids made from file names are made safe instead;
- its title, when given, must be text (a blank one means "use the first line");
- its text must be text: no NUL or other control characters (binary files), not over the size limit,
  and not empty once scrape leftovers are removed.
"""

from __future__ import annotations

import re
import unicodedata

from qa.limits import MAX_DOC_ID_CHARS, MAX_TITLE_CHARS

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
