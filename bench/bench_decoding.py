"""What decoding costs beside reading: per window of the index's passages, the decoder's rules (word bounds,
lines) and the span search, against the reader's forward pass over the same window.

    .venv/bin/python bench/bench_decoding.py [--index index] [--model models/reader] [--rounds 5]

Needs an index (``qa ingest seeds``). The forward pass runs as the service runs it (``ExtractiveReader.from_settings``
with the settings' defaults: bf16 or ONNX Runtime as ``auto`` picks).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from qa.reader.decoding import best_spans, line_numbers, word_bounds
from qa.reader.extractive import ExtractiveReader
from qa.search.store import PassageIndex
from qa.settings import Settings


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--index", default="index")
    ap.add_argument("--model", default="models/reader")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    passages = [p.text for p in PassageIndex.load(args.index).passages]
    reader = ExtractiveReader.from_settings(Settings(reader_dir=args.model))
    reader.warm_up()
    question = "Where was the 2018 coordination conference held?"
    enc = reader.encode([question] * len(passages), passages)  # the windows the service would read
    rng = np.random.default_rng(0)  # logits of no model: decoding's cost does not depend on their values
    rows = []
    for w, p in enumerate(enc["overflow_to_sample_mapping"]):
        n = len(enc["input_ids"][w])
        rows.append((passages[p], enc["offset_mapping"][w], np.array([s == 1 for s in enc.sequence_ids(w)]),
                     rng.normal(size=n), rng.normal(size=n)))

    t = time.perf_counter()
    for _ in range(args.rounds):
        for p, offsets, mask, start, end in rows:
            starts, ends = word_bounds(p, offsets, mask)
            best_spans(start, end, offsets, mask, reader.max_answer_tokens, 5, starts, ends, line_numbers(p, offsets))
    decode = (time.perf_counter() - t) / (args.rounds * len(rows))
    t = time.perf_counter()
    for _ in range(args.rounds):
        for p, offsets, *_ in rows:
            line_numbers(p, offsets)
    lines = (time.perf_counter() - t) / (args.rounds * len(rows))
    t = time.perf_counter()
    for _ in range(args.rounds):
        reader.read(question, passages, top_n=5)
    read = (time.perf_counter() - t) / (args.rounds * len(rows))
    print(f"{len(rows)} windows, passages of {np.mean([len(p) for p in passages]):.0f} characters on average")
    print(f"per window: reading (forward pass and decoding) {read * 1e3:.1f} ms, decoding {decode * 1e3:.2f} ms, "
          f"of it line_numbers {lines * 1e3:.3f} ms")


if __name__ == "__main__":
    main()
