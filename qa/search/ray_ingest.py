"""``qa ingest --ray``: loading, cleaning, chunking and embedding as a Ray Data pipeline across a cluster.

The files are read and cleaned by Ray tasks, and the documents that are new or changed are chunked and
their passages and sentences embedded by a pool of actors (one embedding model each, sized to the
cluster). The vectors stream back into the index's ``EmbeddingCache`` as they come (so a killed run
resumes its embedding), and the index is then written by the same ``write`` as any other change: under
the write lock, one atomic snapshot, the same documents, passages and sentences as a plain ingest.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np

from qa.cluster import ray_session
from qa.corpus.chunking import Chunking, chunk_documents, passage_sentences
from qa.corpus.documents import Document, LoadResult, combine, find_files, load_file
from qa.search.embedding import Embedder
from qa.search.embedding_cache import EmbeddingCache
from qa.search.ingest import IndexConfig, IngestReport, ingest_loaded
from qa.search.store import PassageIndex

log = logging.getLogger(__name__)


def _load_row(row: dict, max_bytes: int, max_content_bytes: int | None) -> dict:
    part = load_file(Path(row["path"]), max_bytes, max_content_bytes)
    docs = [d.record() for d in part.documents]
    return {"n": row["n"], "path": row["path"], "docs": json.dumps(docs), "errors": json.dumps(part.errors)}


def _texts_of(row: dict, chunking: Chunking, known: frozenset[str]) -> list[dict]:
    """The texts ``write`` will embed for one document: its passages, chunked as ``write`` chunks them, then
    their sentences, but for those in ``known`` (embedded by a run that was killed)."""
    passages = chunk_documents([Document(row["doc_id"], row["title"], row["text"])], chunking)
    sentences, _ = passage_sentences(passages)
    rows: dict[str, str] = {}  # overlapping passages share sentences: each text once
    for kind, texts in (("passage", [p.text for p in passages]), ("sentence", sentences)):
        for t in texts:
            rows.setdefault(t, kind)
    return [{"text": t, "kind": kind} for t, kind in rows.items() if EmbeddingCache.key(t) not in known]


class _EmbedActor:
    """One embedding model per actor, loaded once; called with batches of texts."""

    def __init__(self, model_path: str, name: str, batch_size: int, threads: int) -> None:
        import torch

        torch.set_num_threads(threads)
        self.embedder = Embedder(model_path, name, batch_size)
        self.embedder.warm_up()

    def __call__(self, batch: dict) -> dict:
        texts = [str(t) for t in batch["text"]]
        return {"key": np.array([EmbeddingCache.key(t) for t in texts]), "kind": batch["kind"],
                "vector": self.embedder.embed(texts)}


def load_distributed(paths: list[Path], max_bytes: int, max_content_bytes: int | None = None) -> LoadResult:
    """``load_documents`` with the files read and cleaned by Ray tasks (same documents, same errors)."""
    import ray

    files, missing = find_files(paths)
    if not files:
        return LoadResult(errors=missing)
    rows = (ray.data.from_items([{"n": n, "path": str(f)} for n, f in enumerate(files)])
            .map(_load_row, fn_kwargs={"max_bytes": max_bytes, "max_content_bytes": max_content_bytes}).take_all())
    parts = []
    for row in sorted(rows, key=lambda r: r["n"]):
        docs = [Document.from_record(d) for d in json.loads(row["docs"])]
        parts.append((Path(row["path"]), LoadResult(docs, json.loads(row["errors"]))))
    return combine(parts, missing)


def embed_distributed(docs: list[Document], chunking: Chunking, embedder: Embedder, cache: EmbeddingCache,
                      actors: int, threads_per_actor: int = 1) -> tuple[int, int]:
    """Embed the passages and sentences of ``docs`` on the cluster into ``cache``; returns how many
    passages and sentences were embedded."""
    import ray

    known = frozenset(cache.load())
    ds = (ray.data.from_items([{"doc_id": d.doc_id, "title": d.title, "text": d.text} for d in docs])
          .flat_map(_texts_of, fn_kwargs={"chunking": chunking, "known": known})
          .materialize())  # chunked before the actors start: an actor pool holding every CPU would starve the tasks
    ds = ds.map_batches(_EmbedActor, batch_size=embedder.batch_size, concurrency=actors, num_cpus=threads_per_actor,
                        fn_constructor_kwargs={"model_path": embedder.model_path, "name": embedder.name,
                                               "batch_size": embedder.batch_size, "threads": threads_per_actor})
    counts = {"passage": 0, "sentence": 0}
    seen: set[str] = set()  # a text in two documents is embedded twice but counted, as a plain write counts it, once
    for batch in ds.iter_batches(batch_size=cache.block, batch_format="numpy"):
        keys = batch["key"].tolist()
        cache.save(keys, np.asarray(batch["vector"], dtype=np.float32))
        for key, kind in zip(keys, batch["kind"]):
            if key not in seen:
                seen.add(key)
                counts[str(kind)] += 1
    return counts["passage"], counts["sentence"]


def _to_embed(docs: list[Document], index_dir: Path, config: IndexConfig, rebuild: bool) -> list[Document]:
    """The documents whose passages the write will embed: new or changed ones (all of them when the
    chunking or the model changed, or on ``rebuild``)."""
    if rebuild or not PassageIndex.exists(index_dir):
        return docs
    manifest = PassageIndex.manifest_of(index_dir)
    if not manifest.same_chunking(config.chunking) or manifest.embedding_model != config.embedder.name:
        return docs
    return [d for d in docs if manifest.documents.get(d.doc_id) != d.content_hash]


def ray_ingest(paths: list[Path], index_dir: Path, config: IndexConfig, max_document_bytes: int,
               address: str | None = None, embed_actors: int = 0, rebuild: bool = False, progress: bool = False,
               on_wait=None, max_content_bytes: int | None = None) -> IngestReport:
    """``ingest`` on a Ray cluster (``address``, or a local Ray started for the run): same index, same report."""
    t0 = time.perf_counter()
    with ray_session(address) as ray:
        ray.data.DataContext.get_current().enable_progress_bars = progress
        loaded = load_distributed(paths, max_document_bytes, max_content_bytes)
        embedded = (0, 0)
        todo = _to_embed(loaded.documents, Path(index_dir), config, rebuild)
        if todo:
            actors = embed_actors or max(1, int(ray.cluster_resources().get("CPU", 1)))
            cache = EmbeddingCache(index_dir, config.embedder.name)
            embedded = embed_distributed(todo, config.chunking, config.embedder, cache, actors)
            log.info("embedded %d passages and %d sentences with %d actors", *embedded, actors)
    report = ingest_loaded(loaded, index_dir, config, rebuild, progress, on_wait)
    # the vectors were computed on the cluster: the write found them all in the cache
    report.embedded_passages += embedded[0]
    report.embedded_sentences += embedded[1]
    report.seconds = time.perf_counter() - t0
    return report
