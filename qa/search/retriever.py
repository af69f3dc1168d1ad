"""Finding the passages most likely to hold the answer: dense, lexical, or both fused.

Each store scores its own passages and sentences (``dense.py``, ``lexical.py``); the retriever embeds
the question once and only mixes what the stores return.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qa.corpus.chunking import Passage
from qa.search.embedding import Embedder
from qa.search.filters import Filter
from qa.search.store import PassageIndex
from qa.settings import MODES, Mode, Settings
from qa.timing import stage


@dataclass(frozen=True)
class Hit:
    passage: Passage
    score: float  # the ranking score of the chosen mode
    dense_score: float | None = None  # dense side's score (passage and best-sentence cosine mixed), when it saw this passage
    lexical_score: float | None = None  # lexical side's score (0..1), when it saw this passage


@dataclass(frozen=True)
class FusionParams:
    lexical_weight: float  # share of the lexical side in the hybrid score
    candidates: int  # passages each side proposes before they are combined
    sentence_weight: float  # share of the best sentence's BM25 in the lexical side
    dense_sentence_weight: float  # share of the best sentence's cosine in the dense side

    @classmethod
    def from_settings(cls, settings: Settings) -> "FusionParams":
        return cls(settings.lexical_weight, settings.candidates, settings.sentence_weight, settings.dense_sentence_weight)


class Retriever:
    def __init__(self, index: PassageIndex, embedder: Embedder, fusion: FusionParams) -> None:
        self.index = index
        self.embedder = embedder
        self.fusion = fusion

    def dense(self, query: str, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Passage cosine and best-sentence cosine, mixed; best first (among ``allowed`` passages, a mask)."""
        with stage("embed"):
            vector = self.embedder.embed([query])[0]
        with stage("faiss"):
            passage, sentence = self.index.dense.scores(vector, max(k, self.fusion.candidates), allowed)
        with stage("fusion"):
            return mix_dense(passage, sentence, self.fusion.dense_sentence_weight)[:k]

    def lexical(self, query: str, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """BM25 of the passage and of its best sentence, each over the query's best, mixed (0..1)."""
        with stage("bm25"):
            passage, sentence = self.index.lexical.scores(query, max(k, self.fusion.candidates), allowed)
        with stage("fusion"):
            return mix_lexical(passage, sentence, self.fusion.sentence_weight)[:k]

    def search(self, query: str, k: int, mode: Mode, where: Filter | None = None) -> list[Hit]:
        """The top ``k`` passages; with ``where``, the top ``k`` of the passages it admits (both stores
        search only those)."""
        if mode not in MODES:
            raise ValueError(f"unknown retrieval mode {mode!r}; use one of {', '.join(MODES)}")
        passages = self.index.passages
        allowed = self.index.allowed(where)
        if allowed is not None and not allowed.any():
            return []
        if mode == "dense":
            return [Hit(passages[i], s, dense_score=s) for i, s in self.dense(query, k, allowed)]
        if mode == "lexical":
            return [Hit(passages[i], s, lexical_score=s) for i, s in self.lexical(query, k, allowed)]
        n = max(k, self.fusion.candidates)
        dense = dict(self.dense(query, n, allowed))
        lexical = dict(self.lexical(query, n, allowed))
        with stage("fusion"):
            fused = fuse(dense, lexical, self.fusion.lexical_weight)
            return [Hit(passages[i], s, dense.get(i), lexical.get(i)) for i, s in fused[:k]]


def mix_dense(passage: dict[int, float], sentence: dict[int, float], sentence_weight: float) -> list[tuple[int, float]]:
    """Passage cosine and best-sentence cosine mixed linearly, best first (passage cosine alone
    where there are no sentence scores)."""
    a = sentence_weight if sentence else 0.0
    scores = {i: (1 - a) * c + a * sentence.get(i, c) for i, c in passage.items()}
    return sorted(scores.items(), key=lambda x: (-x[1], x[0]))


def mix_lexical(passage: dict[int, float], sentence: dict[int, float], sentence_weight: float) -> list[tuple[int, float]]:
    """Passage BM25 and best-sentence BM25, each over the query's best, mixed linearly (0..1), best first."""
    top_p = max(passage.values(), default=0.0) or 1.0
    top_s = max(sentence.values(), default=0.0) or 1.0
    a = sentence_weight
    scores = {i: (1 - a) * passage.get(i, 0.0) / top_p + a * sentence.get(i, 0.0) / top_s
              for i in set(passage) | set(sentence)}
    return sorted(scores.items(), key=lambda x: (-x[1], x[0]))


def fuse(dense: dict[int, float], lexical: dict[int, float], lexical_weight: float) -> list[tuple[int, float]]:
    """Weighted score fusion: the lexical score over the query's best, cosine as is, mixed linearly.

    A passage the lexical side did not return counts 0 there (it shares no word with the query);
    one the dense side did not return gets the lowest dense score seen.
    """
    if not dense and not lexical:
        return []
    top_lex = max(lexical.values(), default=0.0) or 1.0
    floor = min(dense.values(), default=0.0)
    out = {}
    for i in set(dense) | set(lexical):
        out[i] = lexical_weight * lexical.get(i, 0.0) / top_lex + (1 - lexical_weight) * dense.get(i, floor)
    return sorted(out.items(), key=lambda x: (-x[1], x[0]))
