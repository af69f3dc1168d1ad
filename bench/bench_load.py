"""Load on a real ``qa serve``, in one run on one machine. Two studies:

**Shedding** (the default): ``qa serve`` as shipped (2 questions read at once, 4 waiting), one server for
all runs, each client asking the seed gold questions in turn for ``--seconds``:

- ``baseline``: ``--baseline-clients`` (2) clients, which the bound never sheds;
- ``retry-at-once``: ``--clients`` (16) clients that ask again at once after a 503;
- ``honour-retry-after``: ``--clients`` clients that wait as long as the 503's ``Retry-After`` says.

A prober in a process of its own asks ``/health`` every 50 ms all along. Per run: answered questions a
second (and as a share of the baseline's), their p50/p95, ``/health`` p50/p99, responses by status (a
client-side failure by its exception's name), the refusals' latency as the clients saw it, the refused
requests' own time in the server (``qa_shed_seconds`` in ``/metrics``: the gate's histogram, so its p50 is
a bucket's upper bound, and its mean), and the server process's CPU time (cores busy on average, and CPU
per answered question: what the refusals add to each answer).

    .venv/bin/python bench/bench_load.py [--clients 16] [--seconds 30] [--baseline-clients 2] [--runs ...]

**Servers** (``--servers``): throughput and latency of three servers, with a queue long enough for every
client, so the figures are about reading, not shedding:

- plain: ``qa serve`` as shipped (each question read on its own, ``QA_MAX_CONCURRENT_QUESTIONS`` at a time);
  ``plain-16`` reads 16 at once, as the batched server may, but each on its own;
- batched: ``qa serve --batch-wait-ms W``: concurrent questions share the reader's forward passes;
- ray: ``qa serve --ray --replicas 2``: reading on two Ray Serve replicas (a local Ray), batched too.

    .venv/bin/python bench/bench_load.py --servers plain batched ray [--clients 16] [--seconds 60]

Prints questions answered per second and p50/p95 latency, as ratios to the plain server.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import re
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

from serving import percentile, start_server, stop

REPO = Path(__file__).resolve().parent.parent
SHED_RUNS = ("baseline", "retry-at-once", "honour-retry-after")


def load(base: str, questions: list[str], clients: int, seconds: float, honour_retry_after: bool = False,
         nice: int = 0) -> dict:
    """``clients`` threads, each asking the questions in turn, one at a time, for ``seconds``. After a 503 a
    client asks again at once, or (``honour_retry_after``) waits as long as its ``Retry-After`` says. With
    ``nice``, the client threads run at that lower priority (Linux: per thread), so that on one machine they
    take the CPU the server leaves, as clients on other machines would."""
    answered: list[float] = []
    refused: list[float] = []
    statuses: Counter = Counter()
    lock = threading.Lock()
    begin = threading.Barrier(clients)

    def client(n: int) -> None:
        if nice:
            os.nice(nice)  # this thread only, on Linux
        with httpx.Client(timeout=120) as c:
            begin.wait()
            i = n
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                t0 = time.perf_counter()
                wait = 0.0
                try:
                    r = c.post(base + "/api/ask", json={"question": questions[i % len(questions)]})
                    code: int | str = r.status_code
                    if code in (429, 503) and honour_retry_after:
                        wait = float(r.headers.get("retry-after", "1"))
                except httpx.HTTPError as e:
                    code = type(e).__name__
                dt = time.perf_counter() - t0
                with lock:
                    statuses[code] += 1
                    if code == 200:
                        answered.append(dt)
                    elif code in (429, 503):
                        refused.append(dt)
                if code == 200:
                    i += clients
                elif wait:
                    time.sleep(min(wait, max(0.0, end - time.monotonic())))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return {"clients": clients, "seconds": round(wall, 1), "answered": len(answered),
            "per_second": len(answered) / wall, "p50_ms": 1000 * percentile(answered, 0.5, float("nan")),
            "p95_ms": 1000 * percentile(answered, 0.95, float("nan")),
            "statuses": {str(k): v for k, v in sorted(statuses.items(), key=str)},
            "refused_p50_ms": 1000 * percentile(refused, 0.5, float("nan")),
            "refused_p95_ms": 1000 * percentile(refused, 0.95, float("nan"))}


def _probe(base: str, seconds: float, out) -> None:
    """``/health`` every 50 ms (in a process of its own, so that the clients' threads do not slow it)."""
    times, codes = [], Counter()
    end = time.monotonic() + seconds
    with httpx.Client(timeout=30) as c:
        while time.monotonic() < end:
            t0 = time.perf_counter()
            try:
                code = c.get(base + "/health").status_code
            except httpx.HTTPError as e:
                code = type(e).__name__
            times.append(time.perf_counter() - t0)
            codes[str(code)] += 1
            time.sleep(0.05)
    out.put({"n": len(times), "p50_ms": 1000 * percentile(times, 0.5), "p99_ms": 1000 * percentile(times, 0.99),
             "max_ms": 1000 * max(times, default=0.0), "statuses": dict(codes)})


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (Linux: /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


_SAMPLE = re.compile(r'^qa_shed_seconds_(bucket\{le="([^"]+)"\}|sum|count) (\S+)$', re.M)


def shed_times(base: str) -> dict:
    """The gate's histogram of refused requests' own server time, as ``/metrics`` has it now."""
    text = httpx.get(base + "/metrics", timeout=30).text
    out: dict = {"buckets": {}}
    for kind, le, value in _SAMPLE.findall(text):
        if le:
            out["buckets"][le] = float(value)
        else:
            out[kind] = float(value)
    return out


def shed_summary(before: dict, after: dict) -> dict:
    """The refusals between two scrapes: how many, p50 as the upper bound of the bucket that holds it, mean."""
    count = after.get("count", 0.0) - before.get("count", 0.0)
    total = after.get("sum", 0.0) - before.get("sum", 0.0)
    p50 = float("nan")
    for le in after["buckets"]:  # cumulative, in increasing order
        if after["buckets"][le] - before["buckets"].get(le, 0.0) >= count / 2 and count:
            p50 = float(le) * 1000
            break
    return {"refused": int(count), "p50_ms_at_most": p50, "mean_ms": 1000 * total / count if count else float("nan")}


def shedding(args, questions: list[str]) -> dict:
    # the seed questions repeat: with the answer cache off every one is read, which is what is timed
    env = os.environ | {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "QA_ANSWER_CACHE_SIZE": "0",
                        "QA_INDEX_DIR": args.index or tempfile.mkdtemp(prefix="qa-load-")}
    proc, base = start_server(env, wait_seconds=300)
    results = {}
    try:
        load(base, questions, args.baseline_clients, min(5.0, args.seconds))  # warm-up: first reads, thread pools
        for name in args.runs:
            time.sleep(2)  # the queue of the run before drains
            clients = args.baseline_clients if name == "baseline" else args.clients
            probes = multiprocessing.get_context("spawn").Queue()
            prober = multiprocessing.get_context("spawn").Process(target=_probe, args=(base, args.seconds, probes))
            before, cpu = shed_times(base), cpu_seconds(proc.pid)
            prober.start()
            r = load(base, questions, clients, args.seconds, honour_retry_after=name == "honour-retry-after",
                     nice=args.client_nice)
            cpu = cpu_seconds(proc.pid) - cpu
            r["health"] = probes.get(timeout=60)
            prober.join()
            r["shed_server"] = shed_summary(before, shed_times(base))
            r["server_cpu"] = {"seconds": cpu, "cores": cpu / r["seconds"],
                               "ms_per_answer": 1000 * cpu / r["answered"] if r["answered"] else float("nan")}
            results[name] = r
    finally:
        stop(proc)
    base_rate = results.get("baseline", {}).get("per_second")
    print(f"qa serve as shipped, {args.seconds:g} s a run, CPU: {_cpu()}, {os.cpu_count()} cores"
          + (f", clients at nice {args.client_nice}" if args.client_nice else ""))
    print(f"{'run':<20}{'clients':>8}{'answered/s':>11}{'vs base':>8}{'p50/p95 ms':>13}{'/health p50/p99 ms':>20}"
          f"{'refused: client p50':>21}{'server p50 / mean':>19}{'server CPU':>12}{'ms/answer':>10}  statuses")
    for name, r in results.items():
        share = f"{r['per_second'] / base_rate:.0%}" if base_rate else "-"
        h, s = r["health"], r["shed_server"]
        server = f"≤{s['p50_ms_at_most']:g} / {s['mean_ms']:.3f} ms" if s["refused"] else "-"
        print(f"{name:<20}{r['clients']:>8}{r['per_second']:>11.2f}{share:>8}{r['p50_ms']:>7.0f}/{r['p95_ms']:<5.0f}"
              f"{h['p50_ms']:>12.1f} / {h['p99_ms']:<5.1f}{r['refused_p50_ms']:>18.1f} ms{server:>19}"
              f"{r['server_cpu']['cores']:>8.2f} cores{r['server_cpu']['ms_per_answer']:>10.0f}  {r['statuses']}")
    return {"study": "shedding", "seconds": args.seconds, "client_nice": args.client_nice, "cpu": _cpu(),
            "cores": os.cpu_count(), "results": results}


SERVERS = {
    "plain": ((), {}),
    "plain-16": ((), {"QA_MAX_CONCURRENT_QUESTIONS": "16"}),  # as many read at once as batched, without batching
    "batched": (("--batch-wait-ms", "5"), {"QA_MAX_CONCURRENT_QUESTIONS": "16"}),
    "ray": (("--ray", "--replicas", "2"), {"QA_MAX_CONCURRENT_QUESTIONS": "16"}),
}


def servers(args, questions: list[str]) -> dict:
    results = {}
    for name in args.servers:
        extra_args, extra_env = SERVERS[name]
        env = os.environ | {"QA_INDEX_DIR": args.index or str(REPO / "index"), "QA_ANSWER_CACHE_SIZE": "0",
                            "QA_MAX_QUEUED_QUESTIONS": str(2 * args.clients), "QA_REQUEST_DEADLINE_SECONDS": "120"} | extra_env
        proc, base = start_server(env, extra_args, wait_seconds=300)
        try:
            load(base, questions, args.clients, min(10.0, args.seconds))  # warm-up: first reads, thread pools
            results[name] = load(base, questions, args.clients, args.seconds)
        finally:
            stop(proc)
    plain = results.get("plain")
    print(f"{args.clients} clients, {args.seconds:g} s each, CPU: {_cpu()}, {os.cpu_count()} cores")
    print(f"{'server':<10}{'answered/s':>12}{'p50 ms':>10}{'p95 ms':>10}  ratios to plain (throughput, p50, p95)  statuses")
    for name, r in results.items():
        ratios = (f"{r['per_second'] / plain['per_second']:.2f}x, {r['p50_ms'] / plain['p50_ms']:.2f}x, "
                  f"{r['p95_ms'] / plain['p95_ms']:.2f}x") if plain else "-"
        print(f"{name:<10}{r['per_second']:>12.2f}{r['p50_ms']:>10.0f}{r['p95_ms']:>10.0f}  {ratios:<38}  {r['statuses']}")
    return {"study": "servers", "clients": args.clients, "seconds": args.seconds, "results": results}


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--baseline-clients", type=int, default=2, help="clients of the shedding study's baseline run")
    ap.add_argument("--client-nice", type=int, default=0,
                    help="run the shedding study's clients at this lower CPU priority (0: the server's)")
    ap.add_argument("--runs", nargs="+", choices=SHED_RUNS, default=list(SHED_RUNS), help="the shedding study's runs")
    ap.add_argument("--servers", nargs="+", choices=list(SERVERS), help="compare these servers instead (reading throughput)")
    ap.add_argument("--index", default="", help="index folder (default: a fresh qa ingest of seeds/ for shedding, "
                                                "the repo's index/ for --servers)")
    ap.add_argument("--out", help="write the figures as JSON here")
    args = ap.parse_args()
    questions = [json.loads(line)["question"] for line in (REPO / "eval" / "gold.jsonl").read_text().splitlines()
                 if line.strip()]
    report = servers(args, questions) if args.servers else shedding(args, questions)
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
