"""Tuning the service's no-answer decision on held-out questions, answerable and not.

The paragraphs of a SQuAD-format file become a temporary index; every question then goes through
the real pipeline (retrieval + reader), so the candidates carry the same features as in service:
reader margin, dense similarity, lexical share, question support, dense gap and, given a verifier, its logit.
A logistic model predicts whether the reader's best span
is right (F1 >= 0.5 against the gold answers; never for an unanswerable question). Its cutoff is the
probability that maximises SQuAD F1 on the tune half of the articles; the other half reports. Both
judge the answer the service would give: the candidate the fitted policy ranks first, which is not
always the reader's best span.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.answering.no_answer import NOTHING, NoAnswerPolicy, feature_names
from qa.answering.pipeline import AnswerPipeline
from qa.answering.verifier import AnswerVerifier
from qa.corpus.chunking import Chunking, chunk_documents
from qa.corpus.documents import Document
from qa.evaluation.heldout import out_of_corpus, remove_paragraphs, split_by_article, unanswerable_kind
from qa.evaluation.squad import QAExample, score_one
from qa.reader import config
from qa.reader.extractive import ExtractiveReader
from qa.search.embedding import Embedder
from qa.search.ingest import build_index
from qa.search.retriever import FusionParams, Retriever
from qa.search.store import Manifest, PassageIndex
from qa.settings import Settings


@dataclass(frozen=True)
class Proposed:
    text: str
    features: tuple[float, ...]
    f1: float  # F1 of answering with ``text``


@dataclass
class Row:
    example: QAExample
    text: str  # the reader's best span, by margin ("" if the reader proposed nothing): what the policy is fitted on
    features: tuple[float, ...]
    f1: float  # F1 of answering with ``text``
    null_f1: float  # F1 of saying "not found" (1 for unanswerable questions)
    others: tuple[Proposed, ...] = ()  # the question's other candidates, which a fitted policy may rank first

    def answered_by(self, policy: NoAnswerPolicy) -> tuple[float, float]:
        """The probability and F1 of the candidate ``policy`` ranks first, as ``AnswerPipeline.ask`` does."""
        proposed = (Proposed(self.text, self.features, self.f1), *self.others)
        return max(((policy.probability(c.features), c.f1) for c in proposed), key=lambda pf: pf[0])


def index_paragraphs(examples: list[QAExample], embedder: Embedder, settings: Settings) -> PassageIndex:
    """An in-memory index of the examples' paragraphs, one document each, chunked as configured."""
    contexts: dict[str, Document] = {}
    for e in examples:
        if e.context not in contexts:
            n = len(contexts)
            contexts[e.context] = Document(f"{e.article}#{n}", e.article, e.context)
    docs = list(contexts.values())
    chunking = Chunking.from_settings(settings)
    passages = chunk_documents(docs, chunking)
    manifest = Manifest.of(embedder.name, embedder.dim, chunking, settings.lexical_params())
    return build_index(manifest, docs, passages, embedder)


def collect(pipeline: AnswerPipeline, examples: list[QAExample], progress: bool = True) -> list[Row]:
    from tqdm import tqdm

    rows = []
    for e in tqdm(examples, desc="pipeline", disable=not progress):
        cands = pipeline.candidates(e.question)
        golds = [a.text for a in e.answers]

        def f1(text: str) -> float:
            return score_one(golds, text)[1] if golds and text else 0.0  # answering the unanswerable is wrong

        if cands:
            best = max(cands, key=lambda c: c.margin)
            text, feats = best.span.text, best.features
        else:
            text, feats = "", NOTHING[: len(feature_names(pipeline.verifier is not None))]
        others = tuple(Proposed(c.span.text, c.features, f1(c.span.text)) for c in cands if c is not best)
        rows.append(Row(e, text, feats, f1(text), 1.0 if not golds else 0.0, others))
    return rows


def prior_weights(rows: list[Row], prior: float | None) -> np.ndarray:
    """Row weights under which unanswerable questions make up ``prior`` of the traffic (None: as they come).
    Every row is kept: answerable and unanswerable rows are only weighed differently."""
    no = np.array([not r.example.answers for r in rows])
    if prior is None or no.all() or not no.any():
        return np.ones(len(rows))
    return np.where(no, prior / no.sum(), (1.0 - prior) / (~no).sum()) * len(rows)


