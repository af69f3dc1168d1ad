"""Loading articles from disk and cleaning scrape leftovers.

Accepts ``.txt``/``.md`` files (first non-empty line is the title; ``doc_id`` is the file stem, made safe)
and ``.jsonl`` files with one ``{"id", "title", "text"}`` object per line. A file or line that cannot be
taken (not UTF-8, empty, binary, too big, malformed: ``hygiene.py``) is reported by name and skipped;
the rest of the batch still loads.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from qa.corpus.hygiene import BadDocument, check_id, check_text, check_title, safe_id

SUFFIXES = (".txt", ".md", ".jsonl")

_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)\s*\|?")  # markdown image left by the scraper, e.g. "![]() |"
_COMMENT = re.compile(r"Comment \(\d+\)")
_DATA_URI = re.compile(r"data:[\w.+-]+/[\w.+-]+;base64,[A-Za-z0-9+/=]{64,}")  # an inline image: no words to read
_TRAILING_PIPE = re.compile(r"\s+\|\s*$")


@dataclass(frozen=True)
class Document:
    doc_id: str
    title: str
    text: str  # cleaned text; every offset the service reports points into this string

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(f"{self.title}\n{self.text}".encode()).hexdigest()


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


def make_document(doc_id: str, raw: str, title: str | None = None) -> Document:
    """A document from checked parts (``hygiene.py``); the title defaults to the first line of the text."""
    text = clean_text(raw)
    if not text:
        raise BadDocument("no text after removing scrape leftovers")
    if not title:
        title = next(line.strip() for line in text.split("\n") if line.strip())
    return Document(doc_id=doc_id, title=title.strip(), text=text)


def document_from_fields(fields: object, max_bytes: int) -> Document:
    """A document from a JSON object ``{"id", "title"?, "text"}`` (a JSON line or an HTTP item)."""
    if not isinstance(fields, dict):
        raise BadDocument(f"expected an object with 'id' and 'text', not {type(fields).__name__}")
    missing = [k for k in ("id", "text") if k not in fields]
    if missing:
        raise BadDocument(f"missing {' and '.join(repr(k) for k in missing)}")
    doc_id = check_id(fields["id"])
    return make_document(doc_id, check_text(fields["text"], max_bytes), check_title(fields.get("title")))


def _read_utf8(path: Path, max_bytes: int) -> str:
    size = path.stat().st_size
    if size > max_bytes and path.suffix != ".jsonl":  # a JSON-lines file is checked line by line
        raise BadDocument(f"{size:,} bytes, over the limit of {max_bytes:,} (QA_MAX_DOCUMENT_BYTES)")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise BadDocument(f"not UTF-8 text ({e.reason} at byte {e.start})") from None


def load_file(path: Path, max_bytes: int) -> LoadResult:
    res = LoadResult()
    try:
        raw = _read_utf8(path, max_bytes)
        if not raw.strip():
            raise BadDocument("empty file")
        if path.suffix == ".jsonl":
            for n, line in enumerate(raw.splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    res.documents.append(document_from_fields(json.loads(line), max_bytes))
                except json.JSONDecodeError as e:
                    res.errors.append(f"{path}: line {n} skipped: not JSON ({e.msg})")
                except BadDocument as e:
                    res.errors.append(f"{path}: line {n} skipped: {e}")
        else:
            res.documents.append(make_document(safe_id(path.stem), check_text(raw, max_bytes)))
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


def load_documents(paths: list[Path], max_bytes: int) -> LoadResult:
    """Load every article under ``paths``; what cannot be loaded is reported and the rest still loads.
    Duplicate ids keep the first."""
    files, missing = find_files(paths)
    return combine([(f, load_file(f, max_bytes)) for f in files], missing)


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
