"""The persisted passage index: FAISS over passages and over their sentences (dense), BM25 over
passages and over their sentences (lexical), documents, passages and a manifest.

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

import faiss
import numpy as np

from qa.chunking import Passage, sentence_spans
from qa.documents import Document

FORMAT_VERSION = 1


class IndexProblem(Exception):
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
    documents: dict[str, str] = field(default_factory=dict)  # doc_id -> content hash
    passage_count: int = 0
    format_version: int = FORMAT_VERSION
    lexical: dict = field(default_factory=lambda: {"library": "bm25s", "k1": 1.2, "b": 0.75, "stopwords": "en"})
    created: float = 0.0

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


class LexicalIndex:
    """BM25 over passage texts (bm25s), with its tokenizer vocabulary saved beside it."""

    def __init__(self, k1: float = 1.2, b: float = 0.75, stopwords: str = "en", library: str = "bm25s") -> None:
        import bm25s

        self._bm25s = bm25s
        self.tokenizer = bm25s.tokenization.Tokenizer(stopwords=stopwords, lower=True)
        self.model = bm25s.BM25(k1=k1, b=b)
        self.size = 0

    @classmethod
    def build(cls, texts: list[str], **params) -> "LexicalIndex":
        lex = cls(**params)
        if texts:
            ids = lex.tokenizer.tokenize(texts, return_as="ids", show_progress=False)
            lex.model.index(ids, show_progress=False)
            lex.size = len(texts)
        return lex

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        if self.size:
            self.model.save(str(folder))
            self.tokenizer.save_vocab(str(folder))
        (folder / "size.json").write_text(json.dumps({"size": self.size}))

    @classmethod
    def load(cls, folder: Path, **params) -> "LexicalIndex":
        lex = cls(**params)
        lex.size = json.loads((folder / "size.json").read_text())["size"]
        if lex.size:
            lex.model = lex._bm25s.BM25.load(str(folder))
            lex.tokenizer.load_vocab(str(folder))
        return lex

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        """(passage position, BM25 score) best first; only passages sharing a word with the query."""
        if not self.size:
            return []
        ids = self.tokenizer.tokenize([query], return_as="ids", update_vocab=False, show_progress=False)
        if not ids or not ids[0]:
            return []
        docs, scores = self.model.retrieve(ids, k=min(k, self.size), show_progress=False, n_threads=1)
        return [(int(d), float(s)) for d, s in zip(docs[0], scores[0]) if s > 0]


def sentence_texts(passages: list[Passage]) -> tuple[list[str], np.ndarray]:
    """The sentences of every passage in passage order, and ``owner[i]``, the passage of sentence ``i``.

    Both sentence indexes (BM25 and dense) number their sentences this way.
    """
    texts, owner = [], []
    for p in passages:
        for s, e in sentence_spans(p.text):
            texts.append(p.text[s:e])
            owner.append(p.passage_id)
    return texts, np.array(owner, dtype=np.int64)


@dataclass
class SentenceLexical:
    """BM25 over the sentences of every passage; ``owner[i]`` is the passage of sentence ``i``.

    A question's words often meet in one sentence of the passage that answers it ("Political
    Commissar of Military Region 2"), while a long passage that mentions them apart scores as high
    on passage BM25. Retrieval mixes both (see ``qa/retrieval.py``).
    """

    lexical: LexicalIndex
    owner: np.ndarray

    @classmethod
    def build(cls, passages: list[Passage], **params) -> "SentenceLexical":
        texts, owner = sentence_texts(passages)
        return cls(LexicalIndex.build(texts, **params), owner)

    def best_per_passage(self, query: str, k: int) -> dict[int, float]:
        """Passage position -> BM25 of its best-matching sentence, for the passages of the top ``k`` sentences."""
        best: dict[int, float] = {}
        for i, score in self.lexical.search(query, k):
            p = int(self.owner[i])
            best[p] = max(best.get(p, 0.0), score)
        return best

    def save(self, folder: Path) -> None:
        self.lexical.save(folder)
        np.save(folder / "owner.npy", self.owner)

    @classmethod
    def load(cls, folder: Path, **params) -> "SentenceLexical":
        return cls(LexicalIndex.load(folder, **params), np.load(folder / "owner.npy"))


@dataclass
class SentenceDense:
    """Cosine (inner product of unit vectors) over the sentences of every passage, numbered as in
    ``sentence_texts``; ``owner[i]`` is the passage of sentence ``i``.

    The dense counterpart of ``SentenceLexical``: a passage whose one sentence says what the
    question asks can sit in a passage whose whole-text embedding is diluted by everything else.
    """

    dense: faiss.Index
    owner: np.ndarray

    @classmethod
    def build(cls, vectors: np.ndarray, owner: np.ndarray, dim: int) -> "SentenceDense":
        if len(vectors) != len(owner):
            raise ValueError("one vector per sentence expected")
        dense = faiss.IndexFlatIP(dim)
        if len(vectors):
            dense.add(np.ascontiguousarray(vectors, dtype=np.float32))
        return cls(dense, owner)

    def vectors_of(self, passage_id: int) -> np.ndarray:
        """The vectors of one passage's sentences, in order (its sentences are one run: ``owner`` is sorted)."""
        lo, hi = (int(x) for x in np.searchsorted(self.owner, [passage_id, passage_id + 1]))
        return self.dense.reconstruct_n(lo, hi - lo) if hi > lo else np.zeros((0, self.dense.d), dtype=np.float32)

    def best_per_passage(self, query_vector: np.ndarray, k: int) -> dict[int, float]:
        """Passage position -> cosine of its best sentence, for the passages of the top ``k`` sentences."""
        n = self.dense.ntotal
        if not n:
            return {}
        scores, ids = self.dense.search(query_vector.reshape(1, -1), min(k, n))
        best: dict[int, float] = {}
        for i, score in zip(ids[0], scores[0]):
            if i >= 0:
                p = int(self.owner[i])
                best[p] = max(best.get(p, -1.0), float(score))
        return best

    def best_of(self, query_vector: np.ndarray, passage_id: int) -> float | None:
        """Cosine of the best sentence of one passage (None when it has no sentence)."""
        vectors = self.vectors_of(passage_id)
        return float(np.max(vectors @ query_vector)) if len(vectors) else None

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self.dense, str(folder / "dense.faiss"))
        np.save(folder / "owner.npy", self.owner)

    @classmethod
    def load(cls, folder: Path) -> "SentenceDense":
        return cls(faiss.read_index(str(folder / "dense.faiss")), np.load(folder / "owner.npy"))


