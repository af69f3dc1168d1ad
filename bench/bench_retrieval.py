"""Retrieval answer recall for each mode and lexical mix, on the seed gold set or a SQuAD-format file.

A question counts as found at rank r when the r-th passage comes from the question's own document
(paragraph, for SQuAD) and holds a gold answer verbatim, as in ``qa eval``.

    .venv/bin/python bench/bench_retrieval.py --gold eval/gold.jsonl [--index index]
    .venv/bin/python bench/bench_retrieval.py --data ../shared/qa-train/squad_dev.json [--out FILE]

The second checks the settings chosen on the seed gold set on data they never saw: the file's
paragraphs become an index with the service's chunking.

    .venv/bin/python bench/bench_retrieval.py --gold eval/gold.jsonl --passages 80/20,120/30,200/50 [--read]

sweeps passage length / overlap (words) instead: each setting gets its own in-memory index of the
seeds (or of the file's paragraphs), is scored with the configured mix, and reports what the reader
pays for it: windows and tokens it reads for the top_k passages of a question, and with ``--read``
the reader's measured time per question.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--gold", help="gold JSON lines over an existing index (qa eval's format)")
    src.add_argument("--data", action="append", help="SQuAD-format file(s) to index and ask")
    ap.add_argument("--index", help="index folder for --gold (QA_INDEX_DIR)")
    ap.add_argument("--sentence-weights", default="0,0.5,0.8,1")
    ap.add_argument("--lexical-weights", default="0.5,0.55,0.7,0.8")
    ap.add_argument("--dense-sentence-weights", default="0,0.7", help="shares of the best sentence's cosine in the dense side")
    ap.add_argument("--limit", type=int, default=0, help="a sample of this many questions (0 = all)")
    ap.add_argument("--passages", help="sweep passage words/overlap, e.g. 80/20,120/30,200/50 (configured mix only)")
    ap.add_argument("--read", action="store_true", help="with --passages: time the reader on each question's top_k")
    ap.add_argument("--out")
    args = ap.parse_args()

    import random

    from qa.training.calibrate import index_paragraphs
    from qa.search.embedding import Embedder
    from qa.evaluation.end_to_end import load_gold
    from qa.search.store import PassageIndex
    from qa.evaluation.squad import load_many
    from qa.search.retriever import fuse, mix_dense, mix_lexical
    from qa.settings import Settings

    s = Settings()
    emb = Embedder.from_settings(s)
    if args.passages:
        sweep_passages(args, s, emb)
        return
    if args.gold:
        index = PassageIndex.load(Path(args.index) if args.index else s.index_dir, emb.name, emb.dim)
        questions = [(g.question, g.doc_id, g.answers) for g in load_gold(Path(args.gold)) if g.answers]
    else:
        examples = load_many(args.data)
        index = index_paragraphs(examples, emb, s)
        doc_of = {d.text: d.doc_id for d in index.documents.values()}
        questions = [(e.question, doc_of[e.context], [a.text for a in e.answers]) for e in examples if e.answers]
    if args.limit:
        questions = random.Random(7).sample(questions, min(args.limit, len(questions)))

    # Each side's scores are computed once per question; the mixes are then recombined from them
    # with the same functions the service's Retriever uses.
    n = s.candidates
    cached = []
    for q in questions:
        cached.append((q, index.dense.scores(emb.embed([q[0]])[0], n), *index.lexical.scores(q[0], n)))

    def recall(rank_fn) -> dict:
        ranks = []
        for (_, doc, answers), dense, passage, sentence in cached:
            ranked = rank_fn(dense, passage, sentence)[:10]
            ranks.append(next((r for r, (i, _) in enumerate(ranked, 1) if index.passages[i].doc_id == doc
                               and any(a in index.passages[i].text for a in answers)), None))
        total = len(ranks)
        out = {f"recall@{k}": round(100.0 * sum(1 for r in ranks if r and r <= k) / total, 1) for k in (1, 3, 5)}
        out["mrr@10"] = round(sum(1.0 / r for r in ranks if r) / total, 3)
        return out

    dense_weights = [float(x) for x in args.dense_sentence_weights.split(",")]
    rows = [{"mode": "dense", "dense_sentence_weight": dw,
             **recall(lambda d, p, s: mix_dense(*d, dw)[:n])} for dw in dense_weights]
    for sw in (float(x) for x in args.sentence_weights.split(",")):
        rows.append({"mode": "lexical", "sentence_weight": sw, **recall(lambda d, p, s: mix_lexical(p, s, sw))})
        for dw in dense_weights:
            for lw in (float(x) for x in args.lexical_weights.split(",")):
                rows.append({"mode": "hybrid", "sentence_weight": sw, "dense_sentence_weight": dw, "lexical_weight": lw,
                             **recall(lambda d, p, s: fuse(dict(mix_dense(*d, dw)[:n]), dict(mix_lexical(p, s, sw)[:n]), lw))})
    print(f"{len(questions)} answerable questions, {len(index.passages)} passages from {len(index.documents)} documents")
    print(f"{'mode':<8} {'lex sent':>8} {'dense sent':>10} {'lexical':>8} {'R@1':>6} {'R@3':>6} {'R@5':>6} {'MRR@10':>7}")
    for r in rows:
        print(f"{r['mode']:<8} {r.get('sentence_weight', ''):>8} {r.get('dense_sentence_weight', ''):>10} {r.get('lexical_weight', ''):>8} "
              f"{r['recall@1']:>6} {r['recall@3']:>6} {r['recall@5']:>6} {r['mrr@10']:>7}")
    if args.out:
        Path(args.out).write_text(json.dumps({"data": args.gold or args.data, "questions": len(questions), "rows": rows}, indent=2))


def sweep_passages(args, s, emb) -> None:
    import statistics
    import time

    from qa.training.calibrate import index_paragraphs
    from qa.corpus.chunking import Chunking, chunk_documents
    from qa.corpus.documents import load_documents
    from qa.evaluation.end_to_end import answer_rank, load_gold
    from qa.search.store import Manifest
    from qa.search.ingest import build_index
    from qa.reader.extractive import ExtractiveReader
    from qa.evaluation.squad import load_many
    from qa.search.retriever import FusionParams, Retriever

    if args.gold:
        docs = load_documents([s.seeds_dir], s.max_document_bytes).documents
        questions = [(g.question, g.doc_id, g.answers) for g in load_gold(Path(args.gold)) if g.answers]
    else:
        examples = load_many(args.data)
        questions = [(e.question, e.context, [a.text for a in e.answers]) for e in examples if e.answers]
    if args.limit:
        import random

        questions = random.Random(7).sample(questions, min(args.limit, len(questions)))
    reader = ExtractiveReader.from_settings(s)
    reader.warm_up()
    k = s.top_k
    rows = []
    for setting in args.passages.split(","):
        words, overlap = (int(x) for x in setting.split("/"))
        if args.gold:
            passages = chunk_documents(docs, Chunking(words, overlap, s.max_passage_chars))
            index = build_index(Manifest.of(emb.name, emb.dim, Chunking(words, overlap, s.max_passage_chars), s.lexical_params()), docs, passages, emb)
            qs = questions
        else:
            index = index_paragraphs(examples, emb, s.model_copy(update={"chunk_words": words, "chunk_overlap_words": overlap}))
            doc_of = {d.text: d.doc_id for d in index.documents.values()}
            qs = [(q, doc_of[c], a) for q, c, a in questions]
        retriever = Retriever(index, emb, FusionParams.from_settings(s))
        row = {"words": words, "overlap": overlap, "passages": len(index.passages),
               "mean_passage_words": round(statistics.fmean(len(p.text.split()) for p in index.passages), 1)}
        windows, tokens, read_ms = [], [], []
        for mode in ("dense", "lexical", "hybrid"):
            ranks = []
            for q, doc, answers in qs:
                hits = retriever.search(q, 10, mode)
                ranks.append(answer_rank(hits, doc, answers))
                if mode == "hybrid":
                    texts = [h.passage.text for h in hits[:k]]
                    enc = reader.encode([q] * len(texts), texts)
                    windows.append(len(enc["input_ids"]))
                    tokens.append(sum(len(w) for w in enc["input_ids"]))
                    if args.read:
                        t0 = time.perf_counter()
                        reader.read(q, texts)
                        read_ms.append(1000 * (time.perf_counter() - t0))
            n = len(ranks)
            for at in (1, 3, 5):
                row[f"{mode}_R@{at}"] = round(100.0 * sum(1 for r in ranks if r and r <= at) / n, 1)
            row[f"{mode}_mrr@10"] = round(sum(1.0 / r for r in ranks if r) / n, 3)
        row["reader_windows"] = round(statistics.fmean(windows), 2)
        row["reader_tokens"] = round(statistics.fmean(tokens), 1)
        if read_ms:
            row["reader_ms_p50"] = round(statistics.median(read_ms), 1)
        rows.append(row)
        print(f"{words}/{overlap}: {len(index.passages)} passages  "
              + "  ".join(f"{m} {row[f'{m}_R@1']}/{row[f'{m}_R@3']}/{row[f'{m}_R@5']}" for m in ("dense", "lexical", "hybrid"))
              + f"  top{k}: {row['reader_windows']} windows, {row['reader_tokens']} tokens"
              + (f", reader p50 {row['reader_ms_p50']} ms" if read_ms else ""), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps({"data": args.gold or args.data, "questions": len(questions), "top_k": k,
                                              "lexical_weight": s.lexical_weight, "sentence_weight": s.sentence_weight,
                                              "reader_dtype": s.reader_dtype, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
