"""The persisted passage index: documents, passages, a manifest, and the two stores that score them
(``dense.py``: FAISS over passages and their sentences; ``lexical.py``: BM25 over the same).

Layout of ``index_dir``::

    CURRENT              name of the active snapshot folder (replaced atomically)
    snap-<time>-<rand>/  manifest.json, documents.jsonl, passages.jsonl, dense.faiss, dense_sentences/,
                         lexical/, lexical_sentences/

A write builds a complete new snapshot, flushes it, then swaps ``CURRENT`` with ``os.replace``.
A crash at any point before the swap leaves the previous snapshot untouched and loadable.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from qa.corpus.chunking import Chunking, Passage
from qa.corpus.documents import Document
from qa.errors import UserProblem
from qa.search.dense import DenseStore
from qa.search.filters import Filter
from qa.search.lexical import LexicalStore, bm25_params

FORMAT_VERSION = 1


class IndexProblem(UserProblem):
    """Base for index problems a user can act on (message says what to do)."""


class IndexNotFound(IndexProblem):
    pass


class IndexMismatch(IndexProblem):
    pass


@dataclass
class Manifest:
    embedding_model: str
    embedding_dim: int
    chunk_words: int
    chunk_overlap_words: int
    lexical: dict  # BM25 parameters: k1, b, stopwords, token_pattern
    documents: dict[str, str] = field(default_factory=dict)  # doc_id -> content hash
    passage_count: int = 0
    format_version: int = FORMAT_VERSION
    created: float = 0.0
    max_passage_chars: int | None = None  # None: a snapshot from before passages had a character cap

    def same_chunking(self, chunking: Chunking) -> bool:
        """Whether passages cut by ``chunking`` would be the ones this snapshot holds."""
        return (self.chunk_words, self.chunk_overlap_words) == (chunking.words, chunking.overlap_words) and (
            self.max_passage_chars in (None, chunking.max_chars))

    @classmethod
    def of(cls, embedding_model: str, embedding_dim: int, chunking: Chunking, lexical: dict) -> "Manifest":
        return cls(embedding_model, embedding_dim, chunking.words, chunking.overlap_words, lexical,
                   max_passage_chars=chunking.max_chars)

    @property
    def document_count(self) -> int:
        return len(self.documents)

    def to_json(self) -> str:
        d = asdict(self)
        d["document_count"] = self.document_count
        return json.dumps(d, indent=2)

    @classmethod
    def from_json(cls, text: str) -> "Manifest":
        d = json.loads(text)
        d.pop("document_count", None)
        return cls(**d)


class PassageIndex:
    """Everything retrieval and the API read, loaded from (or written to) one snapshot."""

    def __init__(self, manifest: Manifest, documents: dict[str, Document], passages: list[Passage],
                 dense: DenseStore, lexical: LexicalStore) -> None:
        self.manifest = manifest
        self.documents = documents
        self.passages = passages
        self.dense = dense
        self.lexical = lexical
        self.source: tuple[Path, str] | None = None  # (index folder, snapshot name) once saved or loaded

    # ------------------------------------------------------------ build
    @classmethod
    def build(cls, manifest: Manifest, documents: list[Document], passages: list[Passage],
              vectors: np.ndarray, sentence_vectors: np.ndarray) -> "PassageIndex":
        """``vectors``: one per passage; ``sentence_vectors``: one per sentence, as ``passage_sentences`` numbers them."""
        if len(passages) != len(vectors):
            raise ValueError("one vector per passage expected")
        lexical = LexicalStore.build(passages, bm25_params(manifest.lexical))
        dense = DenseStore.build(vectors, sentence_vectors, lexical.owner, manifest.embedding_dim)
        manifest.documents = {d.doc_id: d.content_hash for d in documents}
        manifest.passage_count = len(passages)
        manifest.created = time.time()
        return cls(manifest, {d.doc_id: d for d in documents}, passages, dense, lexical)

    def passages_of(self, doc_id: str) -> list[Passage]:
        return [p for p in self.passages if p.doc_id == doc_id]

    def allowed(self, where: Filter | None) -> np.ndarray | None:
        """Which passages ``where`` lets retrieval see (a mask over passage ids); None when it lets all."""
        if where is None or not where:
            return None
        admitted = {doc_id for doc_id, d in self.documents.items() if where.admits(d)}
        return np.fromiter((p.doc_id in admitted for p in self.passages), dtype=bool, count=len(self.passages))

    # ------------------------------------------------------------ persist
    def save(self, index_dir: Path) -> Path:
        """Write a new snapshot and make it current atomically; old snapshots are removed after."""
        index_dir = Path(index_dir)
        index_dir.mkdir(parents=True, exist_ok=True)
        name = f"snap-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"
        tmp = index_dir / (name + ".partial")
        tmp.mkdir()
        try:
            with open(tmp / "documents.jsonl", "w", encoding="utf-8") as f:
                for d in self.documents.values():
                    f.write(json.dumps(d.record(), ensure_ascii=False) + "\n")
            with open(tmp / "passages.jsonl", "w", encoding="utf-8") as f:
                for p in self.passages:
                    f.write(json.dumps({"doc_id": p.doc_id, "start": p.start, "end": p.end}) + "\n")
            self.dense.save(tmp)
            self.lexical.save(tmp)
            (tmp / "manifest.json").write_text(self.manifest.to_json())
            _fsync_tree(tmp)
            final = index_dir / name
            os.replace(tmp, final)
            pointer = index_dir / "CURRENT.tmp"
            pointer.write_text(name)
            _fsync_file(pointer)
            os.replace(pointer, index_dir / "CURRENT")
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self.source = (index_dir, name)
        self.remove_leftovers(index_dir)
        return final

    @staticmethod
    def current_name(index_dir: Path) -> str | None:
        try:
            return (Path(index_dir) / "CURRENT").read_text().strip() or None
        except FileNotFoundError:
            return None

    @classmethod
    def remove_leftovers(cls, index_dir: Path) -> list[str]:
        """Delete every snapshot but the current one, and what a killed write left half-done. Only
        under the index's write lock (``lock.py``): another writer's ``.partial`` folder is work in progress."""
        current = cls.current_name(index_dir)
        removed = []
        for p in Path(index_dir).iterdir():
            if p.name.startswith("snap-") and p.name != current or p.name == "CURRENT.tmp":
                shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
                removed.append(p.name)
        return removed

    @classmethod
    def manifest_of(cls, index_dir: Path) -> Manifest:
        """The current snapshot's manifest alone (no vectors loaded)."""
        name = cls.current_name(index_dir)
        if name is None:
            raise IndexNotFound(f"no index in {index_dir}: build one with `qa ingest` first")
        return Manifest.from_json((Path(index_dir) / name / "manifest.json").read_text())

    @classmethod
    def exists(cls, index_dir: Path) -> bool:
        return (Path(index_dir) / "CURRENT").is_file()

    @classmethod
    def load(cls, index_dir: Path, embedding_model: str | None = None, embedding_dim: int | None = None) -> "PassageIndex":
        """Load the current snapshot; refuse one built with another embedding model."""
        index_dir = Path(index_dir)
        for attempt in range(5):
            name = cls.current_name(index_dir)
            if name is None:
                raise IndexNotFound(f"no index in {index_dir}: build one with `qa ingest` first")
            try:
                index = cls._load_snapshot(index_dir, name, embedding_model, embedding_dim)
            except (FileNotFoundError, RuntimeError):  # faiss says RuntimeError for a file that is gone
                if attempt == 4 or (index_dir / name).exists():
                    raise
                continue  # a writer replaced this snapshot while it was being read: read the new one
            index.source = (index_dir, name)
            return index
        raise AssertionError("unreachable")

    @classmethod
    def _load_snapshot(cls, index_dir: Path, name: str, embedding_model: str | None,
                       embedding_dim: int | None) -> "PassageIndex":
        snap = index_dir / name
        manifest = Manifest.from_json((snap / "manifest.json").read_text())
        if manifest.format_version != FORMAT_VERSION:
            raise IndexMismatch(f"index in {index_dir} has format {manifest.format_version}, expected {FORMAT_VERSION}: "
                                "rebuild it with `qa ingest --rebuild`")
        if embedding_model is not None and manifest.embedding_model != embedding_model or (
            embedding_dim is not None and manifest.embedding_dim != embedding_dim
        ):
            raise IndexMismatch(
                f"index in {index_dir} was built with embedding model {manifest.embedding_model!r} "
                f"(dimension {manifest.embedding_dim}), but {embedding_model!r} (dimension {embedding_dim}) is "
                "configured: rebuild it with `qa ingest --rebuild` or configure the same model"
            )
        documents: dict[str, Document] = {}
        with open(snap / "documents.jsonl", encoding="utf-8") as f:
            for line in f:
                d = Document.from_record(json.loads(line))  # metadata absent in older snapshots: None
                documents[d.doc_id] = d
        passages: list[Passage] = []
        with open(snap / "passages.jsonl", encoding="utf-8") as f:
            for i, line in enumerate(f):
                p = json.loads(line)
                doc = documents[p["doc_id"]]
                passages.append(Passage(i, doc.doc_id, doc.title, p["start"], p["end"], doc.text[p["start"] : p["end"]]))
        lexical = LexicalStore.load(snap, passages, bm25_params(manifest.lexical))
        return cls(manifest, documents, passages, DenseStore.load(snap), lexical)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(folder: Path) -> None:
    for p in folder.rglob("*"):
        if p.is_file():
            _fsync_file(p)
