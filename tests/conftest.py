"""Shared fixtures: real components, made small. A tiny randomly initialised BERT QA model stands in
for the trained reader (mechanics only); the embedder is the real packaged all-MiniLM-L6-v2."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from qa.settings import Settings, packaged_minilm_path

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"


def make_tiny_reader(folder: Path, threshold: float = 0.0, seed: int = 0) -> Path:
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForQuestionAnswering

    torch.manual_seed(seed)
    tok = AutoTokenizer.from_pretrained(packaged_minilm_path())
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=512)
    BertForQuestionAnswering(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    (folder / "qa_config.json").write_text(json.dumps({"no_answer_threshold": threshold}))
    return folder


@pytest.fixture(scope="session")
def tiny_reader_dir(tmp_path_factory) -> Path:
    return make_tiny_reader(tmp_path_factory.mktemp("reader"))


@pytest.fixture(scope="session")
def embedder():
    from qa.embedding import Embedder

    e = Embedder(packaged_minilm_path(), "all-MiniLM-L6-v2")
    e.warm_up()
    return e


@pytest.fixture(scope="session")
def seed_index_dir(tmp_path_factory, embedder) -> Path:
    """The five seed articles, ingested once for the whole session (read-only for tests)."""
    from qa.ingest import ingest

    d = tmp_path_factory.mktemp("index")
    ingest([SEEDS], d, embedder, 120, 30)
    return d


@pytest.fixture
def index_copy(tmp_path, seed_index_dir) -> Path:
    """A private copy of the seed index that a test may change."""
    dst = tmp_path / "index"
    shutil.copytree(seed_index_dir, dst)
    return dst


@pytest.fixture(scope="session")
def settings(seed_index_dir, tiny_reader_dir) -> Settings:
    return Settings(index_dir=seed_index_dir, reader_dir=tiny_reader_dir, seeds_dir=SEEDS)


@pytest.fixture(scope="session")
def pipeline(settings):
    from qa.answering import load_pipeline

    return load_pipeline(settings)


# A tiny SQuAD-format file: two articles of four one-sentence paragraphs, one unanswerable question each.
PARAS = [
    ("The conference was held in Vinh city on April 24.", "Where was the conference held?", "Vinh city"),
    ("Major General Ha Tan Tien is Deputy Commander.", "Who is Deputy Commander?", "Ha Tan Tien"),
    ("The plan was issued on 18th September 2019.", "When was the plan issued?", "18th September 2019"),
    ("Troops brought rice to children in Huoi Son village.", "What did troops bring?", "rice"),
]


@pytest.fixture
def tiny_squad(tmp_path):
    data = []
    for a in range(2):
        paras = []
        for i, (ctx, q, ans) in enumerate(PARAS):
            paras.append({"context": ctx, "qas": [{"id": f"a{a}p{i}", "question": q, "is_impossible": False,
                                                     "answers": [{"text": ans, "answer_start": ctx.index(ans)}]}]})
        paras[0]["qas"].append({"id": f"a{a}imp", "question": "Who won the match?", "is_impossible": True, "answers": []})
        data.append({"title": f"art{a}", "paragraphs": paras})
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps({"version": "v2.0", "data": data}))
    return path
