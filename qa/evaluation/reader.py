"""Held-out evaluation of a reader with the official SQuAD v2 rules, and the no-answer threshold.

Articles of the evaluation file are split in two by article name: the threshold on the reader's
margin (best span score minus no-answer score) is tuned on the first part and reported on the other,
so the reported figures come from questions that neither trained the model nor chose the threshold.
With ``tune_data`` the threshold is tuned on other held-out files instead and every article of the
evaluation file is reported.
Unanswerable questions of the file count as they are; ``synthetic_negatives`` adds retrieval-style
ones (a question paired with another paragraph of its article that lacks the answer).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from qa.errors import UserProblem
from qa.evaluation.heldout import add_synthetic_negatives, split_by_article
from qa.evaluation.squad import QAExample, load_many, score_one, squad_v2_scores
from qa.reader.extractive import ExtractiveReader


class OverlappingData(UserProblem):
    """The tuning files share paragraphs with the evaluated ones: those questions would choose their own threshold."""


@dataclass
class Prediction:
    id: str
    text: str
    margin: float
    start: int = -1  # the span's character offsets in the context; -1 when the reader proposed none
    end: int = -1


def predict(reader: ExtractiveReader, examples: list[QAExample], progress: bool = True) -> list[Prediction]:
    from tqdm import tqdm

    preds: list[Prediction] = []
    step = 64
    for i in tqdm(range(0, len(examples), step), desc="read", disable=not progress):
        chunk = examples[i : i + step]
        res = reader.read_pairs([e.question for e in chunk], [e.context for e in chunk], top_n=1)
        for e, spans in zip(chunk, res):
            preds.append(Prediction(e.id, spans[0].text, spans[0].margin, spans[0].start, spans[0].end) if spans
                         else Prediction(e.id, "", -1e9))
    return preds


def scores_at(examples: list[QAExample], preds: dict[str, Prediction], threshold: float | None) -> dict[str, float]:
    golds = {e.id: [a.text for a in e.answers] for e in examples}
    out = {e.id: (preds[e.id].text if threshold is None or preds[e.id].margin > threshold else "") for e in examples}
    return squad_v2_scores(golds, out)


def best_threshold(examples: list[QAExample], preds: dict[str, Prediction]) -> tuple[float, float]:
    """Threshold on the margin that maximises overall F1: answer when margin > threshold.

    One sweep over the examples sorted by margin; each threshold candidate sits just below a margin.
    """
    if not examples:
        return 0.0, 0.0
    rows = []
    for e in examples:
        golds = [a.text for a in e.answers]
        f1_answer = score_one(golds, preds[e.id].text)[1]
        f1_silent = 1.0 if not golds else 0.0
        rows.append((preds[e.id].margin, f1_answer, f1_silent))
    rows.sort(key=lambda r: -r[0])
    total = sum(r[2] for r in rows)  # nothing answered
    best_t, best = rows[0][0] + 1.0, total
    for i, (m, f_ans, f_sil) in enumerate(rows):
        total += f_ans - f_sil
        nxt = rows[i + 1][0] if i + 1 < len(rows) else m - 2.0
        if total > best and nxt < m:  # threshold between this margin and the next lower one
            best, best_t = total, (m + nxt) / 2
    return best_t, 100.0 * best / len(rows)


def evaluate(reader: ExtractiveReader, data: list[str], synthetic_negatives: float = 0.0, seed: int = 7,
             limit: int = 0, tune_data: list[str] | None = None,
             read: dict[tuple[str, str, str], Prediction] | None = None) -> dict:
    """The reader's held-out figures (module docstring). ``read`` keeps the predictions of earlier calls
    with the same reader, by question and context, so measuring one set several ways reads it once."""
    def load(paths: list[str]) -> list[QAExample]:
        examples = load_many(paths)
        if synthetic_negatives:
            examples += add_synthetic_negatives(examples, synthetic_negatives, random.Random(seed))
        if limit:
            examples = random.Random(seed).sample(examples, min(limit, len(examples)))
        return examples

    if tune_data:
        tune, report = load(tune_data), load(data)
        overlap = {e.context for e in tune} & {e.context for e in report}
        if overlap:
            raise OverlappingData(f"{len(overlap)} paragraphs are both in the tuning and the evaluation data")
    else:
        tune, report = split_by_article(load(data))
    read = {} if read is None else read
    unread = [e for e in tune + report if (e.id, e.question, e.context) not in read]
    read.update({(e.id, e.question, e.context): p for e, p in zip(unread, predict(reader, unread))})
    preds = {e.id: read[(e.id, e.question, e.context)] for e in tune + report}
    threshold, tune_f1 = best_threshold(tune, preds)
    result = {
        "data": data,
        "tune_data": tune_data or data,
        "synthetic_negatives": synthetic_negatives,
        "tune_articles": sorted({e.article for e in tune}),
        "report_articles": sorted({e.article for e in report}),
        "threshold": threshold,
        "tune": {"at_threshold": scores_at(tune, preds, threshold), "always_answer": scores_at(tune, preds, None)},
    }
    if report:
        result["report"] = {
            "at_threshold": scores_at(report, preds, threshold),
            "always_answer": scores_at(report, preds, None),
        }
    return result


def format_table(result: dict) -> str:
    rows = []
    head = f"{'part':<8}{'decision':<15}{'EM':>7}{'F1':>7}{'HasAns F1':>11}{'NoAns acc':>11}{'n':>7}"
    rows.append(head)
    for part in ("tune", "report"):
        for dec in ("always_answer", "at_threshold"):
            if part not in result:
                continue
            s = result[part][dec]
            rows.append(f"{part:<8}{dec:<15}{s['exact']:>7.1f}{s['f1']:>7.1f}{s.get('HasAns_f1', float('nan')):>11.1f}"
                        f"{s.get('NoAns_f1', float('nan')):>11.1f}{int(s['total']):>7}")
    rows.append(f"no-answer threshold (margin, tuned on 'tune'): {result['threshold']:.3f}")
    return "\n".join(rows)


def write_json(result: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2))
