"""Per-stage costs that docs/SCALING.md scales up from, measured on this machine:

- embedding: texts per second with 1 and 2 threads (all-MiniLM-L6-v2, passages of the corpus below);
- dense index: bytes per passage and recall@5 (gold passage among the top 5) of FAISS flat, IVF-PQ and HNSW;
- BM25: bytes per passage of the saved bm25s index (passages and their sentences);
- answering: questions per second through the whole pipeline (shipped reader) with 1 and 2 threads.

    .venv/bin/python bench/bench_scaling.py [--squad ../shared/qa-train/squad_dev.json ...] [--out FILE]

The corpus is the seed articles' passages plus every paragraph of the given SQuAD-format files (about
1,700 passages); recall is measured on the seed gold set (eval/gold.jsonl: gold document in the top 5)
and on the SQuAD files' answerable questions (gold paragraph in the top 5).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np

REPO = Path(__file__).resolve().parent.parent


def _dir_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def embed_rate(embedder, texts: list[str], threads: int) -> float:
    import torch

    torch.set_num_threads(threads)
    embedder.embed(texts[:32])
    t0 = time.perf_counter()
    embedder.embed(texts)
    return len(texts) / (time.perf_counter() - t0)


def faiss_variants(vectors: np.ndarray) -> dict[str, faiss.Index]:
    d = vectors.shape[1]
    nlist = max(8, int(np.sqrt(len(vectors))))
    ivfpq = faiss.IndexIVFPQ(faiss.IndexFlatIP(d), d, nlist, 48, 8, faiss.METRIC_INNER_PRODUCT)
    ivfpq.train(vectors)
    ivfpq.nprobe = max(1, nlist // 4)
    hnsw = faiss.IndexHNSWFlat(d, 32, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efSearch = 64
    return {"flat": faiss.IndexFlatIP(d), f"ivfpq (nlist {nlist}, 48x8 bit, nprobe {nlist // 4})": ivfpq,
            "hnsw (M 32, efSearch 64)": hnsw}


def bytes_per_vector(index: faiss.Index, vectors: np.ndarray) -> float:
    """What one more vector costs (the fixed part, e.g. IVF centroids, taken off)."""
    empty = len(faiss.serialize_index(index))
    index.add(vectors)
    return (len(faiss.serialize_index(index)) - empty) / len(vectors)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--squad", nargs="*", default=[str(REPO.parent / "shared" / "qa-train" / "squad_dev.json")])
    ap.add_argument("--more-paragraphs", nargs="*", default=[str(REPO.parent / "shared" / "qa-train" / "squad2_dev_more.json")],
                    help="SQuAD-format files whose paragraphs only join the corpus (more passages to search among)")
    ap.add_argument("--out")
    args = ap.parse_args()

    from qa.answering.pipeline import AnswerPipeline
    from qa.corpus.chunking import Chunking, chunk_documents, passage_sentences
    from qa.corpus.documents import load_documents
    from qa.evaluation.squad import load_many
    from qa.search.embedding import Embedder
    from qa.search.lexical import LexicalStore
    from qa.settings import Settings

    settings = Settings()
    embedder = Embedder.from_settings(settings)
    docs = load_documents([REPO / "seeds"], settings.max_document_bytes).documents
    seed_passages = chunk_documents(docs, Chunking.from_settings(settings))
    examples = load_many(args.squad) if args.squad else []
    paragraphs = sorted({e.context for e in examples} | {e.context for e in load_many(args.more_paragraphs)})
    texts = [p.text for p in seed_passages] + paragraphs
    owner_doc = [p.doc_id for p in seed_passages] + [None] * len(paragraphs)
    para_row = {c: len(seed_passages) + i for i, c in enumerate(paragraphs)}

    result: dict = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "passages": len(texts)}
    result["embed_texts_per_second"] = {t: round(embed_rate(embedder, texts[:512], t), 1) for t in (1, 2)}
    vectors = embedder.embed(texts)

    gold = [json.loads(line) for line in (REPO / "eval" / "gold.jsonl").read_text().splitlines()]
    gold = [g for g in gold if g.get("doc_id")]
    squad_q = [e for e in examples if not e.is_impossible]
    q_seed = embedder.embed([g["question"] for g in gold])
    q_squad = embedder.embed([e.question for e in squad_q]) if squad_q else None
    dense = {}
    for name, index in faiss_variants(vectors).items():
        per_vector = bytes_per_vector(index, vectors)
        _, top = index.search(q_seed, 5)
        seed_recall = np.mean([any(owner_doc[r] == g["doc_id"] for r in row if r >= 0) for g, row in zip(gold, top)])
        entry = {"bytes_per_passage": round(per_vector, 1), "GB_per_million": round(per_vector * 1e6 / 1e9, 3),
                 "recall@5_seed_gold": round(100 * float(seed_recall), 1)}
        if q_squad is not None:
            _, top = index.search(q_squad, 5)
            entry["recall@5_squad"] = round(100 * float(np.mean([para_row[e.context] in row for e, row in zip(squad_q, top)])), 1)
        dense[name] = entry
    result["dense"] = dense

    from qa.corpus.chunking import Passage

    passages = [Passage(i, str(owner_doc[i]), "", 0, len(t), t) for i, t in enumerate(texts)]
    sentences, _ = passage_sentences(passages)
    lexical = LexicalStore.build(passages, settings.lexical_params())
    with tempfile.TemporaryDirectory() as tmp:
        lexical.save(Path(tmp))
        size = _dir_bytes(Path(tmp))
    result["bm25"] = {"bytes_per_passage": round(size / len(texts), 1), "sentences_per_passage": round(len(sentences) / len(texts), 2),
                      "GB_per_million": round(size / len(texts) * 1e6 / 1e9, 3)}

    answering = {}
    for threads in (1, 2):
        s = settings.model_copy(update={"threads": threads})
        pipeline = AnswerPipeline.from_settings(s)
        import torch

        torch.set_num_threads(threads)
        pipeline.ask("warm-up question")
        t0 = time.perf_counter()
        for g in gold:
            pipeline.ask(g["question"])
        answering[threads] = round(len(gold) / (time.perf_counter() - t0), 2)
    result["questions_per_second"] = answering
    result["reader_runtime"] = pipeline.reader.runtime_used + (" bf16" if pipeline.reader.bf16 else "")
    print(json.dumps(result, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
