"""Throughput and latency under concurrent clients for three servers, in one run on one machine:

- plain: ``qa serve`` as shipped (each question read on its own, ``QA_MAX_CONCURRENT_QUESTIONS`` at a time);
  ``plain-16`` reads 16 at once, as the batched server may, but each on its own;
- batched: ``qa serve --batch-wait-ms W``: concurrent questions share the reader's forward passes;
- ray: ``qa serve --ray --replicas 2``: reading on two Ray Serve replicas (a local Ray), batched too.

    .venv/bin/python bench/bench_load.py [--clients 16] [--seconds 60] [--servers plain batched ray]

Each client asks the seed gold set's questions in turn, one at a time, for the whole period. The queue is
made long enough for every client, so the figures are about reading, not shedding (``bench_shedding.py``
covers that). Prints questions answered per second and p50/p95 latency, as ratios to the plain server.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import threading
import time
from pathlib import Path

import httpx

from serving import percentile, start_server, stop

REPO = Path(__file__).resolve().parent.parent


def load(base: str, questions: list[str], clients: int, seconds: float) -> dict:
    latencies: list[float] = []
    failures: dict[str, int] = {}
    lock = threading.Lock()
    begin = threading.Barrier(clients)

    def client(n: int) -> None:
        with httpx.Client(timeout=120) as c:
            begin.wait()
            i = n
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                t0 = time.perf_counter()
                try:
                    r = c.post(base + "/api/ask", json={"question": questions[i % len(questions)]})
                    code = r.status_code
                except httpx.HTTPError as e:
                    code = type(e).__name__
                with lock:
                    if code == 200:
                        latencies.append(time.perf_counter() - t0)
                    else:
                        failures[str(code)] = failures.get(str(code), 0) + 1
                i += clients

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return {"answered": len(latencies), "per_second": len(latencies) / wall, "p50_ms": 1000 * percentile(latencies, 0.5, float("nan")),
            "p95_ms": 1000 * percentile(latencies, 0.95, float("nan")), "failures": failures, "seconds": round(wall, 1)}


SERVERS = {
    "plain": ((), {}),
    "plain-16": ((), {"QA_MAX_CONCURRENT_QUESTIONS": "16"}),  # as many read at once as batched, without batching
    "batched": (("--batch-wait-ms", "5"), {"QA_MAX_CONCURRENT_QUESTIONS": "16"}),
    "ray": (("--ray", "--replicas", "2"), {"QA_MAX_CONCURRENT_QUESTIONS": "16"}),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--servers", nargs="+", choices=list(SERVERS), default=["plain", "batched", "ray"])
    ap.add_argument("--index", default=str(REPO / "index"), help="index folder (default: the repo's index/)")
    ap.add_argument("--out", help="write the figures as JSON here")
    args = ap.parse_args()
    questions = [json.loads(line)["question"] for line in (REPO / "eval" / "gold.jsonl").read_text().splitlines()]
    results = {}
    for name in args.servers:
        extra_args, extra_env = SERVERS[name]
        env = os.environ | {"QA_INDEX_DIR": args.index, "QA_MAX_QUEUED_QUESTIONS": str(2 * args.clients),
                            "QA_REQUEST_DEADLINE_SECONDS": "120"} | extra_env
        proc, base = start_server(env, extra_args, wait_seconds=300)
        try:
            load(base, questions, args.clients, min(10.0, args.seconds))  # warm-up: first reads, thread pools
            results[name] = load(base, questions, args.clients, args.seconds)
        finally:
            stop(proc)
    plain = results.get("plain")
    print(f"{args.clients} clients, {args.seconds:g} s each, CPU: {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores")
    print(f"{'server':<10}{'answered/s':>12}{'p50 ms':>10}{'p95 ms':>10}  ratios to plain (throughput, p50, p95)  failures")
    for name, r in results.items():
        ratios = (f"{r['per_second'] / plain['per_second']:.2f}x, {r['p50_ms'] / plain['p50_ms']:.2f}x, "
                  f"{r['p95_ms'] / plain['p95_ms']:.2f}x") if plain else "-"
        print(f"{name:<10}{r['per_second']:>12.2f}{r['p50_ms']:>10.0f}{r['p95_ms']:>10.0f}  {ratios:<38}  {r['failures'] or ''}")
    if args.out:
        Path(args.out).write_text(json.dumps({"clients": args.clients, "seconds": args.seconds, "results": results}, indent=2))


if __name__ == "__main__":
    main()
