"""Dense scoring: cosine (inner product of unit vectors, FAISS) of passages and of their sentences.

A passage whose one sentence says what the question asks can have a whole-text embedding diluted by
everything else; so the store scores both, exactly for every candidate, and the retriever mixes them.
"""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np


def _flat(vectors: np.ndarray, dim: int) -> faiss.Index:
    index = faiss.IndexFlatIP(dim)
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def _search(index: faiss.Index, query: np.ndarray, k: int, ids: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The top ``k`` of ``index``, or of its rows ``ids`` alone (a FAISS ID selector: the search itself
    skips the others, so the top ``k`` are the best allowed ones)."""
    if ids is None:
        return index.search(query, min(k, index.ntotal))
    if not len(ids):
        return np.zeros((1, 0), dtype=np.float32), np.zeros((1, 0), dtype=np.int64)
    params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(ids.astype(np.int64)))
    return index.search(query, min(k, len(ids)), params=params)


class DenseStore:
    """Passage vectors, and sentence vectors numbered as ``passage_sentences`` numbers them (``owner[i]``
    is the passage of sentence ``i``, sorted). ``sentences`` is None only for a snapshot written before
    sentence vectors existed; the next ingest adds them."""

    PASSAGES, SENTENCES = "dense.faiss", "dense_sentences"  # names inside a snapshot

    def __init__(self, passages: faiss.Index, sentences: faiss.Index | None, owner: np.ndarray | None) -> None:
        self.passages = passages
        self.sentences = sentences
        self.owner = owner

    @classmethod
    def build(cls, passage_vectors: np.ndarray, sentence_vectors: np.ndarray, owner: np.ndarray, dim: int) -> "DenseStore":
        if len(sentence_vectors) != len(owner):
            raise ValueError("one vector per sentence expected")
        return cls(_flat(passage_vectors, dim), _flat(sentence_vectors, dim), owner)

    @property
    def dim(self) -> int:
        return self.passages.d

    def passage_vectors(self, rows: list[int]) -> np.ndarray:
        if not rows:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self.passages.reconstruct(r) for r in rows])

    def sentence_vectors(self, passage_id: int) -> np.ndarray | None:
        """The vectors of one passage's sentences, in order; None when this snapshot has none."""
        if self.sentences is None:
            return None
        lo, hi = (int(x) for x in np.searchsorted(self.owner, [passage_id, passage_id + 1]))
        return self.sentences.reconstruct_n(lo, hi - lo) if hi > lo else np.zeros((0, self.dim), dtype=np.float32)

    def scores(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
               ) -> tuple[dict[int, float], dict[int, float]]:
        """Cosine of the passage and of its best sentence, for the top ``k`` passages of either kind.

        Both are exact for every candidate, so that mixing them compares like with like. The second
        dict is empty for a snapshot without sentence vectors. ``allowed`` (a mask over passages): FAISS
        searches only those passages and their sentences.
        """
        n = self.passages.ntotal
        if not n:
            return {}, {}
        q = query.reshape(1, -1)
        scores, ids = _search(self.passages, q, k, None if allowed is None else np.flatnonzero(allowed))
        passage = {int(i): float(s) for i, s in zip(ids[0], scores[0]) if i >= 0}
        if self.sentences is None or not self.sentences.ntotal:
            return passage, {}
        best: dict[int, float] = {}
        scores, ids = _search(self.sentences, q, 3 * k, None if allowed is None else np.flatnonzero(allowed[self.owner]))
        for i, score in zip(ids[0], scores[0]):
            if i >= 0:
                p = int(self.owner[i])
                best[p] = max(best.get(p, -1.0), float(score))
        for i in set(best) - set(passage):
            passage[i] = float(self.passages.reconstruct(i) @ query)
        for i in set(passage) - set(best):
            vectors = self.sentence_vectors(i)
            best[i] = float(np.max(vectors @ query)) if len(vectors) else passage[i]
        return passage, best

    def save(self, snapshot: Path) -> None:
        faiss.write_index(self.passages, str(snapshot / self.PASSAGES))
        if self.sentences is not None:
            (snapshot / self.SENTENCES).mkdir(parents=True, exist_ok=True)
            faiss.write_index(self.sentences, str(snapshot / self.SENTENCES / "dense.faiss"))
            np.save(snapshot / self.SENTENCES / "owner.npy", self.owner)

    @classmethod
    def load(cls, snapshot: Path) -> "DenseStore":
        passages = faiss.read_index(str(snapshot / cls.PASSAGES))
        folder = snapshot / cls.SENTENCES
        if not (folder / "owner.npy").exists():
            return cls(passages, None, None)
        return cls(passages, faiss.read_index(str(folder / "dense.faiss")), np.load(folder / "owner.npy"))