def fit(rows: list[Row], prior: float | None = None) -> NoAnswerPolicy:
    """The logistic policy and its F1-maximising cutoff, fitted with the rows weighed to ``prior``
    unanswerable (``prior_weights``)."""
    from sklearn.linear_model import LogisticRegression

    x = np.array([r.features for r in rows])
    y = np.array([1 if r.f1 >= 0.5 else 0 for r in rows])
    if len(set(y)) < 2:
        raise ValueError("need both right and wrong top answers to fit the no-answer model")
    w = prior_weights(rows, prior)
    lr = LogisticRegression(C=1.0, max_iter=1000).fit(x, y, sample_weight=w)
    base = NoAnswerPolicy(tuple(float(v) for v in lr.coef_[0]), float(lr.intercept_[0]), 0.5)
    answered = [r.answered_by(base) for r in rows]
    probs, f1s = [p for p, _ in answered], [f for _, f in answered]
    best_cut, best = 0.5, -1.0
    for cut in sorted(set(round(p, 4) for p in probs)) + [1.01]:
        f1 = f1_at(rows, probs, cut, f1s, w)
        if f1 > best:
            best, best_cut = f1, cut
    return NoAnswerPolicy(base.weights, base.bias, float(best_cut))


def f1_at(rows: list[Row], probs: list[float], cutoff: float, f1s: list[float] | None = None,
          weights: np.ndarray | None = None) -> float:
    """SQuAD F1 of answering where ``probs`` reach ``cutoff``: with ``f1s`` (the answers given) or each row's own,
    each row counted with its weight (all 1 unless given)."""
    f1s = f1s if f1s is not None else [r.f1 for r in rows]
    w = weights if weights is not None else np.ones(len(rows))
    scores = [f if p >= cutoff else r.null_f1 for r, p, f in zip(rows, probs, f1s)]
    return 100.0 * float(np.dot(w, scores)) / max(1e-9, float(w.sum()))


def summarise(rows: list[Row], policy: NoAnswerPolicy) -> dict:
    """The figures of the answers ``policy`` gives (its first-ranked candidate, or "not found")."""
    answered = [r.answered_by(policy) for r in rows]
    probs, f1s = [p for p, _ in answered], [f for _, f in answered]
    has = [(p, f) for r, (p, f) in zip(rows, answered) if r.example.answers]
    no = [(r, p) for r, p in zip(rows, probs) if not r.example.answers]
    by_kind: dict[str, list[bool]] = {}
    for r, p in no:
        by_kind.setdefault(unanswerable_kind(r.example), []).append(p < policy.cutoff)
    return {
        "questions": len(rows),
        "f1": f1_at(rows, probs, policy.cutoff, f1s),
        "HasAns_f1": 100.0 * sum(f if p >= policy.cutoff else 0.0 for p, f in has) / max(1, len(has)),
        "HasAns_f1_always_answer": 100.0 * sum(f for _, f in has) / max(1, len(has)),
        "NoAns_accuracy": 100.0 * sum(p < policy.cutoff for _, p in no) / max(1, len(no)),
        "NoAns_accuracy_by_kind": {kind: {"accuracy": 100.0 * sum(v) / len(v), "questions": len(v)}
                                   for kind, v in sorted(by_kind.items())},
        "answerable": len(has),
        "unanswerable": len(no),
    }


def calibrate(reader: ExtractiveReader, embedder: Embedder, examples: list[QAExample], settings: Settings,
              limit: int = 0, seed: int = 7, foreign: list[QAExample] | None = None, foreign_share: float = 0.25,
              removed_share: float = 0.0, verifier: AnswerVerifier | None = None) -> dict:
    """Fit the policy through the pipeline the service builds from ``settings`` (retrieval, reading,
    and verifying when a ``verifier`` is given: its logit is then the policy's last feature).

    ``foreign``: questions from other sources; a share of them is added as out-of-corpus questions,
    half to each part, as a service sees them (the corpus holds no paragraph about them).
    ``removed_share``: share of the paragraphs left out of the index (see ``remove_paragraphs``)."""
    gone: set[str] = set()
    if removed_share:
        examples, gone = remove_paragraphs(examples, removed_share, seed)
    index = index_paragraphs([e for e in examples if e.context not in gone], embedder, settings)
    retriever = Retriever(index, embedder, FusionParams.from_settings(settings))
    pipeline = AnswerPipeline.from_settings(settings, retriever=retriever, reader=reader, verifier=verifier,
                                            policy=NoAnswerPolicy())
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
        "features": list(feature_names(verifier is not None)),
        "tune_articles": sorted({e.article for e in tune}),
        "report_articles": sorted({e.article for e in report}),
        "tune": summarise(tune_rows, policy),
        "report": summarise(report_rows, policy),
        "report_reader_threshold_only": summarise(report_rows, margin_only),
        "removed_paragraphs": len(gone),
        "seed": seed,
    }


def write_policy(model_dir: Path, result: dict) -> Path:
    """Store a calibration's policy, and the held-out figures it was chosen on, beside the reader's weights."""
    return config.update(model_dir, {
        "no_answer_policy": result["policy"],
        "no_answer_policy_heldout": {k: result[k] for k in ("tune", "report", "report_reader_threshold_only", "data")},
    })
