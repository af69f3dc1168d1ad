"""Bringing articles into the index: load, chunk, embed only what is new or changed, write atomically."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qa.chunking import Passage, chunk_document
from qa.documents import Document, load_documents
from qa.embedding import Embedder
from qa.index import IndexMismatch, Manifest, PassageIndex

log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    embedded_passages: int = 0
    total_documents: int = 0
    total_passages: int = 0
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated)


def ingest(paths: list[Path], index_dir: Path, embedder: Embedder, chunk_words: int, overlap_words: int,
           rebuild: bool = False, progress: bool = False) -> IngestReport:
    """Add the articles under ``paths`` to the index in ``index_dir`` (created if missing).

    Documents already indexed with the same content and chunking keep their vectors; new or changed
    ones are chunked and embedded. Documents not named in ``paths`` stay as they are. Nothing is
    written when nothing changed. A different embedding model is refused unless ``rebuild``.
    """
    t0 = time.perf_counter()
    report = IngestReport()
    loaded = load_documents(paths)
    report.errors = loaded.errors

    old: PassageIndex | None = None
    if PassageIndex.exists(index_dir) and not rebuild:
        old = PassageIndex.load(index_dir, embedder.name, embedder.dim)  # raises IndexMismatch
    manifest = Manifest(embedder.name, embedder.dim, chunk_words, overlap_words)
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
    for doc_id, d in docs.items():
        if doc_id in reuse:
            olds = old.passages_of(doc_id)
            vectors.append(old.vectors_of(doc_id))
            spans = [(p.start, p.end) for p in olds]
        else:
            spans = chunk_document(d, chunk_words, overlap_words)
            to_embed.extend(range(len(passages), len(passages) + len(spans)))
            vectors.append(np.zeros((len(spans), embedder.dim), dtype=np.float32))
        for s, e in spans:
            passages.append(Passage(len(passages), doc_id, d.title, s, e, d.text[s:e]))
    if not report.changed and old is not None:
        report.total_documents, report.total_passages = len(old.documents), len(old.passages)
        report.seconds = time.perf_counter() - t0
        return report
    matrix = np.concatenate(vectors) if vectors else np.zeros((0, embedder.dim), dtype=np.float32)
    if to_embed:
        matrix[to_embed] = embedder.embed([passages[i].text for i in to_embed], progress=progress)
    report.embedded_passages = len(to_embed)
    index = PassageIndex.build(manifest, list(docs.values()), passages, matrix)
    index.save(index_dir)
    report.total_documents, report.total_passages = len(docs), len(passages)
    report.seconds = time.perf_counter() - t0
    return report


__all__ = ["IngestReport", "IndexMismatch", "ingest"]