class PassageIndex:
    """Everything retrieval and the API read, loaded from (or written to) one snapshot.

    ``sentence_dense`` is None only for a snapshot written before sentence vectors existed; the
    next ``qa ingest`` adds them, and retrieval meanwhile scores passages by their whole text.
    """

    def __init__(self, manifest: Manifest, documents: dict[str, Document], passages: list[Passage],
                 dense: faiss.Index, lexical: LexicalIndex, sentences: SentenceLexical | None = None,
                 sentence_dense: SentenceDense | None = None) -> None:
        self.manifest = manifest
        self.documents = documents
        self.passages = passages
        self.dense = dense
        self.lexical = lexical
        self.sentences = sentences or SentenceLexical.build(passages, **manifest.lexical)
        self.sentence_dense = sentence_dense

    # ------------------------------------------------------------ build
    @classmethod
    def build(cls, manifest: Manifest, documents: list[Document], passages: list[Passage],
              vectors: np.ndarray, sentence_vectors: np.ndarray) -> "PassageIndex":
        """``vectors``: one per passage; ``sentence_vectors``: one per sentence, as ``sentence_texts`` numbers them."""
        if len(passages) != len(vectors):
            raise ValueError("one vector per passage expected")
        dense = faiss.IndexFlatIP(manifest.embedding_dim)
        if len(vectors):
            dense.add(np.ascontiguousarray(vectors, dtype=np.float32))
        lexical = LexicalIndex.build([p.text for p in passages], **manifest.lexical)
        sentences = SentenceLexical.build(passages, **manifest.lexical)
        sentence_dense = SentenceDense.build(sentence_vectors, sentences.owner, manifest.embedding_dim)
        manifest.documents = {d.doc_id: d.content_hash for d in documents}
        manifest.passage_count = len(passages)
        manifest.created = time.time()
        return cls(manifest, {d.doc_id: d for d in documents}, passages, dense, lexical, sentences, sentence_dense)

    def vectors_of(self, doc_id: str) -> np.ndarray:
        rows = [p.passage_id for p in self.passages if p.doc_id == doc_id]
        if not rows:
            return np.zeros((0, self.manifest.embedding_dim), dtype=np.float32)
        return np.stack([self.dense.reconstruct(r) for r in rows])

    def sentence_vectors_of(self, passage_id: int) -> np.ndarray | None:
        """The stored sentence vectors of one passage, or None when this snapshot has none."""
        if self.sentence_dense is None:
            return None
        return self.sentence_dense.vectors_of(passage_id)

    def passages_of(self, doc_id: str) -> list[Passage]:
        return [p for p in self.passages if p.doc_id == doc_id]

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
                    f.write(json.dumps({"doc_id": d.doc_id, "title": d.title, "text": d.text}, ensure_ascii=False) + "\n")
            with open(tmp / "passages.jsonl", "w", encoding="utf-8") as f:
                for p in self.passages:
                    f.write(json.dumps({"doc_id": p.doc_id, "start": p.start, "end": p.end}) + "\n")
            faiss.write_index(self.dense, str(tmp / "dense.faiss"))
            self.lexical.save(tmp / "lexical")
            self.sentences.save(tmp / "lexical_sentences")
            if self.sentence_dense is not None:
                self.sentence_dense.save(tmp / "dense_sentences")
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
        for old in index_dir.iterdir():
            if old.is_dir() and old.name.startswith("snap-") and old.name != name:
                shutil.rmtree(old, ignore_errors=True)
        return final

    @classmethod
    def exists(cls, index_dir: Path) -> bool:
        return (Path(index_dir) / "CURRENT").is_file()

    @classmethod
    def load(cls, index_dir: Path, embedding_model: str | None = None, embedding_dim: int | None = None) -> "PassageIndex":
        """Load the current snapshot; refuse one built with another embedding model."""
        index_dir = Path(index_dir)
        if not cls.exists(index_dir):
            raise IndexNotFound(f"no index in {index_dir}: build one with `qa ingest` first")
        snap = index_dir / (index_dir / "CURRENT").read_text().strip()
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
                d = json.loads(line)
                documents[d["doc_id"]] = Document(d["doc_id"], d["title"], d["text"])
        passages: list[Passage] = []
        with open(snap / "passages.jsonl", encoding="utf-8") as f:
            for i, line in enumerate(f):
                p = json.loads(line)
                doc = documents[p["doc_id"]]
                passages.append(Passage(i, doc.doc_id, doc.title, p["start"], p["end"], doc.text[p["start"] : p["end"]]))
        dense = faiss.read_index(str(snap / "dense.faiss"))
        lexical = LexicalIndex.load(snap / "lexical", **manifest.lexical)
        # snapshots written before sentence BM25 existed get it built from their passages
        sentences = SentenceLexical.load(snap / "lexical_sentences", **manifest.lexical) \
            if (snap / "lexical_sentences" / "owner.npy").exists() else None
        sentence_dense = SentenceDense.load(snap / "dense_sentences") \
            if (snap / "dense_sentences" / "owner.npy").exists() else None
        return cls(manifest, documents, passages, dense, lexical, sentences, sentence_dense)


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
