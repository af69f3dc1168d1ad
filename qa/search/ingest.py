"""Bringing articles into the index: load, chunk, embed only what is new or changed, write atomically."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qa.corpus.chunking import Passage, chunk_document, passage_sentences
from qa.corpus.documents import Document, load_documents
from qa.search.embedding import Embedder
from qa.search.store import Manifest, PassageIndex

log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    embedded_passages: int = 0
    embedded_sentences: int = 0
    total_documents: int = 0
    total_passages: int = 0
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated)


def ingest(paths: list[Path], index_dir: Path, embedder: Embedder, chunk_words: int, overlap_words: int,
           lexical_params: dict, rebuild: bool = False, progress: bool = False) -> IngestReport:
    """Add the articles under ``paths`` to the index in ``index_dir`` (created if missing).

    Documents already indexed with the same content and chunking keep their vectors; new or changed
    ones are chunked and embedded. Documents not named in ``paths`` stay as they are. Nothing is
    written when nothing changed. A different embedding model is refused unless ``rebuild``.
    ``lexical_params``: BM25's k1, b and stopwords (``Settings.lexical_params()``).
    """
    t0 = time.perf_counter()
    report = IngestReport()
    loaded = load_documents(paths)
    report.errors = loaded.errors

    old: PassageIndex | None = None
    if PassageIndex.exists(index_dir) and not rebuild:
        old = PassageIndex.load(index_dir, embedder.name, embedder.dim)  # raises IndexMismatch
    manifest = Manifest(embedder.name, embedder.dim, chunk_words, overlap_words, lexical_params)
    same_chunking = old is not None and (old.manifest.chunk_words, old.manifest.chunk_overlap_words) == (chunk_words, overlap_words)

    docs: dict[str, Document] = dict(old.documents) if old else {}
    reuse: set[str] = set()
    for d in loaded.documents:
        if old and d.doc_id in old.documents:
            if old.manifest.documents.get(d.doc_id) == d.content_hash and same_chunking:
                report.unchanged.append(d.doc_id)
                reuse.add(d.doc_id)
                continue
            report.updated.append(d.doc_id)
        else:
            report.added.append(d.doc_id)
        docs[d.doc_id] = d
    if old and same_chunking:  # documents not in this batch keep their passages too
        reuse |= {i for i in old.documents if i not in {d.doc_id for d in loaded.documents}}
    elif old:
        log.info("chunking settings changed: re-embedding every document")

    passages: list[Passage] = []
    vectors: list[np.ndarray] = []
    to_embed: list[int] = []
    was: dict[int, int] = {}  # passage position -> its position in the old index, for kept passages
    for doc_id, d in docs.items():
        if doc_id in reuse:
            olds = old.passages_of(doc_id)
            vectors.append(old.dense.passage_vectors([p.passage_id for p in olds]))
            spans = [(p.start, p.end) for p in olds]
            was.update({len(passages) + j: p.passage_id for j, p in enumerate(olds)})
        else:
            spans = chunk_document(d, chunk_words, overlap_words)
            to_embed.extend(range(len(passages), len(passages) + len(spans)))
            vectors.append(np.zeros((len(spans), embedder.dim), dtype=np.float32))
        for s, e in spans:
            passages.append(Passage(len(passages), doc_id, d.title, s, e, d.text[s:e]))
    upgrade = old is not None and old.dense.sentences is None  # a snapshot from before sentence vectors
    if not report.changed and old is not None and not upgrade:
        report.total_documents, report.total_passages = len(old.documents), len(old.passages)
        report.seconds = time.perf_counter() - t0
        return report
    matrix = np.concatenate(vectors) if vectors else np.zeros((0, embedder.dim), dtype=np.float32)
    if to_embed:
        matrix[to_embed] = embedder.embed([passages[i].text for i in to_embed], progress=progress)
    report.embedded_passages = len(to_embed)
    sentences, report.embedded_sentences = _sentence_vectors(passages, was, old, embedder, progress)
    index = PassageIndex.build(manifest, list(docs.values()), passages, matrix, sentences)
    index.save(index_dir)
    report.total_documents, report.total_passages = len(docs), len(passages)
    report.seconds = time.perf_counter() - t0
    return report


def _sentence_vectors(passages: list[Passage], was: dict[int, int], old: PassageIndex | None,
                      embedder: Embedder, progress: bool = False) -> tuple[np.ndarray, int]:
    """One vector per sentence (numbered as ``passage_sentences`` does): kept passages keep theirs, the
    rest are embedded. Returns the matrix and how many sentences were embedded."""
    texts, owner = passage_sentences(passages)
    matrix = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    starts = np.searchsorted(owner, np.arange(len(passages)))
    ends = np.searchsorted(owner, np.arange(len(passages)), side="right")
    missing: list[int] = []
    for pos, (lo, hi) in enumerate(zip(starts, ends)):
        kept = old.dense.sentence_vectors(was[pos]) if old is not None and pos in was else None
        if kept is not None and len(kept) == hi - lo:
            matrix[lo:hi] = kept
        else:
            missing.extend(range(lo, hi))
    if missing:
        matrix[missing] = embedder.embed([texts[i] for i in missing], progress=progress)
    return matrix, len(missing)


def build_index(manifest: Manifest, documents: list[Document], passages: list[Passage],
                embedder: Embedder) -> PassageIndex:
    """An in-memory index of ``passages``, every passage and sentence embedded (benchmarks, calibration)."""
    vectors = embedder.embed([p.text for p in passages])
    sentences, _ = _sentence_vectors(passages, {}, None, embedder)
    return PassageIndex.build(manifest, documents, passages, vectors, sentences)

