"""The persisted index and incremental ingest, see qa/index.py and qa/ingest.py."""

import json
import shutil

import faiss
import pytest

from qa.chunking import sentence_spans
from qa.index import IndexMismatch, IndexNotFound, PassageIndex
from qa.ingest import ingest

from conftest import SEEDS


def test_seed_index_has_manifest_documents_and_both_indexes(seed_index_dir):
    idx = PassageIndex.load(seed_index_dir, "all-MiniLM-L6-v2", 384)
    m = idx.manifest
    assert m.document_count == 5 and m.embedding_dim == 384 and m.chunk_words == 120
    assert len(m.documents["004_e78e7126cb0131b0"]) == 64  # sha256 content hash
    assert idx.dense.ntotal == len(idx.passages) == m.passage_count == idx.lexical.size
    for p in idx.passages:
        assert idx.documents[p.doc_id].text[p.start : p.end] == p.text


def test_incremental_ingest_embeds_only_new_or_changed(tmp_path, index_copy, embedder):
    folder = tmp_path / "more"
    folder.mkdir()
    (folder / "new_article.txt").write_text("New article\nThe parade was held in Hanoi on May 5.\n", encoding="utf-8")
    r = ingest([SEEDS, folder], index_copy, embedder, 120, 30)
    assert r.added == ["new_article"] and len(r.unchanged) == 5 and r.embedded_passages == 1
    assert r.embedded_sentences == 2  # the new article's two sentences; the seeds' keep their vectors
    again = ingest([SEEDS, folder], index_copy, embedder, 120, 30)
    assert not again.changed and again.embedded_passages == 0 and again.embedded_sentences == 0
    (folder / "new_article.txt").write_text("New article\nThe parade was held in Hue on May 6.\n", encoding="utf-8")
    changed = ingest([folder], index_copy, embedder, 120, 30)
    assert changed.updated == ["new_article"] and changed.embedded_passages == 1
    idx = PassageIndex.load(index_copy)
    assert idx.manifest.document_count == 6  # seeds not named this time are kept
    assert "Hue" in idx.documents["new_article"].text
    # kept vectors are the same as a fresh embedding of the same passage
    p = idx.passages_of("004_e78e7126cb0131b0")[0]
    assert float(idx.dense.reconstruct(p.passage_id) @ embedder.embed([p.text])[0]) > 0.999
    first = p.text[slice(*sentence_spans(p.text)[0])]
    assert float(idx.sentence_vectors_of(p.passage_id)[0] @ embedder.embed([first])[0]) > 0.999


def test_failed_write_leaves_previous_index_loadable(tmp_path, index_copy, embedder, monkeypatch):
    before = PassageIndex.load(index_copy)
    (tmp_path / "extra.txt").write_text("Extra\nSomething new happened in Da Nang.\n", encoding="utf-8")

    def crash(*args, **kwargs):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(faiss, "write_index", crash)
    with pytest.raises(OSError):
        ingest([tmp_path / "extra.txt"], index_copy, embedder, 120, 30)
    after = PassageIndex.load(index_copy)
    assert after.manifest.documents == before.manifest.documents
    assert after.dense.ntotal == before.dense.ntotal
    assert not any(p.name.endswith(".partial") for p in index_copy.iterdir())


def test_manifest_of_another_embedding_model_is_refused(index_copy, embedder):
    snap = index_copy / (index_copy / "CURRENT").read_text().strip()
    m = json.loads((snap / "manifest.json").read_text())
    m["embedding_model"], m["embedding_dim"] = "all-mpnet-base-v2", 768
    (snap / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(IndexMismatch, match="all-mpnet-base-v2"):
        PassageIndex.load(index_copy, "all-MiniLM-L6-v2", 384)
    with pytest.raises(IndexMismatch, match="--rebuild"):
        ingest([SEEDS], index_copy, embedder, 120, 30)
    r = ingest([SEEDS], index_copy, embedder, 120, 30, rebuild=True)
    assert r.embedded_passages > 0
    assert PassageIndex.load(index_copy, "all-MiniLM-L6-v2", 384).manifest.document_count == 5


def test_missing_index_says_how_to_build_one(tmp_path):
    with pytest.raises(IndexNotFound, match="qa ingest"):
        PassageIndex.load(tmp_path / "nothing")


def test_sentence_bm25_is_saved_and_maps_sentences_to_their_passages(seed_index_dir):
    idx = PassageIndex.load(seed_index_dir)
    owner = idx.sentences.owner
    assert idx.sentences.lexical.size == len(owner) > len(idx.passages)
    assert set(owner.tolist()) == {p.passage_id for p in idx.passages}  # every passage has sentences
    assert list(owner) == sorted(owner)


def test_snapshot_without_sentence_bm25_still_loads(index_copy):
    snap = index_copy / (index_copy / "CURRENT").read_text().strip()
    shutil.rmtree(snap / "lexical_sentences")  # as written before sentence BM25 existed
    idx = PassageIndex.load(index_copy)
    assert idx.sentences.lexical.size == len(idx.sentences.owner) > 0


def test_sentence_vectors_are_saved_one_per_sentence_in_passage_order(seed_index_dir, embedder):
    idx = PassageIndex.load(seed_index_dir)
    sd = idx.sentence_dense
    assert sd is not None and sd.dense.ntotal == len(sd.owner) == len(idx.sentences.owner)
    assert list(sd.owner) == list(idx.sentences.owner)  # both sentence indexes number sentences alike
    p = idx.passages[7]
    texts = [p.text[s:e] for s, e in sentence_spans(p.text)]
    assert len(sd.vectors_of(p.passage_id)) == len(texts)
    fresh = embedder.embed(texts)
    assert (idx.sentence_vectors_of(p.passage_id) * fresh).sum(axis=1).min() > 0.999


def test_snapshot_without_sentence_vectors_loads_and_next_ingest_adds_them(index_copy, embedder):
    snap = index_copy / (index_copy / "CURRENT").read_text().strip()
    shutil.rmtree(snap / "dense_sentences")  # as written before sentence vectors existed
    idx = PassageIndex.load(index_copy)
    assert idx.sentence_dense is None and idx.sentence_vectors_of(0) is None
    r = ingest([SEEDS], index_copy, embedder, 120, 30)
    assert r.embedded_passages == 0 and r.embedded_sentences == len(idx.sentences.owner)
    assert PassageIndex.load(index_copy).sentence_dense.dense.ntotal == len(idx.sentences.owner)
