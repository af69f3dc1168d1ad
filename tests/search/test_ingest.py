"""Incremental ingest into the persisted index, see qa/search/ingest.py."""

import json
import shutil

import faiss
import pytest

from qa.corpus.chunking import sentence_spans
from qa.search.store import IndexMismatch, PassageIndex
from qa.search.ingest import ingest

from conftest import LEXICAL, SEEDS


def test_incremental_ingest_embeds_only_new_or_changed(tmp_path, index_copy, embedder):
    folder = tmp_path / "more"
    folder.mkdir()
    (folder / "new_article.txt").write_text("New article\nThe parade was held in Hanoi on May 5.\n", encoding="utf-8")
    r = ingest([SEEDS, folder], index_copy, embedder, 120, 30, LEXICAL)
    assert r.added == ["new_article"] and len(r.unchanged) == 5 and r.embedded_passages == 1
    assert r.embedded_sentences == 2  # the new article's two sentences; the seeds' keep their vectors
    again = ingest([SEEDS, folder], index_copy, embedder, 120, 30, LEXICAL)
    assert not again.changed and again.embedded_passages == 0 and again.embedded_sentences == 0
    (folder / "new_article.txt").write_text("New article\nThe parade was held in Hue on May 6.\n", encoding="utf-8")
    changed = ingest([folder], index_copy, embedder, 120, 30, LEXICAL)
    assert changed.updated == ["new_article"] and changed.embedded_passages == 1
    idx = PassageIndex.load(index_copy)
    assert idx.manifest.document_count == 6  # seeds not named this time are kept
    assert "Hue" in idx.documents["new_article"].text
    # kept vectors are the same as a fresh embedding of the same passage
    p = idx.passages_of("004_e78e7126cb0131b0")[0]
    assert float(idx.dense.passage_vectors([p.passage_id])[0] @ embedder.embed([p.text])[0]) > 0.999
    first = p.text[slice(*sentence_spans(p.text)[0])]
    assert float(idx.dense.sentence_vectors(p.passage_id)[0] @ embedder.embed([first])[0]) > 0.999


def test_failed_write_leaves_previous_index_loadable(tmp_path, index_copy, embedder, monkeypatch):
    before = PassageIndex.load(index_copy)
    (tmp_path / "extra.txt").write_text("Extra\nSomething new happened in Da Nang.\n", encoding="utf-8")

    def crash(*args, **kwargs):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(faiss, "write_index", crash)
    with pytest.raises(OSError):
        ingest([tmp_path / "extra.txt"], index_copy, embedder, 120, 30, LEXICAL)
    after = PassageIndex.load(index_copy)
    assert after.manifest.documents == before.manifest.documents
    assert after.dense.passages.ntotal == before.dense.passages.ntotal
    assert not any(p.name.endswith(".partial") for p in index_copy.iterdir())


def test_manifest_of_another_embedding_model_is_refused(index_copy, embedder):
    snap = index_copy / (index_copy / "CURRENT").read_text().strip()
    m = json.loads((snap / "manifest.json").read_text())
    m["embedding_model"], m["embedding_dim"] = "all-mpnet-base-v2", 768
    (snap / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(IndexMismatch, match="all-mpnet-base-v2"):
        PassageIndex.load(index_copy, "all-MiniLM-L6-v2", 384)
    with pytest.raises(IndexMismatch, match="--rebuild"):
        ingest([SEEDS], index_copy, embedder, 120, 30, LEXICAL)
    r = ingest([SEEDS], index_copy, embedder, 120, 30, LEXICAL, rebuild=True)
    assert r.embedded_passages > 0
    assert PassageIndex.load(index_copy, "all-MiniLM-L6-v2", 384).manifest.document_count == 5


def test_snapshot_without_sentence_vectors_loads_and_next_ingest_adds_them(index_copy, embedder):
    snap = index_copy / (index_copy / "CURRENT").read_text().strip()
    shutil.rmtree(snap / "dense_sentences")  # as written before sentence vectors existed
    idx = PassageIndex.load(index_copy)
    assert idx.dense.sentences is None and idx.dense.sentence_vectors(0) is None
    r = ingest([SEEDS], index_copy, embedder, 120, 30, LEXICAL)
    assert r.embedded_passages == 0 and r.embedded_sentences == len(idx.lexical.owner)
    assert PassageIndex.load(index_copy).dense.sentences.ntotal == len(idx.lexical.owner)
