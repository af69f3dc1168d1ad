"""``qa ingest --ray`` on a local Ray: the same index as a plain ingest, written the same way."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import MAX_BYTES, SEEDS, index_config
from qa.search.embedding import Embedder
from qa.search.ingest import ingest
from qa.search.ray_ingest import ray_ingest
from qa.search.retriever import FusionParams, Retriever
from qa.search.store import PassageIndex
from qa.settings import Settings

QUESTIONS = ["Where was the 2018 coordination conference held?", "Who is the commander of Military Region 4?",
             "What did the soldiers bring to the village?"]


class DriverEmbedder(Embedder):
    """The embedder of the process that runs the ingest: it counts the texts it embeds itself."""

    embedded = 0

    def embed(self, texts, progress=False):
        DriverEmbedder.embedded += len(texts)
        return super().embed(texts, progress)


@pytest.fixture(scope="module")
def both(tmp_path_factory, embedder, local_ray):
    plain, distributed = tmp_path_factory.mktemp("plain"), tmp_path_factory.mktemp("ray")
    plain_report = ingest([SEEDS], plain, index_config(embedder), MAX_BYTES)
    driver = DriverEmbedder(embedder.model_path, embedder.name, embedder.batch_size)
    ray_report = ray_ingest([SEEDS], distributed, index_config(driver), MAX_BYTES, embed_actors=2)
    return (plain, plain_report), (distributed, ray_report)


def _load(path, embedder):
    return PassageIndex.load(path, embedder.name, embedder.dim)


def test_ray_ingest_writes_the_index_a_plain_ingest_writes(both, embedder):
    (plain, plain_report), (distributed, ray_report) = both
    a, b = _load(plain, embedder), _load(distributed, embedder)
    assert a.documents == b.documents
    assert [(p.doc_id, p.start, p.end, p.text) for p in a.passages] == [(p.doc_id, p.start, p.end, p.text) for p in b.passages]
    ids = [p.passage_id for p in a.passages]
    np.testing.assert_allclose(a.dense.passage_vectors(ids), b.dense.passage_vectors(ids), atol=1e-5)
    for pid in ids:
        np.testing.assert_allclose(a.dense.sentence_vectors(pid), b.dense.sentence_vectors(pid), atol=1e-5)
    assert (ray_report.embedded_passages, ray_report.embedded_sentences) == (
        plain_report.embedded_passages, plain_report.embedded_sentences)
    assert DriverEmbedder.embedded == 0, "every passage and sentence was embedded on the cluster, none by the driver"
    assert sorted(ray_report.added) == sorted(plain_report.added) and not ray_report.errors
    assert not (distributed / "embedding-cache").exists(), "the write empties the cache the cluster filled"


def test_ray_index_gives_the_same_top_five(both, embedder):
    (plain, _), (distributed, _) = both
    fusion = FusionParams.from_settings(Settings())
    for q in QUESTIONS:
        for mode in ("hybrid", "dense", "lexical"):
            a = Retriever(_load(plain, embedder), embedder, fusion).search(q, 5, mode)
            b = Retriever(_load(distributed, embedder), embedder, fusion).search(q, 5, mode)
            assert [h.passage.passage_id for h in a] == [h.passage.passage_id for h in b], (q, mode)


def test_ray_ingest_again_embeds_nothing_and_reports_what_it_could_not_load(both, embedder, tmp_path):
    (_, _), (distributed, _) = both
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe not utf-8")
    report = ray_ingest([SEEDS, bad, tmp_path / "missing.md"], distributed, index_config(embedder), MAX_BYTES)
    assert (report.embedded_passages, report.embedded_sentences) == (0, 0)
    assert not report.added and not report.updated and len(report.unchanged) == 5
    assert len(report.errors) == 2
    assert any("missing.md" in e for e in report.errors) and any("bad.txt" in e for e in report.errors)
