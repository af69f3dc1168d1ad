"""Ingest time for seeds/ and /api/ask latency over a real HTTP server.

    .venv/bin/python bench/bench_service.py [--gold eval/gold.jsonl] [--rounds 2]

Builds a fresh index from seeds/ in a temp folder (timed: cold, then an incremental no-op), starts
`qa serve` on it, sends every gold question `rounds` times over HTTP, and prints p50/p95/mean.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
QA = str(ROOT / ".venv" / "bin" / "qa")


def timed(cmd: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gold", default=str(ROOT / "eval" / "gold.jsonl"))
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--port", type=int, default=8765)
    args = ap.parse_args()
    questions = [json.loads(line)["question"] for line in Path(args.gold).read_text().splitlines() if line.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "QA_INDEX_DIR": f"{tmp}/index"}
        cold = timed([QA, "ingest", str(ROOT / "seeds")], env)
        noop = timed([QA, "ingest", str(ROOT / "seeds")], env)
        t0 = time.perf_counter()
        server = subprocess.Popen([QA, "serve", "--port", str(args.port)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            url = f"http://127.0.0.1:{args.port}"
            while True:
                try:
                    if httpx.get(url + "/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if server.poll() is not None or time.perf_counter() - t0 > 120:
                    sys.exit("server did not start")
                time.sleep(0.2)
            startup = time.perf_counter() - t0
            lat = []
            with httpx.Client(base_url=url, timeout=60) as c:
                c.post("/api/ask", json={"question": "warm up"})
                for _ in range(args.rounds):
                    for q in questions:
                        t = time.perf_counter()
                        r = c.post("/api/ask", json={"question": q})
                        lat.append((time.perf_counter() - t) * 1000)
                        assert r.status_code == 200, r.text
        finally:
            server.terminate()
            server.wait()
    lat.sort()
    q = statistics.quantiles(lat, n=100)
    print(f"ingest seeds/ (cold, includes process start and model load): {cold:.1f} s")
    print(f"ingest seeds/ again (nothing changed):                     {noop:.1f} s")
    print(f"serve start until /health is 200:                           {startup:.1f} s")
    print(f"/api/ask over HTTP, {len(lat)} requests ({len(questions)} questions x {args.rounds}): "
          f"p50 {q[49]:.0f} ms, p95 {q[94]:.0f} ms, mean {statistics.fmean(lat):.0f} ms")


if __name__ == "__main__":
    main()
