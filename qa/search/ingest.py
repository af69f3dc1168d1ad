"""Changing the index: add, update and delete documents, embedding only what is new or changed.

Every change goes through ``write``: under the index's write lock (``lock.py``) it reads the current
snapshot, builds the next one (kept documents keep their passage and sentence vectors; new text is
embedded through ``EmbeddingCache``, so a killed write resumes its embedding), and swaps it in
atomically (``store.py``). Leftovers of killed writes are removed on the way.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from qa.corpus.chunking import Chunking, Passage, chunk_document, passage_sentences
from qa.corpus.documents import Document, LoadResult, load_documents
from qa.search.embedding import Embedder
from qa.search.embedding_cache import EmbeddingCache
from qa.search.lexical import bm25_params
from qa.search.lock import IndexLock
from qa.search.store import Manifest, PassageIndex

log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    not_found: list[str] = field(default_factory=list)  # asked to delete, but not in the index
    merged: list[tuple[str, str]] = field(default_factory=list)  # (id, into): identical text kept once, with both sources
    errors: list[str] = field(default_factory=list)  # what could not be loaded, and why
    embedded_passages: int = 0
    embedded_sentences: int = 0
    total_documents: int = 0
    total_passages: int = 0
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.deleted)


@dataclass(frozen=True)
class IndexConfig:
    """How a write builds the index: the embedder, the chunking and BM25's parameters."""

    embedder: Embedder
    chunking: Chunking
    lexical_params: dict

    @classmethod
    def from_settings(cls, settings, embedder: Embedder | None = None) -> "IndexConfig":
        return cls(embedder or Embedder.from_settings(settings), Chunking.from_settings(settings), settings.lexical_params())


def write(index_dir: Path, config: IndexConfig, upserts: Iterable[Document] = (), deletes: Iterable[str] = (),
          rebuild: bool = False, progress: bool = False, command: str = "qa ingest",
          wait_seconds: float | None = None, on_wait: Callable[[dict], None] | None = None,
          ) -> tuple[IngestReport, PassageIndex | None]:
    """Add or replace ``upserts`` and remove ``deletes`` in the index in ``index_dir`` (created if missing).

    Returns the report and the index as it now stands (None when there is none: nothing to write into
    a new index). Nothing is written when nothing changed. A different embedding model is refused
    unless ``rebuild``.
    """
    t0 = time.perf_counter()
    with IndexLock(index_dir, command, wait_seconds, on_wait):
        if PassageIndex.exists(index_dir):
            PassageIndex.remove_leftovers(index_dir)
        report, index = _write_locked(Path(index_dir), config, list(upserts), list(deletes), rebuild, progress)
    report.seconds = time.perf_counter() - t0
    if index is not None:
        report.total_documents, report.total_passages = len(index.documents), len(index.passages)
    return report, index


def ingest(paths: list[Path], index_dir: Path, config: IndexConfig, max_document_bytes: int, rebuild: bool = False,
           progress: bool = False, on_wait: Callable[[dict], None] | None = None,
           max_content_bytes: int | None = None) -> IngestReport:
    """Add the articles under ``paths``; what cannot be loaded is reported in ``errors`` and the rest goes in.
    Documents not named in ``paths`` stay as they are."""
    return ingest_loaded(load_documents(paths, max_document_bytes, max_content_bytes), index_dir, config, rebuild,
                         progress, on_wait)


def ingest_loaded(loaded: LoadResult, index_dir: Path, config: IndexConfig, rebuild: bool = False,
                  progress: bool = False, on_wait: Callable[[dict], None] | None = None) -> IngestReport:
    """``ingest`` of documents already loaded (here, or on a cluster): what could not be loaded is reported."""
    report = IngestReport()
    if loaded.documents:
        report, _ = write(index_dir, config, loaded.documents, rebuild=rebuild, progress=progress, on_wait=on_wait)
    elif PassageIndex.exists(index_dir):
        manifest = PassageIndex.manifest_of(index_dir)
        report.total_documents, report.total_passages = manifest.document_count, manifest.passage_count
    report.errors = loaded.errors
    return report


