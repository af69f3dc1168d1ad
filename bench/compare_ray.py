"""Whole-system check on a local Ray: an index written by ``qa ingest --ray`` and one written by ``qa ingest``
give the same top-5 search results, and ``qa serve --ray --replicas 2`` over it answers the seed gold
questions as a plain ``qa serve`` over the plain index does (same answers, scores and citations).

    .venv/bin/python bench/compare_ray.py [--questions 67]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
from pathlib import Path

import httpx

from serving import QA, start_server, stop

REPO = Path(__file__).resolve().parent.parent


def responses(base: str, questions: list[str]) -> tuple[list, list]:
    asks, searches = [], []
    with httpx.Client(timeout=120) as c:
        for q in questions:
            body = c.post(base + "/api/ask", json={"question": q}).json()
            body.pop("took_ms")
            asks.append(body)
            hits = c.get(base + "/api/search", params={"q": q, "k": 5}).json()
            searches.append([(h["doc_id"], h["start"], h["end"]) for h in hits["results"]])
    return asks, searches


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--questions", type=int, default=67)
    args = ap.parse_args()
    questions = [json.loads(line)["question"] for line in (REPO / "eval" / "gold.jsonl").read_text().splitlines()]
    questions = questions[: args.questions]
    with tempfile.TemporaryDirectory() as tmp:
        plain, ray = Path(tmp) / "plain", Path(tmp) / "ray"
        subprocess.run([QA, "ingest", str(REPO / "seeds"), "--index", str(plain)], check=True, capture_output=True)
        subprocess.run([QA, "ingest", "--ray", str(REPO / "seeds"), "--index", str(ray)], check=True, capture_output=True)
        got = {}
        for name, index, extra in (("plain", plain, ()), ("ray", ray, ("--ray", "--replicas", "2"))):
            proc, base = start_server(os.environ | {"QA_INDEX_DIR": str(index)}, extra, wait_seconds=300)
            try:
                got[name] = responses(base, questions)
            finally:
                stop(proc)
    def cited(body):  # the answers and their citations; scores apart (bf16 sums differ with batch and thread count)
        return [(a["text"], [(c["doc_id"], c["start"], c["end"]) for c in a["citations"]]) for a in body["answers"]]

    def scores(body):
        return [a["score"] for a in body["answers"]]

    same_search = sum(a == b for a, b in zip(got["plain"][1], got["ray"][1]))
    same_answers = sum(cited(a) == cited(b) for a, b in zip(got["plain"][0], got["ray"][0]))
    gaps = [abs(x - y) for a, b in zip(got["plain"][0], got["ray"][0]) if cited(a) == cited(b)
            for x, y in zip(scores(a), scores(b))]
    answered = sum(bool(a["answers"]) for a in got["plain"][0])
    print(f"{len(questions)} questions: same top-5 search {same_search}, same answers and citations {same_answers} "
          f"({answered} answered by the plain server); largest score difference {max(gaps, default=0):.4f}")
    for a, b in zip(got["plain"][0], got["ray"][0]):
        if cited(a) != cited(b):
            print("differs:", a["question"], [x["text"] for x in a["answers"]], [x["text"] for x in b["answers"]])


if __name__ == "__main__":
    main()
