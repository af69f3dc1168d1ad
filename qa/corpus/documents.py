"""Loading articles from disk and cleaning scrape leftovers.

Accepts ``.txt``/``.md`` files (first non-empty line is the title; ``doc_id`` is the file stem) and
``.jsonl`` files with one ``{"id", "title", "text"}`` object per line. A file that cannot be read
(not UTF-8, empty, malformed) is reported by name and skipped; the rest of the batch still loads.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

SUFFIXES = (".txt", ".md", ".jsonl")

_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)\s*\|?")  # markdown image left by the scraper, e.g. "![]() |"
_COMMENT = re.compile(r"Comment \(\d+\)")
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
    text = clean_text(raw)
    if not text:
        raise ValueError("no text after cleaning")
    if not title:
        title = next(line.strip() for line in text.split("\n") if line.strip())
    return Document(doc_id=doc_id, title=title.strip(), text=text)


def _read_utf8(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"not UTF-8 text ({e.reason} at byte {e.start})") from None


def load_file(path: Path) -> LoadResult:
    res = LoadResult()
    try:
        raw = _read_utf8(path)
        if not raw.strip():
            raise ValueError("empty file")
        if path.suffix == ".jsonl":
            for n, line in enumerate(raw.splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                    doc_id, text = str(obj["id"]).strip(), obj["text"]
                    if not doc_id or not isinstance(text, str):
                        raise ValueError("'id' must be non-empty and 'text' a string")
                    res.documents.append(make_document(doc_id, text, obj.get("title")))
                except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
                    res.errors.append(f"{path}: line {n} skipped: {e}")
        else:
            res.documents.append(make_document(path.stem, raw))
    except (OSError, ValueError) as e:
        res.errors.append(f"{path}: skipped: {e}")
    return res


def find_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files.extend(sorted(f for f in p.rglob("*") if f.is_file() and f.suffix in SUFFIXES))
        elif p.is_file():
            files.append(p)
        else:
            raise FileNotFoundError(f"no such file or folder: {p}")
    return files


def load_documents(paths: list[Path]) -> LoadResult:
    """Load every article under ``paths``; duplicate ids keep the first and report the rest."""
    res = LoadResult()
    seen: set[str] = set()
    for f in find_files(paths):
        part = load_file(f)
        res.errors.extend(part.errors)
        for d in part.documents:
            if d.doc_id in seen:
                res.errors.append(f"{f}: skipped duplicate document id {d.doc_id!r}")
                continue
            seen.add(d.doc_id)
            res.documents.append(d)
    return res
