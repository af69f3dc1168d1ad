"""Teacher -> students in one go: train an all-mpnet-base-v2 reader (the teacher), then MiniLM readers
distilled from it, each measured on the held-out SQuAD articles; the best student is packed for the trip back.

Made for a lent GPU machine (minutes there instead of days on 2 CPU cores), and runs on the CPU
too (tests run it tiny). It calls the same ``train`` and ``evaluate`` as ``qa reader train`` /
``qa reader eval``, without the CLI (the GPU machine has torch and transformers, not the service's
web stack). Every run's config, timing and held-out figures go to ``RESULTS/results.json`` as they finish,
and the best student so far (by the sum of the two held-out articles' HasAns F1) to ``RESULTS/best.part*``.

    python scripts/distill_pipeline.py --data-dir D --heldout D/squad_dev.json --teacher-base T \\
        --student-base S --work runs/gpu --results OUT [--students student-b,control] [--budget-minutes 7] [--tiny]

Session 9 ran the default order and its time budget stopped before "control", so v12 (student-b) has no
teacher-free twin yet; ``--students student-b,control`` runs the pair first.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from qa.reader.evaluate import evaluate  # noqa: E402
from qa.reader.model import ExtractiveReader  # noqa: E402
from qa.reader.train import TrainConfig, resolve_device, train  # noqa: E402
from weights_transport import pack  # noqa: E402

# v9's data mix (models/reader/README.md): every file but the held-out one, answers over 10 words left out
DATA_FILES = ("squad_train.json", "xquad_en.json", "qed_nq.json", "fairytaleqa.json", "policyqa.json", "covidqa.json")


# Student recipes, run in the order --students names them. "teacher": True means distilled from this run's teacher.
STUDENTS = {
    "student-a": dict(teacher=True, distill_alpha=0.8, temperature=2.0, lr=1e-4, epochs=4, seed=41, keep_negative_windows=0.5),
    # v12 (session 9): 8 epochs from the base encoder, mostly the teacher's distributions
    "student-b": dict(teacher=True, distill_alpha=0.9, temperature=2.0, lr=1.5e-4, epochs=8, seed=42, keep_negative_windows=0.5),
    # student-b without the teacher: what distillation itself adds
    "control": dict(lr=1.5e-4, epochs=8, seed=42, keep_negative_windows=0.5),
}


def heldout_f1(result: dict) -> tuple[float, float]:
    """HasAns F1 (always answering) on the two halves of the held-out articles: tune, report."""
    return (result["tune"]["always_answer"].get("HasAns_f1", 0.0),
            result.get("report", {}).get("always_answer", {}).get("HasAns_f1", 0.0))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--heldout", type=Path, required=True)
    ap.add_argument("--teacher-base", required=True)
    ap.add_argument("--student-base", required=True)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--results", type=Path, required=True)
    ap.add_argument("--budget-minutes", type=float, default=7.0, help="start no new student after this long")
    ap.add_argument("--teacher-epochs", type=float, default=2.0)
    ap.add_argument("--students", default="student-a,student-b,control",
                    help=f"comma-separated recipes, run in this order: {', '.join(STUDENTS)}")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--tiny", action="store_true", help="a few questions per file and a few batches (a smoke test)")
    args = ap.parse_args()

    chosen = [n.strip() for n in args.students.split(",") if n.strip()]
    unknown = [n for n in chosen if n not in STUDENTS]
    if unknown:
        raise SystemExit(f"unknown student recipe(s) {unknown}: choose from {sorted(STUDENTS)}")
    device = resolve_device(args.device).type  # once: every run and every evaluation use the same device
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    started = time.monotonic()
    args.results.mkdir(parents=True, exist_ok=True)
    data = [str(args.data_dir / f) for f in DATA_FILES if (args.data_dir / f).exists()]
    common = dict(data=data, holdout=[str(args.heldout)], max_length=256, stride=64, batch_size=32, warmup=0.1,
                  synthetic_negatives=0.25, keep_negative_windows=0.2, max_examples_per_source=6000,
                  max_answer_words=10, checkpoint_minutes=1e6, threads=min(8, os.cpu_count() or 1), device=device, log_every=100,
                  bf16=device == "cuda")  # CPUs without AMX run bf16 far slower
    if args.tiny:
        common.update(max_examples_per_source=6, max_length=96, stride=32, batch_size=4)
    eval_limit = 60 if args.tiny else 0
    results: dict = {"runs": [], "best": None}
    out_json = args.results / "results.json"

    def run(name: str, **kw) -> dict:
        t0 = time.monotonic()
        cfg = TrainConfig(out=str(args.work / name), **{**common, **kw})
        final = train(cfg)
        trained_s = time.monotonic() - t0
        reader = ExtractiveReader(final, dtype="float32", device=device, batch_size=64)
        ev = evaluate(reader, [str(args.heldout)], synthetic_negatives=0.2, limit=eval_limit)
        ev.pop("data", None)
        row = {"name": name, "config": asdict(cfg), "train_seconds": round(trained_s, 1),
               "eval_seconds": round(time.monotonic() - t0 - trained_s, 1), "heldout_hasans_f1": heldout_f1(ev),
               "eval": ev, "final": str(final)}
        logging.info("%s: held-out HasAns F1 tune/report %.1f/%.1f (train %.0f s)", name, *row["heldout_hasans_f1"],
                     trained_s)
        results["runs"].append(row)
        out_json.write_text(json.dumps(results, indent=2))
        return row

    teacher = run("teacher", base_model=args.teacher_base, lr=5e-5, epochs=0.5 if args.tiny else args.teacher_epochs,
                  seed=31)
    students = [(name, {**STUDENTS[name], **({"teacher": teacher["final"]} if STUDENTS[name].get("teacher") else {})})
                for name in chosen]
    best_sum = -1.0
    for name, kw in students:
        if time.monotonic() - started > args.budget_minutes * 60:
            logging.info("budget spent: %s not run", name)
            continue
        if args.tiny:
            kw["epochs"] = 1
        row = run(name, base_model=args.student_base, **kw)
        if sum(row["heldout_hasans_f1"]) > best_sum:
            best_sum = sum(row["heldout_hasans_f1"])
            for old in args.results.glob("best.part*"):
                old.unlink()
            pack(Path(row["final"]), str(args.results / "best"), part_mb=15, fp16=True)
            results["best"] = name
            out_json.write_text(json.dumps(results, indent=2))
    results["total_seconds"] = round(time.monotonic() - started, 1)
    out_json.write_text(json.dumps(results, indent=2))
    logging.info("done in %.0f s; best student: %s", results["total_seconds"], results["best"])


if __name__ == "__main__":
    main()
