"""Shared fixtures: real components, made small. A tiny randomly initialised BERT QA model stands in
for the trained reader (mechanics only); the embedder is the real packaged all-MiniLM-L6-v2."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from qa.packaged import packaged_minilm_path
from qa.settings import Settings

LEXICAL = Settings().lexical_params()  # BM25 as the service configures it
MAX_BYTES = Settings().max_document_bytes
TEST_HOSTS = ["testserver.local", "127.0.0.1", "localhost"]  # Litestar's test client sends Host: testserver.local


def index_config(embedder):
    """How the service builds its index (chunking 120/30, BM25), with the given embedder."""
    from qa.search.ingest import IndexConfig

    return IndexConfig.from_settings(Settings(), embedder)
REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"


def make_reader(model_dir: Path, max_length: int | None = None, stride: int | None = None, **overrides):
    """A reader as the service builds it from its settings, with a shorter window where given. It keeps
    no ONNX graph cache unless ``cache_dir`` is given (the tiny models would fill the repo's .cache)."""
    from qa.reader.extractive import ExtractiveReader

    window = {k: v for k, v in (("reader_max_length", max_length), ("reader_stride", stride)) if v is not None}
    overrides.setdefault("cache_dir", None)
    return ExtractiveReader.from_settings(Settings(reader_dir=model_dir, **window), **overrides)


def make_pipeline(retriever, reader, **overrides):
    """The pipeline the service builds from its settings, over the given retriever and reader."""
    from qa.answering.pipeline import AnswerPipeline

    return AnswerPipeline.from_settings(Settings(), retriever=retriever, reader=reader, **overrides)


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


def make_tiny_verifier(folder: Path, seed: int = 0) -> Path:
    """A tiny randomly initialised one-logit BERT in the answer verifier's place (mechanics only)."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    torch.manual_seed(seed)
    tok = AutoTokenizer.from_pretrained(packaged_minilm_path())
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=512, num_labels=1)
    BertForSequenceClassification(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_verifier_dir(tmp_path_factory) -> Path:
    return make_tiny_verifier(tmp_path_factory.mktemp("verifier"))


@pytest.fixture(scope="session")
def tiny_reader_dir(tmp_path_factory) -> Path:
    return make_tiny_reader(tmp_path_factory.mktemp("reader"))


@pytest.fixture(scope="session")
def embedder():
    from qa.search.embedding import Embedder

    e = Embedder.from_settings(Settings())
    e.warm_up()
    return e


@pytest.fixture(scope="session")
def seed_index_dir(tmp_path_factory, embedder) -> Path:
    """The five seed articles, ingested once for the whole session (read-only for tests)."""
    from qa.search.ingest import ingest

    d = tmp_path_factory.mktemp("index")
    ingest([SEEDS], d, index_config(embedder), MAX_BYTES)
    return d


@pytest.fixture
def index_copy(tmp_path, seed_index_dir) -> Path:
    """A private copy of the seed index that a test may change."""
    dst = tmp_path / "index"
    shutil.copytree(seed_index_dir, dst)
    return dst


@pytest.fixture(scope="session")
def settings(seed_index_dir, tiny_reader_dir) -> Settings:
    return Settings(index_dir=seed_index_dir, reader_dir=tiny_reader_dir, seeds_dir=SEEDS, allowed_hosts=TEST_HOSTS)


@pytest.fixture(scope="session")
def pipeline(settings):
    from qa.answering.pipeline import AnswerPipeline

    return AnswerPipeline.from_settings(settings)


# A tiny SQuAD-format file: two articles of four one-sentence paragraphs, one unanswerable question each.
PARAS = [
    ("The conference was held in Vinh city on April 24.", "Where was the conference held?", "Vinh city"),
    ("Major General Ha Tan Tien is Deputy Commander.", "Who is Deputy Commander?", "Ha Tan Tien"),
    ("The plan was issued on 18th September 2019.", "When was the plan issued?", "18th September 2019"),
    ("Troops brought rice to children in Huoi Son village.", "What did troops bring?", "rice"),
]


def moved_squad(path: Path, tag: str, lead: str) -> dict:
    """The SQuAD file at ``path`` as other articles: titles and ids tagged, every context led by ``lead``
    (answer offsets shifted with it), so no paragraph is shared with the original."""
    data = json.loads(path.read_text())
    for art in data["data"]:
        art["title"] = f"{tag}-{art['title']}"
        for para in art["paragraphs"]:
            para["context"] = lead + para["context"]
            for qa in para["qas"]:
                qa["id"] = tag + qa["id"]
                for ans in qa["answers"]:
                    ans["answer_start"] += len(lead)
    return data


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


@pytest.fixture(scope="session")
def local_ray():
    """A local Ray of two CPUs for the whole session, as CI runs it (``ray.init(num_cpus=2)``)."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()
