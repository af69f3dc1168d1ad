"""What the answer verifier adds to a question: the seed gold questions asked in one process, side by side,
through the pipeline with the shipped five-feature policy and through one whose policy weighs a verifier,
and the verifier's own pass over a question's proposals.

    .venv/bin/python bench/bench_verifier.py --reader runs/reader-v17-verified --verifier runs/verifier/export \
        [--baseline READER_DIR] [--rounds 2]

``--reader`` is a reader folder whose qa_config.json holds a policy fitted with the verifier
(``qa reader calibrate --verifier --write`` or ``qa reader decide --verifier --write-prior P``); ``--baseline``
the reader it is timed against, without a verifier (default: the shipped one). Needs an index (``qa ingest
seeds``). The answer cache is off: every question is read every round.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from serving import percentile

from qa.answering.pipeline import AnswerPipeline
from qa.answering.verifier import Proposal
from qa.evaluation.end_to_end import load_gold
from qa.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reader", required=True)
    ap.add_argument("--verifier", required=True)
    ap.add_argument("--baseline", default=None, help="reader folder timed without a verifier (default: the shipped one)")
    ap.add_argument("--gold", default=str(ROOT / "eval" / "gold.jsonl"))
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    questions = [g.question for g in load_gold(Path(args.gold))]
    base = Settings(answer_cache_size=0)  # repeated rounds must read again
    shipped = AnswerPipeline.from_settings(base if args.baseline is None else base.model_copy(update={"reader_dir": Path(args.baseline)}))
    verified = AnswerPipeline.from_settings(base.model_copy(update={"reader_dir": Path(args.reader),
                                                                   "verifier_dir": Path(args.verifier)}))
    if verified.verifier is None:
        raise SystemExit(f"{args.reader}'s policy does not weigh a verifier: fit one with `qa reader calibrate --verifier --write`")
    for p in (shipped, verified):
        p.ask(questions[0])  # first-call costs out of the figures
    ms: dict[str, list[float]] = {"baseline, no verifier": [], "policy with the verifier": [], "verifier pass alone": []}
    proposals = []
    for _ in range(args.rounds):
        for q in questions:
            for name, p in (("baseline, no verifier", shipped), ("policy with the verifier", verified)):
                t = time.perf_counter()
                p.ask(q)
                ms[name].append(1000 * (time.perf_counter() - t))
            props = [Proposal(q, c.hit.passage.text, c.span.start, c.span.end) for c in shipped.candidates(q)]
            proposals.append(len(props))
            t = time.perf_counter()
            verified.verifier.run(props)
            ms["verifier pass alone"].append(1000 * (time.perf_counter() - t))
    print(f"{len(questions)} questions x {args.rounds}; verifier bf16 {verified.verifier.bf16}, "
          f"{statistics.mean(proposals):.1f} proposals a question")
    for name, v in ms.items():
        print(f"{name:26s} p50 {percentile(v, 0.5):6.0f} ms  p95 {percentile(v, 0.95):6.0f} ms")


if __name__ == "__main__":
    main()
