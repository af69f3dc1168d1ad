"""End-to-end evaluation on a gold file, through the same pipeline the API uses.

Gold file: JSON lines ``{"id", "question", "doc_id", "answers": [verbatim strings]}``; a question
the articles do not answer has ``"answers": []`` (and ``doc_id`` null).

Reports answer EM/F1 (SQuAD rules, top answer; "" when the service says "not found"), doc@1 (the
top answer cites the right article), no-answer accuracy, citation validity, latency, and for each
retrieval mode the answer recall@1/3/5 (a retrieved passage of the right article holds a gold
answer verbatim) and MRR@10.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path

from qa.answering.pipeline import AnswerPipeline
from qa.evaluation.squad import score_one
from qa.search.retriever import Hit
from qa.settings import MODES


@dataclass(frozen=True)
class GoldQuestion:
    id: str
    question: str
    doc_id: str | None
    answers: list[str]


def load_gold(path: Path) -> list[GoldQuestion]:
    out = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            out.append(GoldQuestion(str(d["id"]), d["question"], d.get("doc_id"), list(d.get("answers") or [])))
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise ValueError(f"{path}: line {n}: {e}") from None
    return out


def _percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    if not xs:
        return 0.0
    k = (len(xs) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def answer_rank(hits: list[Hit], doc_id: str | None, answers: list[str]) -> int | None:
    """1-based rank of the first hit from ``doc_id`` (any article if None) holding a gold answer verbatim."""
    return next((r for r, h in enumerate(hits, 1)
                 if (doc_id is None or h.passage.doc_id == doc_id) and any(a in h.passage.text for a in answers)), None)


def retrieval_recall(pipeline: AnswerPipeline, gold: list[GoldQuestion], ks=(1, 3, 5), depth: int = 10) -> dict:
    answerable = [g for g in gold if g.answers]
    out = {}
    for mode in MODES:
        hits_at = {k: 0 for k in ks}
        rr = 0.0
        for g in answerable:
            rank = answer_rank(pipeline.retriever.search(g.question, depth, mode), g.doc_id, g.answers)
            if rank:
                rr += 1.0 / rank
                for k in ks:
                    hits_at[k] += rank <= k
        n = max(1, len(answerable))
        out[mode] = {**{f"recall@{k}": 100.0 * hits_at[k] / n for k in ks}, "mrr@10": rr / n, "questions": len(answerable)}
    return out


def cut_inside_a_word(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` starts or ends in the middle of a word ("ong" of "Cuong")."""
    return (start > 0 and text[start - 1].isalnum() and text[start].isalnum()) or (
        end < len(text) and text[end - 1].isalnum() and text[end].isalnum())


def lists_evidence_twice(answers) -> bool:
    """Whether two answers of one response cite overlapping places of the same document."""
    seen: list[tuple[int, str, int, int]] = []
    for n, a in enumerate(answers):
        for c in a.citations:
            if any(m != n and d == c.doc_id and s < c.end and c.start < e for m, d, s, e in seen):
                return True
        seen.extend((n, c.doc_id, c.start, c.end) for c in a.citations)
    return False


_KINDS = ("who", "what", "when", "where", "which", "how many", "how much", "how", "why")


def question_kind(question: str) -> str:
    """The question's wh-word ("how many" before "how"), or "other"."""
    q = " ".join(question.lower().split())
    found = [(q.find(k), -len(k), k) for k in _KINDS if q.startswith(k + " ") or f" {k} " in f" {q} "]
    return min(found)[2] if found else "other"


def calibration(rows: list[dict], bins: int = 10) -> dict:
    """How well the top answer's ``score`` predicts that it is right (F1 >= 0.5): the expected calibration
    error over equal-width bins, and each bin's mean score, accuracy and count (answered questions only)."""
    scored = [(r["score"], r["f1"] >= 0.5) for r in rows if r["score"] is not None]
    table = []
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        inside = [(p, ok) for p, ok in scored if lo <= p < hi or (b == bins - 1 and p == 1.0)]
        if inside:
            table.append({"from": lo, "to": hi, "count": len(inside), "mean_score": sum(p for p, _ in inside) / len(inside),
                          "accuracy": sum(ok for _, ok in inside) / len(inside)})
    ece = sum(t["count"] * abs(t["mean_score"] - t["accuracy"]) for t in table) / max(1, len(scored))
    return {"answered": len(scored), "expected_calibration_error": ece, "bins": table}


