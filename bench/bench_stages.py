"""Where a question's time goes: ``/api/ask`` broken into its stages, on the CPU it runs on, in one run.

    .venv/bin/python bench/bench_stages.py [--index DIR] [--rounds 3] [--out FILE] [--answer-cache]

Serves the app in this process, as ``qa serve`` does (uvicorn with the shedding gate in front, the reader
``qa serve`` would load from ``QA_*`` settings), over the seed articles (a fresh ingest of ``seeds/`` unless
``--index``), and asks every question of ``eval/gold.jsonl`` over HTTP, one at a time: one warm-up round,
then ``--rounds`` timed. Each timed request runs with a stage recorder on (``qa/timing.py``), so one run
gives every stage of the same requests:

- question embedding, BM25, FAISS, score fusion (retrieval);
- tokenisation into windows, padding, each forward pass, decoding spans (the reader);
- the answer verifier (only where the no-answer policy weighs one), the no-answer policy, merging answers;
- admission: the wait for a reading slot and the hop to a worker thread;
- JSON: encoding the response (from the handler's answer to its first byte sent);
- the rest of the app (routing, reading and validating the body, hooks), by difference from the app's
  whole time; and HTTP (the client, the socket, uvicorn's parsing), by difference from the client's time.

The answer cache is off, so every round reads; with ``--answer-cache`` it is on as served, the warm-up
round fills it and the timed rounds measure repeated questions answered from it.

Prints mean, p50 and p95 per question of each stage and its share of the client's time, and the forward
passes per question with their padded tokens; ``--out`` writes the same as JSON, with every request's stages.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent

# (recorded name, what it is), in the order a question meets them
STAGES = [("embed", "question embedding"), ("bm25", "BM25"), ("faiss", "FAISS"), ("fusion", "score fusion"),
          ("tokenise", "tokenisation (windows)"), ("pad", "padding"), ("forward", "forward passes"),
          ("decode", "decoding spans"), ("verifier", "answer verifier"), ("no_answer", "no-answer policy"),
          ("merge", "merging answers"), ("admission", "admission wait + thread hop"), ("json", "JSON encoding")]
REST_OF_APP = "rest of the app (routing, body, validation, hooks)"
HTTP = "HTTP: client, socket, uvicorn parsing"


class Recorded:
    """ASGI middleware outermost: a stage recorder on for each ``/api/ask``, and the app's whole time."""

    def __init__(self, app) -> None:
        self.app = app
        self.on = False
        self.requests: list[tuple[float, list[tuple[str, float, int]]]] = []

    async def __call__(self, scope, receive, send) -> None:
        from qa.timing import recording

        if not self.on or scope["type"] != "http" or scope["path"] != "/api/ask":
            return await self.app(scope, receive, send)
        with recording() as times:
            t0 = time.perf_counter()
            await self.app(scope, receive, send)
            total = time.perf_counter() - t0
        self.requests.append((total, times.spans))


def cpu_facts() -> dict:
    facts = {"processor": platform.processor() or platform.machine(), "cores": os.cpu_count()}
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return facts
    for line in info.splitlines():
        if line.startswith("model name"):
            facts["processor"] = line.split(":", 1)[1].strip()
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            facts["flags"] = sorted(flags & {"avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_tile"})
            break
    return facts


def seed_index(settings) -> Path:
    from qa.search.embedding import Embedder
    from qa.search.ingest import IndexConfig, ingest

    folder = Path(tempfile.mkdtemp(prefix="qa-stages-")) / "index"
    ingest([settings.seeds_dir], folder, IndexConfig.from_settings(settings, Embedder.from_settings(settings)),
           settings.max_document_bytes)
    return folder


def serve(settings) -> tuple[str, Recorded, object, threading.Thread, object]:
    """The app as ``qa serve`` runs it, in a thread of this process, with ``Recorded`` outermost."""
    import uvicorn

    from qa.answering.pipeline import AnswerPipeline
    from qa.reader.batching import serving_reader
    from qa.web.app import create_app
    from qa.web.server import config

    pipeline = AnswerPipeline.from_settings(settings, reader=serving_reader(settings))
    cfg = config(create_app(settings, pipeline), settings, log_level="warning")
    recorded = Recorded(cfg.app)
    cfg.app = recorded
    server = uvicorn.Server(cfg)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    if not server.started:
        raise SystemExit("the server did not start")
    return f"http://{settings.host}:{settings.port}", recorded, server, thread, pipeline


