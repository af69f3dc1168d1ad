"""Reader forward-pass latency for one 256-token window (question + passage), fixed threads.

    .venv/bin/python bench/bench_reader.py [--model models/reader] [--threads 2] [--runs 50]
        [--runtime torch onnx onnx-int8] [--int8] [--bf16]

Each ``--runtime`` named is timed; with several, their runs are interleaved in rounds of 10 so that
a noisy machine (CPU steal) slows them alike. ``onnx`` is the fused ONNX Runtime graph the service
uses on CPUs without bf16 (QA_READER_RUNTIME=auto); ``onnx-int8`` its dynamically quantised graph
(QA_READER_INT8=1); ``torch`` is PyTorch fp32, or bf16/int8 with those flags (which apply to torch only).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="models/reader")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--length", type=int, default=256)
    ap.add_argument("--int8", action="store_true", help="dynamic int8 quantisation, as QA_READER_INT8=1")
    ap.add_argument("--bf16", action="store_true", help="bf16 autocast, as QA_READER_DTYPE=bfloat16")
    ap.add_argument("--runtime", nargs="+", choices=["torch", "onnx", "onnx-int8"], default=["torch"])
    ap.add_argument("--cache-dir", default=".cache", help="where the ONNX graph is kept (as QA_CACHE_DIR)")
    args = ap.parse_args()
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    torch.set_num_threads(args.threads)
    tok = AutoTokenizer.from_pretrained(args.model)
    text = "The conference on coordination was held in Vinh city by the Office of Military Region 4. " * 40
    enc = tok("Where was the conference held?", text, truncation="only_second", max_length=args.length,
              return_tensors="pt")
    assert enc["input_ids"].shape[1] == args.length

    runs = {}
    for runtime in args.runtime:
        if runtime.startswith("onnx"):
            from qa.reader.onnx_runtime import OnnxSpanModel

            onnx_model = OnnxSpanModel(args.model, args.threads, args.cache_dir, int8=runtime == "onnx-int8")
            feed = {k: v.numpy() for k, v in enc.items()}
            runs[f"onnx {'int8' if onnx_model.int8 else 'fp32'}"] = lambda m=onnx_model: m(feed)
        else:
            model = AutoModelForQuestionAnswering.from_pretrained(args.model, dtype=torch.float32).eval()
            if args.int8:
                model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)

            def run_torch(model=model):
                with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
                    model(**enc)

            runs[f"torch {'int8' if args.int8 else 'bf16' if args.bf16 else 'fp32'}"] = run_torch

    times: dict[str, list[float]] = {name: [] for name in runs}
    for name, run in runs.items():  # the first calls set up kernels
        for _ in range(10):
            run()
    while any(len(t) < args.runs for t in times.values()):
        for name, run in runs.items():
            for _ in range(min(10, args.runs - len(times[name]))):
                t = time.perf_counter()
                run()
                times[name].append((time.perf_counter() - t) * 1000)
    for name, t in times.items():
        print(f"{args.model} {name}: one {args.length}-token window, {args.threads} threads, {args.runs} runs: "
              f"median {statistics.median(t):.1f} ms, p90 {statistics.quantiles(t, n=10)[8]:.1f} ms")


if __name__ == "__main__":
    main()
