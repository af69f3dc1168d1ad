"""95% bootstrap intervals for the figures of ``qa eval --out`` files, from their per-question rows: F1, HasAns F1
and no-answer accuracy. Answerable and unanswerable questions are resampled apart (10,000 times, fixed seed), so
every resample holds as many of each as the gold set.

    .venv/bin/python bench/eval_intervals.py docs/results/e2e-seeds-v17-bf16.json [more files]
"""

from __future__ import annotations

import argparse
import json

import numpy as np


def figures(f1: np.ndarray, answerable: np.ndarray, answered: np.ndarray) -> dict[str, float]:
    return {"F1": 100 * f1.mean(), "HasAns F1": 100 * f1[answerable].mean(),
            "no-answer accuracy": 100 * (~answered[~answerable]).mean()}


def intervals(rows: list[dict], n: int = 10_000, seed: int = 0) -> dict[str, tuple[float, float, float]]:
    f1 = np.array([r["f1"] for r in rows], dtype=float)
    answerable = np.array([r["answerable"] for r in rows])
    answered = np.array([r["answered"] for r in rows])
    has, no = np.flatnonzero(answerable), np.flatnonzero(~answerable)
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(n):
        idx = np.concatenate([rng.choice(has, len(has)), rng.choice(no, len(no))])
        boots.append(figures(f1[idx], answerable[idx], answered[idx]))
    point = figures(f1, answerable, answered)
    return {k: (v, float(np.percentile([b[k] for b in boots], 2.5)), float(np.percentile([b[k] for b in boots], 97.5)))
            for k, v in point.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+", help="qa eval --out files")
    args = ap.parse_args()
    for path in args.files:
        rows = json.loads(open(path).read())["end_to_end"]["rows"]
        print(f"{path} ({sum(r['answerable'] for r in rows)} answerable, {sum(not r['answerable'] for r in rows)} not)")
        for name, (value, low, high) in intervals(rows).items():
            print(f"  {name}: {value:.1f} [{low:.1f}, {high:.1f}]")


if __name__ == "__main__":
    main()