def reliability_plot(cal: dict, path: Path, title: str) -> None:
    """The calibration as a reliability diagram (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.8, 4.8), dpi=120)
    ax.plot([0, 1], [0, 1], "--", color="grey", lw=1, label="perfectly calibrated")
    xs = [t["mean_score"] for t in cal["bins"]]
    ax.plot(xs, [t["accuracy"] for t in cal["bins"]], "o-", color="#2457c5", label="top answers")
    for t in cal["bins"]:
        ax.annotate(str(t["count"]), (t["mean_score"], t["accuracy"]), textcoords="offset points", xytext=(4, -10), fontsize=7)
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="score (predicted probability of a right answer)",
           ylabel="share right (F1 >= 0.5)", title=f"{title}\nECE {cal['expected_calibration_error']:.3f}, "
           f"{cal['answered']} answered")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def evaluate_pipeline(pipeline: AnswerPipeline, gold: list[GoldQuestion], top_k: int | None = None) -> dict:
    docs = pipeline.retriever.index.documents
    rows = []
    latencies = []
    citations = valid = cut = twice = 0
    for g in gold:
        res = pipeline.ask(g.question, top_k=top_k)
        latencies.append(res.took_ms)
        pred = res.answers[0].text if res.answers else ""
        em, f1 = score_one(g.answers, pred)
        for a in res.answers:
            for c in a.citations:
                citations += 1
                d = docs.get(c.doc_id)
                valid += bool(d and d.text[c.start : c.end] == a.text
                              and d.text[c.passage_start : c.passage_start + len(c.passage)] == c.passage)
                cut += bool(d and cut_inside_a_word(d.text, c.start, c.end))
        twice += lists_evidence_twice(res.answers)
        top_doc = res.answers[0].citations[0].doc_id if res.answers else None
        rows.append({"id": g.id, "question": g.question, "kind": question_kind(g.question), "gold": g.answers,
                     "pred": pred, "em": em, "f1": f1,
                     "answerable": bool(g.answers), "answered": bool(res.answers),
                     "doc_ok": bool(g.answers) and top_doc == g.doc_id,
                     "score": res.answers[0].score if res.answers else None, "ms": res.took_ms})
    has = [r for r in rows if r["answerable"]]
    no = [r for r in rows if not r["answerable"]]
    # None (JSON null) for a group with no questions: NaN is not JSON, and strict parsers refuse the file
    mean = lambda xs: 100.0 * sum(xs) / len(xs) if xs else None  # noqa: E731
    return {
        "questions": len(rows),
        "answerable": len(has),
        "unanswerable": len(no),
        "exact": mean([r["em"] for r in rows]),
        "f1": mean([r["f1"] for r in rows]),
        "HasAns_exact": mean([r["em"] for r in has]),
        "HasAns_f1": mean([r["f1"] for r in has]),
        "answered_when_answerable": mean([r["answered"] for r in has]),
        "doc@1": mean([r["doc_ok"] for r in has]),
        "no_answer_accuracy": mean([not r["answered"] for r in no]),
        "citations": citations,
        "citation_validity": mean([1.0] * valid + [0.0] * (citations - valid)) if citations else 100.0,
        "citations_cut_inside_a_word": cut,
        "calibration": calibration(rows),
        "by_kind": {k: {"questions": len(rs), "exact": mean([r["em"] for r in rs]), "f1": mean([r["f1"] for r in rs]),
                        "no_answer_accuracy": mean([not r["answered"] for r in rs if not r["answerable"]])}
                    for k in sorted({r["kind"] for r in rows}) for rs in [[r for r in rows if r["kind"] == k]]},
        "responses_listing_evidence_twice": twice,
        "latency_ms": {"p50": _percentile(latencies, 0.5), "p95": _percentile(latencies, 0.95),
                       "mean": statistics.fmean(latencies) if latencies else 0.0},
        "rows": rows,
    }


def _pct(x: float | None, unit: str = "") -> str:
    return "n/a" if x is None else f"{x:.1f}{unit}"


def format_report(result: dict) -> str:
    e = result["end_to_end"]
    lines = [
        f"questions {e['questions']} ({e['answerable']} answerable, {e['unanswerable']} not)",
        f"EM {_pct(e['exact'])}  F1 {_pct(e['f1'])}  |  HasAns EM {_pct(e['HasAns_exact'])}  HasAns F1 {_pct(e['HasAns_f1'])}",
        f"doc@1 {_pct(e['doc@1'], '%')}  answered when answerable {_pct(e['answered_when_answerable'], '%')}  "
        f"no-answer accuracy {_pct(e['no_answer_accuracy'], '%')}",
        f"citations valid {e['citation_validity']:.1f}% of {e['citations']}; cut inside a word {e['citations_cut_inside_a_word']}; "
        f"responses listing overlapping evidence twice {e['responses_listing_evidence_twice']} of {e['questions']}",
        f"latency ms: p50 {e['latency_ms']['p50']:.0f}  p95 {e['latency_ms']['p95']:.0f}",
        f"score calibration: expected calibration error {e['calibration']['expected_calibration_error']:.3f} "
        f"over {e['calibration']['answered']} answered questions",
        "by kind: " + ", ".join(f"{k} F1 {_pct(v['f1'])} (n={v['questions']})" for k, v in e["by_kind"].items()),
        "",
        f"{'retrieval':<10}{'R@1':>7}{'R@3':>7}{'R@5':>7}{'MRR@10':>8}",
    ]
    for mode, r in result["retrieval"].items():
        lines.append(f"{mode:<10}{r['recall@1']:>7.1f}{r['recall@3']:>7.1f}{r['recall@5']:>7.1f}{r['mrr@10']:>8.3f}")
    return "\n".join(lines)
