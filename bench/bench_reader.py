"""Reader forward-pass latency for one 256-token window (question + passage), fixed threads.

    .venv/bin/python bench/bench_reader.py [--model models/reader] [--threads 2] [--runs 50]
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
    args = ap.parse_args()
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    torch.set_num_threads(args.threads)
    tok = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForQuestionAnswering.from_pretrained(args.model, dtype=torch.float32).eval()
    if args.int8:
        model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    text = "The conference on coordination was held in Vinh city by the Office of Military Region 4. " * 40
    enc = tok("Where was the conference held?", text, truncation="only_second", max_length=args.length,
              return_tensors="pt")
    assert enc["input_ids"].shape[1] == args.length
    times = []
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
        for i in range(args.runs + 10):
            t = time.perf_counter()
            model(**enc)
            if i >= 10:  # the first calls set up oneDNN kernels
                times.append((time.perf_counter() - t) * 1000)
    print(f"{args.model}{' int8' if args.int8 else ''}{' bf16' if args.bf16 else ''}: one {args.length}-token window, {args.threads} threads, {args.runs} runs: "
          f"median {statistics.median(times):.1f} ms, p90 {statistics.quantiles(times, n=10)[8]:.1f} ms")


if __name__ == "__main__":
    main()
