"""Tuning the service's no-answer decision on held-out questions, answerable and not.

The paragraphs of a SQuAD-format file become a temporary index; every question then goes through
the real pipeline (retrieval + reader), so the candidates carry the same features as in service:
reader margin, dense similarity, lexical share. A logistic model predicts whether the top candidate
is right (F1 >= 0.5 against the gold answers; never for an unanswerable question). Its cutoff is the
probability that maximises SQuAD F1 on the tune half of the articles; the other half reports.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np

from qa.answering import AnswerPipeline
from qa.chunking import chunk_documents
from qa.documents import Document
from qa.embedding import Embedder
from qa.index import Manifest, PassageIndex
from qa.ingest import build_index
from qa.no_answer import FEATURES, NOTHING, NoAnswerPolicy
from qa.reader.evaluate import split_by_article
from qa.reader.model import ExtractiveReader
from qa.reader.squad import QAExample, score_one
from qa.retrieval import FusionParams, Retriever


@dataclass
class Row:
    example: QAExample
    text: str  # top candidate's text ("" if the reader proposed nothing)
    features: tuple[float, ...]
    f1: float  # F1 of answering with ``text``
    null_f1: float  # F1 of saying "not found" (1 for unanswerable questions)


def index_paragraphs(examples: list[QAExample], embedder: Embedder, chunk_words: int, overlap: int) -> PassageIndex:
    contexts: dict[str, Document] = {}
    for e in examples:
        if e.context not in contexts:
            n = len(contexts)
            contexts[e.context] = Document(f"{e.article}#{n}", e.article, e.context)
    docs = list(contexts.values())
    passages = chunk_documents(docs, chunk_words, overlap)
    return build_index(Manifest(embedder.name, embedder.dim, chunk_words, overlap), docs, passages, embedder)


def collect(pipeline: AnswerPipeline, examples: list[QAExample], progress: bool = True) -> list[Row]:
    from tqdm import tqdm

    rows = []
    for e in tqdm(examples, desc="pipeline", disable=not progress):
        cands = pipeline.candidates(e.question)
        golds = [a.text for a in e.answers]
        if cands:
            best = max(cands, key=lambda c: c.margin)
            text, feats = best.span.text, best.features
        else:
            text, feats = "", NOTHING
        answer_f1 = score_one(golds, text)[1] if golds and text else 0.0  # answering the unanswerable is wrong
        rows.append(Row(e, text, feats, answer_f1, 1.0 if not golds else 0.0))
    return rows


def fit(rows: list[Row]) -> NoAnswerPolicy:
    from sklearn.linear_model import LogisticRegression

    x = np.array([r.features for r in rows])
    y = np.array([1 if r.f1 >= 0.5 else 0 for r in rows])
    if len(set(y)) < 2:
        raise ValueError("need both right and wrong top answers to fit the no-answer model")
    lr = LogisticRegression(C=1.0, max_iter=1000).fit(x, y)
    base = NoAnswerPolicy(tuple(float(w) for w in lr.coef_[0]), float(lr.intercept_[0]), 0.5)
    probs = [base.probability(r.features) for r in rows]
    best_cut, best = 0.5, -1.0
    for cut in sorted(set(round(p, 4) for p in probs)) + [1.01]:
        f1 = f1_at(rows, probs, cut)
        if f1 > best:
            best, best_cut = f1, cut
    return NoAnswerPolicy(base.weights, base.bias, float(best_cut))


def f1_at(rows: list[Row], probs: list[float], cutoff: float) -> float:
    return 100.0 * sum(r.f1 if p >= cutoff else r.null_f1 for r, p in zip(rows, probs)) / max(1, len(rows))


UNANSWERABLE_KINDS = {"ooc": "out of corpus", "gone": "paragraph removed"}


def unanswerable_kind(example: QAExample) -> str:
    """Where an unanswerable question comes from: the data set itself (e.g. SQuAD 2.0's written-to-
    mislead questions), a paragraph left out of the index, or another corpus."""
    return UNANSWERABLE_KINDS.get(example.source.rsplit("+", 1)[-1], "in the data")


def summarise(rows: list[Row], policy: NoAnswerPolicy) -> dict:
    probs = [policy.probability(r.features) for r in rows]
    has = [(r, p) for r, p in zip(rows, probs) if r.example.answers]
    no = [(r, p) for r, p in zip(rows, probs) if not r.example.answers]
    by_kind: dict[str, list[bool]] = {}
    for r, p in no:
        by_kind.setdefault(unanswerable_kind(r.example), []).append(p < policy.cutoff)
    return {
        "questions": len(rows),
        "f1": f1_at(rows, probs, policy.cutoff),
        "HasAns_f1": 100.0 * sum(r.f1 if p >= policy.cutoff else 0.0 for r, p in has) / max(1, len(has)),
        "HasAns_f1_always_answer": 100.0 * sum(r.f1 for r, _ in has) / max(1, len(has)),
        "NoAns_accuracy": 100.0 * sum(p < policy.cutoff for _, p in no) / max(1, len(no)),
        "NoAns_accuracy_by_kind": {kind: {"accuracy": 100.0 * sum(v) / len(v), "questions": len(v)}
                                   for kind, v in sorted(by_kind.items())},
        "answerable": len(has),
        "unanswerable": len(no),
    }


def out_of_corpus(questions: list[QAExample], n: int, seed: int) -> list[QAExample]:
    """Questions about other articles, asked of this corpus: its articles do not hold the answer."""
    picked = random.Random(seed).sample(questions, min(n, len(questions)))
    return [QAExample(q.id + "_ooc", q.question, "", (), q.article, q.source + "+ooc") for q in picked]


def remove_paragraphs(examples: list[QAExample], share: float, seed: int) -> tuple[list[QAExample], set[str]]:
    """Leave a share of the paragraphs out of the corpus: their questions become unanswerable.

    That is the hardest "not found" a service meets: the corpus holds the article and talks about
    the same people and places, only the sentence with the answer is missing.
    Returns the examples (those of removed paragraphs without answers) and the removed contexts.
    """
    contexts = sorted({e.context for e in examples})
    rng = random.Random(seed)
    gone = {c for c in contexts if rng.random() < share}
    out = [QAExample(e.id + "_gone", e.question, e.context, (), e.article, e.source + "+gone")
           if e.context in gone else e for e in examples]
    return out, gone


def calibrate(reader: ExtractiveReader, embedder: Embedder, examples: list[QAExample], top_k: int, mode: str,
              chunk_words: int, overlap: int, fusion: FusionParams, limit: int = 0, seed: int = 7,
              foreign: list[QAExample] | None = None, foreign_share: float = 0.25, removed_share: float = 0.0) -> dict:
    """``foreign``: questions from other sources; a share of them is added as out-of-corpus questions,
    half to each part, as a service sees them (the corpus holds no paragraph about them).
    ``removed_share``: share of the paragraphs left out of the index (see ``remove_paragraphs``)."""
    gone: set[str] = set()
    if removed_share:
        examples, gone = remove_paragraphs(examples, removed_share, seed)
    index = index_paragraphs([e for e in examples if e.context not in gone], embedder, chunk_words, overlap)
    pipeline = AnswerPipeline(Retriever(index, embedder, fusion), reader, top_k=top_k,
                              mode=mode, policy=NoAnswerPolicy())
    if limit:
        examples = random.Random(seed).sample(examples, min(limit, len(examples)))
    tune, report = split_by_article(examples)
    if foreign:
        extra = out_of_corpus(foreign, int(foreign_share * len(examples)), seed)
        tune, report = tune + extra[: len(extra) // 2], report + extra[len(extra) // 2 :]
    tune_rows, report_rows = collect(pipeline, tune), collect(pipeline, report)
    policy = fit(tune_rows)
    margin_only = NoAnswerPolicy.margin_only(reader.no_answer_threshold)
    return {
        "policy": policy.to_config(),
        "features": list(FEATURES),
        "tune_articles": sorted({e.article for e in tune}),
        "report_articles": sorted({e.article for e in report}),
        "tune": summarise(tune_rows, policy),
        "report": summarise(report_rows, policy),
        "report_reader_threshold_only": summarise(report_rows, margin_only),
        "removed_paragraphs": len(gone),
        "seed": seed,
    }
