"""The served corpus, live: writes over HTTP change it in place, and snapshots that other processes write
(``qa ingest``) are picked up without a restart.

Each request works on the pipeline it started with (the ``pipeline`` dependency hands out the current one);
a change builds a new pipeline over the new snapshot and swaps it in, so requests in flight finish on their
snapshot and later ones see the change. In this process one change runs at a time; across processes the
index's write lock (``qa/search/lock.py``) keeps writers in line.
"""

from __future__ import annotations

import logging
import threading

from qa.answering.pipeline import AnswerPipeline
from qa.corpus.documents import Document
from qa.search.ingest import IndexConfig, IngestReport, write
from qa.search.lock import IndexLock
from qa.search.store import PassageIndex
from qa.settings import Settings

log = logging.getLogger(__name__)


class LiveCorpus:
    def __init__(self, pipeline: AnswerPipeline, settings: Settings) -> None:
        self.pipeline = pipeline
        self.settings = settings
        self.config = IndexConfig.from_settings(settings, pipeline.retriever.embedder)
        self._changing = threading.Lock()

    @property
    def index_dir(self):
        source = self.pipeline.retriever.index.source
        return source[0] if source else self.settings.index_dir

    def change(self, upserts: list[Document] = (), deletes: list[str] = ()) -> IngestReport:
        """Apply a write and serve its result from the moment this returns."""
        with self._changing:
            report, index = write(self.index_dir, self.config, upserts, deletes, command="qa serve (HTTP write)",
                                  wait_seconds=self.settings.write_wait_seconds)
            if index is not None and index is not self.pipeline.retriever.index:
                self.pipeline = self.pipeline.with_index(index)
        return report

    def refresh(self) -> bool:
        """Swap in the current snapshot when another process has written one; True when it did."""
        source = self.pipeline.retriever.index.source
        if source is None:  # an index that lives only in memory
            return False
        name = PassageIndex.current_name(source[0])
        if name is None or name == source[1]:
            return False
        with self._changing:
            if self.pipeline.retriever.index.source != source:  # a write of ours got there first
                return False
            embedder = self.pipeline.retriever.embedder
            index = PassageIndex.load(source[0], embedder.name, embedder.dim)
            self.pipeline = self.pipeline.with_index(index)
        log.info("serving index snapshot %s (%d documents)", index.source[1], index.manifest.document_count)
        return True

    def remove_leftovers(self) -> None:
        """What killed writes left behind, removed at start unless a writer is at work right now."""
        source = self.pipeline.retriever.index.source
        if source is None:
            return
        lock = IndexLock(source[0], "qa serve (start)")
        if lock.try_acquire():
            try:
                removed = PassageIndex.remove_leftovers(source[0])
                if removed:
                    log.info("removed leftovers of earlier writes: %s", ", ".join(removed))
            finally:
                lock.release()
