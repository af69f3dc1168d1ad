"""A bounded cache of answers over one index snapshot.

The pipeline is deterministic: the same question with the same options over the same articles gets the
same answers. News traffic repeats itself (many readers ask what happened today), so a repeat is answered
from here without retrieving or reading again. One cache belongs to one snapshot's pipeline: a write or
a new snapshot builds a new pipeline with an empty cache, so an answer never outlives the articles it
was read from.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Hashable

from cachetools import LRUCache

if TYPE_CHECKING:
    from qa.answering.pipeline import Answer


@dataclass(frozen=True)
class CacheStats:
    size: int  # answers held now
    capacity: int
    hits: int
    misses: int


class AnswerCache:
    """Least-recently-used answers by request key; ``capacity`` 0 keeps nothing. Thread-safe: the
    service answers in worker threads."""

    def __init__(self, capacity: int) -> None:
        if capacity < 0:
            raise ValueError("the answer cache's capacity cannot be negative")
        self.capacity = capacity
        self._entries: LRUCache | None = LRUCache(maxsize=capacity) if capacity else None
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0

    def get(self, key: Hashable) -> tuple[Answer, ...] | None:
        if self._entries is None:
            return None
        with self._lock:
            found = self._entries.get(key)
            self._hits += found is not None
            return found

    def put(self, key: Hashable, answers: tuple[Answer, ...]) -> None:
        """Keep the answers just read for ``key`` (a lookup may come more than once per reading: misses are
        counted here, one per reading)."""
        if self._entries is not None:
            with self._lock:
                self._misses += 1
                self._entries[key] = answers

    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(len(self._entries or ()), self.capacity, self._hits, self._misses)