def _write_locked(index_dir: Path, config: IndexConfig, upserts: list[Document], deletes: list[str],
                  rebuild: bool, progress: bool) -> tuple[IngestReport, PassageIndex | None]:
    embedder, chunking = config.embedder, config.chunking
    report = IngestReport()
    old: PassageIndex | None = None
    if PassageIndex.exists(index_dir) and not rebuild:
        old = PassageIndex.load(index_dir, embedder.name, embedder.dim)  # raises IndexMismatch
    same_chunking = old is not None and old.manifest.same_chunking(chunking)

    docs: dict[str, Document] = dict(old.documents) if old else {}
    for doc_id in deletes:
        if docs.pop(doc_id, None) is None:
            report.not_found.append(doc_id)
        else:
            report.deleted.append(doc_id)
    reuse: set[str] = set(docs) if same_chunking else set()
    for d in _placed(docs, upserts, report):
        if old and d.doc_id in old.documents and d.doc_id in docs:
            if old.manifest.documents.get(d.doc_id) == d.content_hash and same_chunking:
                if d.doc_id not in report.unchanged:
                    report.unchanged.append(d.doc_id)
                continue
            if d.doc_id not in report.updated:
                report.updated.append(d.doc_id)
        elif d.doc_id not in report.added:
            report.added.append(d.doc_id)
        if d.text != old_text(old, d.doc_id):  # a change of title or metadata alone keeps the vectors
            reuse.discard(d.doc_id)
        docs[d.doc_id] = d
    if old and not same_chunking:
        log.info("chunking settings changed: re-embedding every document")
    upgrade = old is not None and old.dense.sentences is None  # a snapshot from before sentence vectors
    if old is not None and bm25_params(old.manifest.lexical) != config.lexical_params:
        log.info("BM25 settings changed: rebuilding the lexical index (nothing is embedded again)")
        upgrade = True
    if old is not None and not report.changed and not upgrade:
        return report, old
    if old is None and not docs:
        return report, None

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
            spans = chunk_document(d, chunking.words, chunking.overlap_words, chunking.max_chars)
            to_embed.extend(range(len(passages), len(passages) + len(spans)))
            vectors.append(np.zeros((len(spans), embedder.dim), dtype=np.float32))
        for s, e in spans:
            passages.append(Passage(len(passages), doc_id, d.title, s, e, d.text[s:e]))
    cache = EmbeddingCache(index_dir, embedder.name)
    matrix = np.concatenate(vectors) if vectors else np.zeros((0, embedder.dim), dtype=np.float32)
    if to_embed:
        matrix[to_embed], report.embedded_passages = cache.embed(embedder, [passages[i].text for i in to_embed], progress)
    sentences, report.embedded_sentences = _sentence_vectors(passages, was, old, embedder, cache, progress)
    manifest = Manifest.of(embedder.name, embedder.dim, chunking, config.lexical_params)
    index = PassageIndex.build(manifest, list(docs.values()), passages, matrix, sentences)
    index.save(index_dir)
    cache.clear()
    return report, index


def old_text(old: PassageIndex | None, doc_id: str) -> str | None:
    doc = old.documents.get(doc_id) if old is not None else None
    return doc.text if doc is not None else None


def _placed(docs: dict[str, Document], upserts: list[Document], report: IngestReport) -> Iterator[Document]:
    """The upserts as they go into ``docs``, one by one (the caller puts each in ``docs`` before the next):

    - a URL names its document: an upsert with the URL of a document under another id updates that
      document, and a URL listed among another document's other sources leaves that list;
    - identical text is stored once: an upsert with the text of another document becomes one more source
      of that document (``report.merged``); its own id, if it held other text, is removed.
    """
    urls = {d.url: d.doc_id for d in docs.values() if d.url}
    also = {o.url: d.doc_id for d in docs.values() for o in d.other_sources if o.url}
    texts = {d.text_hash: d.doc_id for d in docs.values()}
    for d in upserts:
        if d.url and urls.get(d.url, d.doc_id) != d.doc_id:
            d = replace(d, doc_id=urls[d.url])
        holder = also.get(d.url) if d.url else None
        if holder in docs and holder != d.doc_id and docs[holder].text_hash != d.text_hash:
            docs[holder] = docs[holder].without_url(d.url)  # that copy now says something else
            del also[d.url]
        previous = docs.get(d.doc_id)
        if previous is not None:
            texts.pop(previous.text_hash, None)
            if previous.url:
                urls.pop(previous.url, None)
        twin = texts.get(d.text_hash)
        if twin is not None:
            if docs.pop(d.doc_id, None) is not None:
                report.deleted.append(d.doc_id)
            report.merged.append((d.doc_id, twin))
            d = docs[twin].with_copy(d)
            also.update({o.url: twin for o in d.other_sources if o.url})
        texts[d.text_hash] = d.doc_id
        if d.url:
            urls[d.url] = d.doc_id
        yield d


def _sentence_vectors(passages: list[Passage], was: dict[int, int], old: PassageIndex | None, embedder: Embedder,
                      cache: EmbeddingCache | None = None, progress: bool = False) -> tuple[np.ndarray, int]:
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
    if not missing:
        return matrix, 0
    if cache is None:
        matrix[missing] = embedder.embed([texts[i] for i in missing], progress=progress)
        return matrix, len(missing)
    matrix[missing], embedded = cache.embed(embedder, [texts[i] for i in missing], progress)
    return matrix, embedded


def build_index(manifest: Manifest, documents: list[Document], passages: list[Passage],
                embedder: Embedder) -> PassageIndex:
    """An in-memory index of ``passages``, every passage and sentence embedded (benchmarks, calibration)."""
    vectors = embedder.embed([p.text for p in passages])
    sentences, _ = _sentence_vectors(passages, {}, None, embedder)
    return PassageIndex.build(manifest, documents, passages, vectors, sentences)
