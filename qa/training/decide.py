"""Judging a reader through the whole pipeline on a large held-out decision set, with bootstrap intervals.

Each reader is run once over two held-out sets of whole articles, each used open book (all of a set's
paragraphs in one index, so retrieval can pick the wrong one):

- the *policy* set: the reader's no-answer policy is fitted on it (``calibrate.fit``) at a stated prior
  share of unanswerable questions (rows weighed, none dropped);
- the *decision* set: the answers the service would give under that policy are scored there.

What a run gathers (every candidate's features and F1 per question) is written to a rows file, so policies
at several priors, and comparisons between readers, cost no further reading. Figures at a prior π combine
the two halves as traffic with that share of unanswerable questions would: F1 = (1 − π)·HasAns F1 + π·NoAns
accuracy. Intervals are 95% bootstrap intervals, resampling questions within each half; a comparison
resamples the same questions for both readers (paired).

The rule a candidate reader is shipped by, written down before any candidate was measured:

- Decision set: every question of ``squad_dev.json`` (Super Bowl 50, Rhine), the six held-out
  ``squad2_dev_more`` articles (``qa reader split``) and the twelve *decide* articles of the SQuAD 2.0 train
  files (``scripts/squad2_train_data.py``), all 562 paragraphs in one index, a seeded sample of 2,400
  questions asked. Policy set: the twelve *policy* articles (a seeded 1,600 questions, a tenth of the
  paragraphs left out of the index, 15% more questions from ``qed_nq.json`` asked as out-of-corpus).
- Both readers run the same pipeline and settings and get their policy fitted the same way at each prior.
- The candidate ships only when, at both priors (25% and 50% unanswerable), the paired 95% interval of
  its F1 minus the baseline's lies wholly above zero, and the seed set's smoke checks hold (every citation
  valid, no answer cut inside a word).
- Operating point shipped: the policy fitted at 25% unanswerable (news traffic is mostly answerable),
  unless on the decision set at 50% its no-answer accuracy falls below 60%; then the one fitted at 50%.

The rule a change that only makes reading cheaper (int8 weights, fewer tokens read) is kept by, written down
before measuring one: with the same weights and each side's policy fitted the same way, at both priors the
paired 95% interval of its F1 minus the reference path's contains zero or lies above it, the point difference
in F1 is no worse than −1.0, neither HasAns F1 nor NoAns accuracy falls by more than 2 points, and the seed
set's smoke checks hold. The reference path is the shipped one on the same CPU.

The rule the answer verifier (``qa reader verifier``, gathered with ``--verifier``) is shipped by, written
down before measuring it with the SQuAD 2.0 reader: trained on the proposals of the reader it would ship
beside, against that reader without it, each side's policy fitted the same way at each prior, it ships only
when at both priors the paired 95% interval of its F1 minus the reader alone lies wholly above zero, the seed
set's smoke checks hold, and ``/api/ask`` p50 with it, measured in one run beside reader v17's path without
it, is no slower than v17's (the speed the reader issue holds every candidate to).
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.answering.no_answer import NoAnswerPolicy
from qa.answering.pipeline import AnswerPipeline
from qa.answering.verifier import AnswerVerifier
from qa.evaluation.heldout import out_of_corpus, remove_paragraphs, sample
from qa.evaluation.squad import Answer, QAExample
from qa.reader.extractive import ExtractiveReader
from qa.search.embedding import Embedder
from qa.search.retriever import FusionParams, Retriever
from qa.settings import Settings
from qa.training.calibrate import Proposed, Row, collect, fit, index_paragraphs

PRIORS = (0.25, 0.5)  # shares of unanswerable questions the policy is fitted and reported at
BOOTSTRAP = 2000


def gather(reader: ExtractiveReader, embedder: Embedder, examples: list[QAExample], settings: Settings, limit: int = 0,
           removed_share: float = 0.0, foreign: list[QAExample] | None = None, foreign_share: float = 0.0,
           seed: int = 7, progress: bool = True, verifier: AnswerVerifier | None = None) -> list[Row]:
    """Questions of ``examples`` (a seeded sample of ``limit``, 0 = all) through the pipeline over one index of
    all their paragraphs (less a ``removed_share`` of them, whose questions become unanswerable), plus a
    ``foreign_share`` of out-of-corpus questions drawn from ``foreign``. With a ``verifier``, its logit is
    each row's last feature, as the service's policy would weigh it."""
    gone: set[str] = set()
    if removed_share:
        examples, gone = remove_paragraphs(examples, removed_share, seed)
    index = index_paragraphs([e for e in examples if e.context not in gone], embedder, settings)
    pipeline = AnswerPipeline.from_settings(settings, retriever=Retriever(index, embedder, FusionParams.from_settings(settings)),
                                            reader=reader, verifier=verifier, policy=NoAnswerPolicy())
    asked = sample(examples, limit, seed)
    if foreign and foreign_share:
        asked = asked + out_of_corpus(foreign, int(foreign_share * len(asked)), seed)
    return collect(pipeline, asked, progress=progress)


# ---------------------------------------------------------------- rows on disk
def save_rows(path: Path, parts: dict[str, list[Row]], meta: dict) -> None:
    def row(r: Row) -> dict:
        return {"id": r.example.id, "article": r.example.article, "source": r.example.source,
                "question": r.example.question, "golds": [a.text for a in r.example.answers], "text": r.text,
                "features": list(r.features), "f1": r.f1, "null_f1": r.null_f1,
                "others": [[o.text, list(o.features), o.f1] for o in r.others]}

    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as f:
        json.dump({"meta": meta, **{k: [row(r) for r in rows] for k, rows in parts.items()}}, f)


def load_rows(path: Path) -> tuple[dict[str, list[Row]], dict]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        raw = json.load(f)

    def row(d: dict) -> Row:
        ex = QAExample(d["id"], d["question"], "", tuple(Answer(t, -1) for t in d["golds"]), d["article"], d["source"])
        return Row(ex, d["text"], tuple(d["features"]), d["f1"], d["null_f1"],
                   tuple(Proposed(t, tuple(fs), f1) for t, fs, f1 in d["others"]))

    meta = raw.pop("meta")
    return {k: [row(d) for d in v] for k, v in raw.items()}, meta


# ---------------------------------------------------------------- scoring
@dataclass(frozen=True)
class Outcome:
    """Per question, under one policy: the F1 of the answer given ("not found" included), whether it has an answer."""
    ids: list[str]
    score: np.ndarray  # 0..1
    answerable: np.ndarray  # bool

    def figures(self, prior: float, idx: np.ndarray | None = None) -> dict[str, float]:
        s, a = (self.score, self.answerable) if idx is None else (self.score[idx], self.answerable[idx])
        has, no = 100.0 * s[a].mean(), 100.0 * s[~a].mean()
        return {"f1": (1 - prior) * has + prior * no, "HasAns_f1": has, "NoAns_accuracy": no}


def outcome(rows: list[Row], policy: NoAnswerPolicy) -> Outcome:
    score = []
    for r in rows:
        p, f = r.answered_by(policy)
        score.append(f if p >= policy.cutoff else r.null_f1)
    return Outcome([r.example.id for r in rows], np.array(score), np.array([bool(r.example.answers) for r in rows]))


def _resamples(answerable: np.ndarray, n: int, seed: int):
    """Bootstrap index sets that resample the answerable and the unanswerable questions apart."""
    rng = np.random.default_rng(seed)
    has, no = np.flatnonzero(answerable), np.flatnonzero(~answerable)
    for _ in range(n):
        yield np.concatenate([rng.choice(has, len(has)), rng.choice(no, len(no))])


def interval(values: list[float]) -> list[float]:
    return [float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))]


def report(o: Outcome, prior: float, n: int = BOOTSTRAP, seed: int = 0) -> dict:
    """Figures at ``prior`` with their 95% bootstrap intervals."""
    point = o.figures(prior)
    boots = [o.figures(prior, idx) for idx in _resamples(o.answerable, n, seed)]
    return {k: {"value": v, "ci95": interval([b[k] for b in boots])} for k, v in point.items()} | {
        "answerable": int(o.answerable.sum()), "unanswerable": int((~o.answerable).sum())}


def compare(base: Outcome, cand: Outcome, prior: float, n: int = BOOTSTRAP, seed: int = 0) -> dict:
    """Candidate minus baseline on the same questions, with paired 95% bootstrap intervals."""
    if base.ids != cand.ids:
        order = {q: i for i, q in enumerate(cand.ids)}
        if set(order) != set(base.ids):
            raise ValueError("the two rows files hold different questions: gather both on the same sets")
        idx = np.array([order[q] for q in base.ids])
        cand = Outcome(base.ids, cand.score[idx], cand.answerable[idx])
    b, c = base.figures(prior), cand.figures(prior)
    diffs = []
    for idx in _resamples(base.answerable, n, seed):
        bb, cc = base.figures(prior, idx), cand.figures(prior, idx)
        diffs.append({k: cc[k] - bb[k] for k in bb})
    return {k: {"baseline": b[k], "candidate": c[k], "difference": c[k] - b[k],
                "ci95": interval([d[k] for d in diffs])} for k in b}
