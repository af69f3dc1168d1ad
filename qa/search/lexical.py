"""Lexical scoring: BM25 (bm25s) over passage texts and over the sentences of every passage.

A question's words often meet in one sentence of the passage that answers it ("Political Commissar of
Military Region 2"), while a long passage that mentions them apart scores as high on passage BM25; so
the store scores both, and the retriever mixes them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from qa.corpus.chunking import Passage, passage_sentences

# bm25s' own word pattern, which drops one-character words: what an index made without a recorded pattern used
TWO_CHARACTER_WORDS = r"(?u)\b\w\w+\b"


class BM25:
    """BM25 over a list of texts, with its tokenizer vocabulary saved beside it."""

    def __init__(self, k1: float, b: float, stopwords: str, token_pattern: str) -> None:
        import bm25s

        self._bm25s = bm25s
        self.tokenizer = bm25s.tokenization.Tokenizer(stopwords=stopwords, lower=True, splitter=token_pattern)
        self.model = bm25s.BM25(k1=k1, b=b)
        self.size = 0

    @classmethod
    def build(cls, texts: list[str], k1: float, b: float, stopwords: str, token_pattern: str) -> "BM25":
        lex = cls(k1, b, stopwords, token_pattern)
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
    def load(cls, folder: Path, k1: float, b: float, stopwords: str, token_pattern: str) -> "BM25":
        lex = cls(k1, b, stopwords, token_pattern)
        lex.size = json.loads((folder / "size.json").read_text())["size"]
        if lex.size:
            lex.model = lex._bm25s.BM25.load(str(folder))
            lex.tokenizer.load_vocab(str(folder))
        return lex

    def search(self, query: str, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """(text position, BM25 score) best first; only texts sharing a word with the query, and only
        those ``allowed`` (a mask over texts) when given: the others score 0 before the top ``k`` are taken."""
        if not self.size:
            return []
        ids = self.tokenizer.tokenize([query], return_as="ids", update_vocab=False, show_progress=False)
        if not ids or not ids[0]:
            return []
        mask = None if allowed is None else allowed.astype(np.float32)
        docs, scores = self.model.retrieve(ids, k=min(k, self.size), show_progress=False, n_threads=1,
                                           weight_mask=mask)
        return [(int(d), float(s)) for d, s in zip(docs[0], scores[0]) if s > 0]


def bm25_params(manifest_lexical: dict) -> dict:
    """The BM25 parameters recorded in a manifest (older manifests also name the library, and those
    without a word pattern were made with bm25s' own): a snapshot is searched the way it was built."""
    return {**{k: manifest_lexical[k] for k in ("k1", "b", "stopwords")},
            "token_pattern": manifest_lexical.get("token_pattern", TWO_CHARACTER_WORDS)}


class LexicalStore:
    """BM25 of passages and of their sentences; ``owner[i]`` is the passage of sentence ``i``."""

    PASSAGES, SENTENCES = "lexical", "lexical_sentences"  # folders inside a snapshot

    def __init__(self, passages: BM25, sentences: BM25, owner: np.ndarray) -> None:
        self.passages = passages
        self.sentences = sentences
        self.owner = owner

    @classmethod
    def build(cls, passages: list[Passage], params: dict) -> "LexicalStore":
        texts, owner = passage_sentences(passages)
        return cls(BM25.build([p.text for p in passages], **params), BM25.build(texts, **params), owner)

    def scores(self, query: str, k: int, allowed: np.ndarray | None = None) -> tuple[dict[int, float], dict[int, float]]:
        """BM25 of the top ``k`` passages, and of the best sentence of the passages of the top ``3k`` sentences;
        among the ``allowed`` passages (a mask) alone, when given."""
        passage = dict(self.passages.search(query, k, allowed))
        best: dict[int, float] = {}
        for i, score in self.sentences.search(query, 3 * k, None if allowed is None else allowed[self.owner]):
            p = int(self.owner[i])
            best[p] = max(best.get(p, 0.0), score)
        return passage, best

    def save(self, snapshot: Path) -> None:
        self.passages.save(snapshot / self.PASSAGES)
        self.sentences.save(snapshot / self.SENTENCES)
        np.save(snapshot / self.SENTENCES / "owner.npy", self.owner)

    @classmethod
    def load(cls, snapshot: Path, passages: list[Passage], params: dict) -> "LexicalStore":
        lexical = BM25.load(snapshot / cls.PASSAGES, **params)
        folder = snapshot / cls.SENTENCES
        if not (folder / "owner.npy").exists():  # a snapshot from before sentence BM25: built from its passages
            texts, owner = passage_sentences(passages)
            return cls(lexical, BM25.build(texts, **params), owner)
        return cls(lexical, BM25.load(folder, **params), np.load(folder / "owner.npy"))
