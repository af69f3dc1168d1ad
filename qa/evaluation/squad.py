"""SQuAD-format data (loading) and the official SQuAD v2 metric.

The metric follows the official ``evaluate-v2.0.py`` rules: lower-case, strip punctuation,
articles (a/an/the) and extra whitespace; EM and token F1 take the best over gold answers;
an unanswerable question scores 1 only when the prediction is empty.
"""

from __future__ import annotations

import collections
import json
import re
import string
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Answer:
    text: str
    start: int  # character offset into the context


@dataclass(frozen=True)
class QAExample:
    id: str
    question: str
    context: str
    answers: tuple[Answer, ...]
    article: str  # "<file>::<title>"; splits are made on this, never on questions
    source: str = ""

    @property
    def is_impossible(self) -> bool:
        return not self.answers


def load_squad(path: str | Path) -> list[QAExample]:
    """Read one SQuAD v1/v2 JSON file into flat examples. Answers are checked against the context."""
    path = Path(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    out: list[QAExample] = []
    for art in data["data"]:
        article = f"{path.stem}::{art.get('title', '')}"
        for para in art["paragraphs"]:
            ctx = para["context"]
            for qa in para["qas"]:
                answers = []
                if not qa.get("is_impossible", False):
                    for a in qa.get("answers", []):
                        s, t = int(a["answer_start"]), a["text"]
                        if t and ctx[s : s + len(t)] == t:
                            answers.append(Answer(t, s))
                    if not answers:
                        continue  # answerable but no verifiable span: skip rather than mislabel
                out.append(
                    QAExample(
                        id=str(qa["id"]),
                        question=qa["question"].strip(),
                        context=ctx,
                        answers=tuple(dict.fromkeys(answers)),
                        article=article,
                        source=path.stem,
                    )
                )
    return out


def load_many(paths) -> list[QAExample]:
    out: list[QAExample] = []
    for p in paths:
        out.extend(load_squad(p))
    return out


# ---------------------------------------------------------------- official SQuAD v2 metric
def normalize_answer(s: str) -> str:
    s = s.lower()
    s = "".join(ch for ch in s if ch not in set(string.punctuation))
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def _tokens(s: str) -> list[str]:
    return normalize_answer(s).split() if s else []


def exact_match(gold: str, pred: str) -> float:
    return float(normalize_answer(gold) == normalize_answer(pred))


def f1_score(gold: str, pred: str) -> float:
    g, p = _tokens(gold), _tokens(pred)
    if not g or not p:
        return float(g == p)
    common = collections.Counter(g) & collections.Counter(p)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(p), same / len(g)
    return 2 * precision * recall / (precision + recall)


def score_one(golds: list[str], pred: str) -> tuple[float, float]:
    """(EM, F1) of one prediction; ``golds == []`` means unanswerable (gold is the empty string)."""
    golds = [g for g in golds if normalize_answer(g)] or [""]
    return max(exact_match(g, pred) for g in golds), max(f1_score(g, pred) for g in golds)


def squad_v2_scores(golds: dict[str, list[str]], preds: dict[str, str]) -> dict[str, float]:
    """Aggregate EM/F1 overall and for HasAns/NoAns subsets, in percent."""
    rows = {"all": [], "HasAns": [], "NoAns": []}
    for qid, g in golds.items():
        em, f1 = score_one(g, preds.get(qid, ""))
        rows["all"].append((em, f1))
        rows["HasAns" if g else "NoAns"].append((em, f1))
    out: dict[str, float] = {}
    for name, r in rows.items():
        if not r:
            continue
        prefix = "" if name == "all" else f"{name}_"
        out[f"{prefix}exact"] = 100.0 * sum(x[0] for x in r) / len(r)
        out[f"{prefix}f1"] = 100.0 * sum(x[1] for x in r) / len(r)
        out[f"{prefix}total"] = len(r)
    return out
