"""The persisted index, see qa/search/store.py."""

import shutil

import pytest

from qa.corpus.chunking import sentence_spans
from qa.search.store import IndexNotFound, PassageIndex



def test_seed_index_has_manifest_documents_and_both_indexes(seed_index_dir):
    idx = PassageIndex.load(seed_index_dir, "all-MiniLM-L6-v2", 384)
    m = idx.manifest
    assert m.document_count == 5 and m.embedding_dim == 384 and m.chunk_words == 120
    assert len(m.documents["004_e78e7126cb0131b0"]) == 64  # sha256 content hash
    assert idx.dense.passages.ntotal == len(idx.passages) == m.passage_count == idx.lexical.passages.size
    for p in idx.passages:
        assert idx.documents[p.doc_id].text[p.start : p.end] == p.text


def test_missing_index_says_how_to_build_one(tmp_path):
    with pytest.raises(IndexNotFound, match="qa ingest"):
        PassageIndex.load(tmp_path / "nothing")


def test_sentence_bm25_is_saved_and_maps_sentences_to_their_passages(seed_index_dir):
    idx = PassageIndex.load(seed_index_dir)
    owner = idx.lexical.owner
    assert idx.lexical.sentences.size == len(owner) > len(idx.passages)
    assert set(owner.tolist()) == {p.passage_id for p in idx.passages}  # every passage has sentences
    assert list(owner) == sorted(owner)


def test_snapshot_without_sentence_bm25_still_loads(index_copy):
    snap = index_copy / (index_copy / "CURRENT").read_text().strip()
    shutil.rmtree(snap / "lexical_sentences")  # as written before sentence BM25 existed
    idx = PassageIndex.load(index_copy)
    assert idx.lexical.sentences.size == len(idx.lexical.owner) > 0


def test_a_snapshot_made_before_the_word_pattern_was_recorded_is_searched_as_it_was_built(index_copy):
    """Its vocabulary holds no one-character words: its manifest (no ``token_pattern``) loads it with the
    pattern it was made with, and ingest records the configured one in a new snapshot."""
    import json

    from qa.search.lexical import TWO_CHARACTER_WORDS

    snap = index_copy / (index_copy / "CURRENT").read_text().strip()
    manifest = json.loads((snap / "manifest.json").read_text())
    assert manifest["lexical"]["token_pattern"] != TWO_CHARACTER_WORDS
    del manifest["lexical"]["token_pattern"]
    (snap / "manifest.json").write_text(json.dumps(manifest))
    idx = PassageIndex.load(index_copy)
    assert idx.lexical.passages.tokenizer.splitter("Military Region 4") == ["Military", "Region"]
    assert idx.lexical.passages.search("Military Region 4", 3)


def test_sentence_vectors_are_saved_one_per_sentence_in_passage_order(seed_index_dir, embedder):
    idx = PassageIndex.load(seed_index_dir)
    sd = idx.dense
    assert sd is not None and sd.sentences.ntotal == len(sd.owner) == len(idx.lexical.owner)
    assert list(sd.owner) == list(idx.lexical.owner)  # both sentence indexes number sentences alike
    p = idx.passages[7]
    texts = [p.text[s:e] for s, e in sentence_spans(p.text)]
    assert len(sd.sentence_vectors(p.passage_id)) == len(texts)
    fresh = embedder.embed(texts)
    assert (idx.dense.sentence_vectors(p.passage_id) * fresh).sum(axis=1).min() > 0.999




def test_a_snapshot_replaced_while_it_is_read_is_read_again_from_the_new_one(index_copy, monkeypatch):
    """A writer may swap CURRENT and delete the old snapshot while a server is loading it."""
    import faiss

    import qa.search.store as store

    old_name = PassageIndex.current_name(index_copy)
    new_name = "snap-20990101-000000-abcdef"
    shutil.copytree(index_copy / old_name, index_copy / new_name)
    real = store.PassageIndex._load_snapshot.__func__
    calls = []

    def swap_during_read(cls, index_dir, name, *args):
        calls.append(name)
        if len(calls) == 1:  # another writer finishes right now
            (index_dir / "CURRENT").write_text(new_name)
            shutil.rmtree(index_dir / name)
            faiss.read_index(str(index_dir / name / "dense.faiss"))  # what the reader then meets
        return real(cls, index_dir, name, *args)

    monkeypatch.setattr(store.PassageIndex, "_load_snapshot", classmethod(swap_during_read))
    idx = PassageIndex.load(index_copy)
    assert calls == [old_name, new_name] and idx.source == (index_copy, new_name)
