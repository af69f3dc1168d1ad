"""Worst-case load against a real ``qa serve``: N clients send 1,000-character questions with top_k 50 for
a while, and a prober asks ``/health`` all along. The service must shed (fast 503s) instead of collapsing.

    .venv/bin/python bench/bench_shedding.py [--clients 16] [--seconds 30]

Prints the status codes, accepted requests' latency (p50/p95/max, all within QA_REQUEST_DEADLINE_SECONDS),
the 503s' latency, and /health's p99. ``tests/web/test_load.py`` runs it briefly in CI.
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics
import threading
import time

import httpx

from serving import percentile, start_server, stop

QUESTION = ("Which officers of Military Region 4 attended the coordination conference, and what did the offices of "
            "the six provinces agree to do together? ") * 8


def load(base: str, clients: int, seconds: float) -> dict:
    """Run the load; the counts and latencies it saw."""
    stop = time.monotonic() + seconds
    statuses: collections.Counter = collections.Counter()
    accepted, shed, health = [], [], []
    lock = threading.Lock()
    body = {"question": QUESTION[:1000], "top_k": 50}

    def client() -> None:
        with httpx.Client(timeout=120) as c:
            while time.monotonic() < stop:
                t0 = time.perf_counter()
                try:
                    r = c.post(base + "/api/ask", json=body)
                    code = r.status_code
                except httpx.HTTPError as e:
                    code = type(e).__name__
                dt = time.perf_counter() - t0
                with lock:
                    statuses[code] += 1
                    (accepted if code == 200 else shed if code == 503 else []).append(dt)
                if code == 503:
                    time.sleep(0.2)  # as Retry-After asks, a little

    def prober() -> None:
        with httpx.Client(timeout=30) as c:
            while time.monotonic() < stop:
                t0 = time.perf_counter()
                r = c.get(base + "/health")
                health.append((time.perf_counter() - t0, r.status_code))
                time.sleep(0.05)

    threads = [threading.Thread(target=client) for _ in range(clients)] + [threading.Thread(target=prober)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"statuses": dict(statuses), "accepted_s": accepted, "shed_s": shed,
            "health_s": [h for h, _ in health], "health_codes": collections.Counter(c for _, c in health)}


def summary(result: dict) -> str:
    a, s, h = result["accepted_s"], result["shed_s"], result["health_s"]
    return (f"statuses {result['statuses']}; accepted p50 {percentile(a, .5):.2f} s, p95 {percentile(a, .95):.2f} s, "
            f"max {max(a, default=0):.2f} s; 503 p50 {1000 * percentile(s, .5):.0f} ms; "
            f"/health p50 {1000 * percentile(h, .5):.0f} ms, p99 {1000 * percentile(h, .99):.0f} ms over {len(h)}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--index", default="", help="index folder (default: a fresh qa ingest of seeds/)")
    args = ap.parse_args()
    # repeated questions must be read each time (no answer cache): the bench times reading under load
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "QA_ANSWER_CACHE_SIZE": "0"}
    if args.index:
        env["QA_INDEX_DIR"] = args.index
    else:
        import tempfile

        env["QA_INDEX_DIR"] = tempfile.mkdtemp(prefix="qa-shed-")
    proc, base = start_server(env)
    try:
        result = load(base, args.clients, args.seconds)
    finally:
        stop(proc)
    print(f"{args.clients} clients, {args.seconds:g} s, deadline {os.environ.get('QA_REQUEST_DEADLINE_SECONDS', '15')} s: "
          + summary(result))
    print("mean accepted", f"{statistics.fmean(result['accepted_s']):.2f} s" if result["accepted_s"] else "-")


if __name__ == "__main__":
    main()