def stats(values_ms: list[float], client_mean: float) -> dict:
    xs = sorted(values_ms)
    q = statistics.quantiles(xs, n=20, method="inclusive") if len(xs) > 1 else [xs[0]] * 19
    mean = statistics.fmean(xs)
    return {"mean_ms": mean, "p50_ms": statistics.median(xs), "p95_ms": q[18],
            "share": mean / client_mean if client_mean else float("nan")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", default="", help="index folder (default: a fresh ingest of seeds/)")
    ap.add_argument("--gold", default=str(REPO / "eval" / "gold.jsonl"))
    ap.add_argument("--rounds", type=int, default=3, help="timed rounds over the gold questions")
    ap.add_argument("--limit", type=int, default=0, help="only the first N questions (0: all)")
    ap.add_argument("--out", help="write the figures as JSON here")
    ap.add_argument("--answer-cache", action="store_true", help="serve with the answer cache on: time repeats")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from qa.cli.common import quiet_libraries
    from qa.settings import Settings

    quiet_libraries()
    questions = [json.loads(line)["question"] for line in Path(args.gold).read_text().splitlines() if line.strip()]
    questions = questions[: args.limit] if args.limit else questions
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = Settings(host="127.0.0.1", port=port)
    if not args.answer_cache:  # each round reads the seed questions again
        settings = settings.model_copy(update={"answer_cache_size": 0})
    settings = settings.model_copy(update={"index_dir": Path(args.index) if args.index else seed_index(settings)})
    base, recorded, server, thread, pipeline = serve(settings)
    client_ms: list[float] = []
    try:
        with httpx.Client(base_url=base, timeout=120) as c:
            for q in questions:  # warm-up: first reads, thread pools, caches
                c.post("/api/ask", json={"question": q}).raise_for_status()
            recorded.on = True
            for _ in range(args.rounds):
                for q in questions:
                    t0 = time.perf_counter()
                    c.post("/api/ask", json={"question": q}).raise_for_status()
                    client_ms.append(1000 * (time.perf_counter() - t0))
    finally:
        server.should_exit = True
        thread.join(timeout=30)

    requests = recorded.requests
    n = len(requests)
    assert n == len(client_ms), (n, len(client_ms))
    client_mean = statistics.fmean(client_ms)
    per_stage: dict[str, list[float]] = {name: [] for name, _ in STAGES}
    rest, http, passes, tokens, pass_ms = [], [], [], [], []
    for (total, spans), client in zip(requests, client_ms):
        sums = {name: 0.0 for name, _ in STAGES}
        for name, seconds, size in spans:
            sums[name] = sums.get(name, 0.0) + 1000 * seconds
            if name == "forward":
                tokens.append(size)
                pass_ms.append(1000 * seconds)
        passes.append(sum(1 for name, _, _ in spans if name == "forward"))
        for name in per_stage:
            per_stage[name].append(sums[name])
        rest.append(1000 * total - sum(sums.values()))
        http.append(client - 1000 * total)
    rows = {name: stats(per_stage[name], client_mean) for name, _ in STAGES if any(per_stage[name])}
    rows[REST_OF_APP] = stats(rest, client_mean)
    rows[HTTP] = stats(http, client_mean)
    server_ms = [1000 * total for total, _ in requests]
    reader = pipeline.reader
    embedder = pipeline.retriever.embedder
    facts = {"cpu": cpu_facts(), "embedder": {"runtime": embedder.runtime_used},
             "reader": {"folder": str(reader.model_dir), "runtime": reader.runtime_used,
                                            "bf16": reader.bf16, "int8": reader.int8, "threads": reader.threads},
             "questions": len(questions), "requests": n, "index": str(settings.index_dir),
             "client": stats(client_ms, client_mean), "app": stats(server_ms, client_mean),
             "forward_passes": {"per_question": statistics.fmean(passes), "ms_each_mean": statistics.fmean(pass_ms),
                                "padded_tokens_each_mean": statistics.fmean(tokens)} if pass_ms else None,
             "stages": rows}

    cpu = facts["cpu"]
    print(f"CPU: {cpu['processor']}, {cpu['cores']} cores, {' '.join(cpu.get('flags', [])) or 'no AVX2/AVX-512 flags'}; "
          f"reader {reader.model_dir.name} as {reader.runtime_used}{' bf16' if reader.bf16 else ''}"
          f"{' int8' if reader.int8 else ''}, {reader.threads} threads; question embedder as {embedder.runtime_used}")
    print(f"{len(questions)} questions x {args.rounds} rounds = {n} requests, one at a time, over HTTP")
    labels = dict(STAGES)
    print(f"{'stage':<52}{'mean ms':>9}{'p50 ms':>9}{'p95 ms':>9}{'share':>8}")
    for name, r in rows.items():
        print(f"{labels.get(name, name):<52}{r['mean_ms']:>9.2f}{r['p50_ms']:>9.2f}{r['p95_ms']:>9.2f}{r['share']:>8.1%}")
    for label, r in (("the app, whole (ASGI)", facts["app"]), ("the client's whole request", facts["client"])):
        print(f"{label:<52}{r['mean_ms']:>9.2f}{r['p50_ms']:>9.2f}{r['p95_ms']:>9.2f}{r['share']:>8.1%}")
    if facts["forward_passes"]:
        f = facts["forward_passes"]
        print(f"forward passes: {f['per_question']:.2f} per question, {f['ms_each_mean']:.1f} ms each on average, "
              f"{f['padded_tokens_each_mean']:.0f} padded tokens each")
    if args.out:
        facts["per_request"] = [{"app_ms": 1000 * total, "client_ms": client,
                                 "stages": [[name, 1000 * seconds, size] for name, seconds, size in spans]}
                                for (total, spans), client in zip(requests, client_ms)]
        Path(args.out).write_text(json.dumps(facts, indent=2))


if __name__ == "__main__":
    main()
