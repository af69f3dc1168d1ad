"""Incremental ingest into the persisted index, see qa/search/ingest.py."""

import json
import shutil

import faiss
import pytest

from qa.corpus.chunking import passage_sentences, sentence_spans
from qa.search.store import IndexMismatch, PassageIndex
from qa.search.ingest import ingest

from conftest import MAX_BYTES, SEEDS, index_config


def test_incremental_ingest_embeds_only_new_or_changed(tmp_path, index_copy, embedder):
    folder = tmp_path / "more"
    folder.mkdir()
    (folder / "new_article.txt").write_text("New article\nThe parade was held in Hanoi on May 5.\n", encoding="utf-8")
    r = ingest([SEEDS, folder], index_copy, index_config(embedder), MAX_BYTES)
    assert r.added == ["new_article"] and len(r.unchanged) == 5 and r.embedded_passages == 1
    assert r.embedded_sentences == 2  # the new article's two sentences; the seeds' keep their vectors
    again = ingest([SEEDS, folder], index_copy, index_config(embedder), MAX_BYTES)
    assert not again.changed and again.embedded_passages == 0 and again.embedded_sentences == 0
    (folder / "new_article.txt").write_text("New article\nThe parade was held in Hue on May 6.\n", encoding="utf-8")
    changed = ingest([folder], index_copy, index_config(embedder), MAX_BYTES)
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
        ingest([tmp_path / "extra.txt"], index_copy, index_config(embedder), MAX_BYTES)
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
        ingest([SEEDS], index_copy, index_config(embedder), MAX_BYTES)
    r = ingest([SEEDS], index_copy, index_config(embedder), MAX_BYTES, rebuild=True)
    assert r.embedded_passages > 0
    assert PassageIndex.load(index_copy, "all-MiniLM-L6-v2", 384).manifest.document_count == 5


def test_snapshot_without_sentence_vectors_loads_and_next_ingest_adds_them(index_copy, embedder):
    snap = index_copy / (index_copy / "CURRENT").read_text().strip()
    shutil.rmtree(snap / "dense_sentences")  # as written before sentence vectors existed
    idx = PassageIndex.load(index_copy)
    assert idx.dense.sentences is None and idx.dense.sentence_vectors(0) is None
    r = ingest([SEEDS], index_copy, index_config(embedder), MAX_BYTES)
    texts, _ = passage_sentences(idx.passages)
    # every sentence gets its vector back; one that two overlapping passages share is embedded once
    assert r.embedded_passages == 0 and r.embedded_sentences == len(set(texts)) < len(texts)
    assert PassageIndex.load(index_copy).dense.sentences.ntotal == len(idx.lexical.owner)


def test_an_index_made_with_other_bm25_settings_is_rebuilt_by_the_next_ingest_without_embedding(index_copy, embedder):
    """A snapshot from before the word pattern was recorded (bm25s' own, which drops "2"): ingest of
    the same, unchanged seeds records the configured pattern and rebuilds BM25 from the kept passages."""
    from conftest import LEXICAL

    snap = index_copy / (index_copy / "CURRENT").read_text().strip()
    manifest = json.loads((snap / "manifest.json").read_text())
    del manifest["lexical"]["token_pattern"]
    (snap / "manifest.json").write_text(json.dumps(manifest))
    r = ingest([SEEDS], index_copy, index_config(embedder), MAX_BYTES)
    assert not r.changed and r.embedded_passages == 0 and r.embedded_sentences == 0
    idx = PassageIndex.load(index_copy)
    assert idx.manifest.lexical == LEXICAL and (index_copy / "CURRENT").read_text().strip() != snap.name
    assert "2" in idx.lexical.sentences.tokenizer.get_vocab_dict()


def _killed(index_dir, folder, patch: str) -> int:
    """Run ``ingest`` of ``folder`` in another process with ``patch`` applied first; its exit code."""
    import os
    import subprocess
    import sys
    import textwrap

    from conftest import REPO

    code = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(REPO / "tests")!r})
        {textwrap.indent(textwrap.dedent(patch), "        ").strip()}
        from conftest import MAX_BYTES, index_config
        from qa.search.embedding import Embedder
        from qa.search.ingest import ingest
        from qa.settings import Settings
        ingest([__import__("pathlib").Path({str(folder)!r})], __import__("pathlib").Path({str(index_dir)!r}),
               index_config(Embedder.from_settings(Settings())), MAX_BYTES)
    """)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True).returncode


def _new_articles(folder, n):
    folder.mkdir()
    for i in range(n):
        (folder / f"news{i}.txt").write_text(f"News {i}\nThe ferry to island {i} left at {i} o'clock. "
                                             f"It carried {i * 7} passengers and mail for the school.\n")


def test_a_kill_just_before_the_swap_leaves_the_old_index_and_the_next_write_cleans_up(tmp_path, index_copy, embedder):
    _new_articles(tmp_path / "new", 3)
    rc = _killed(index_copy, tmp_path / "new", """
        import qa.search.store as store
        real = store.os.replace
        def replace(src, dst):
            if str(dst).endswith("CURRENT"):
                os.kill(os.getpid(), signal.SIGKILL)
            return real(src, dst)
        store.os.replace = replace
    """)
    assert rc == -9
    assert PassageIndex.load(index_copy).manifest.document_count == 5  # the old snapshot, whole
    leftovers = sorted(p.name for p in index_copy.iterdir() if p.name.startswith("snap-") or p.name == "CURRENT.tmp")
    assert len(leftovers) >= 2  # the current snapshot and the killed write's
    r = ingest([tmp_path / "new"], index_copy, index_config(embedder), MAX_BYTES)
    assert len(r.added) == 3 and PassageIndex.load(index_copy).manifest.document_count == 8
    assert [p.name for p in index_copy.iterdir() if p.name.startswith("snap-")] == [PassageIndex.current_name(index_copy)]
    assert not (index_copy / "CURRENT.tmp").exists() and not (index_copy / "embedding-cache").exists()


def test_a_kill_during_embedding_resumes_from_the_vectors_already_computed(tmp_path, index_copy, embedder):
    """Embedding is saved block by block (8 texts here); after a kill in the third block the next run
    embeds only what the first two blocks did not hold."""
    _new_articles(tmp_path / "new", 20)
    rc = _killed(index_copy, tmp_path / "new", """
        import qa.search.embedding_cache as ec
        ec.EmbeddingCache.__init__.__defaults__ = (8,)
        real, saved = ec.EmbeddingCache.save, []
        def save(self, keys, vectors):
            real(self, keys, vectors)
            saved.append(len(keys))
            if len(saved) == 2:
                os.kill(os.getpid(), signal.SIGKILL)
        ec.EmbeddingCache.save = save
    """)
    assert rc == -9 and PassageIndex.load(index_copy).manifest.document_count == 5
    assert (index_copy / "embedding-cache").exists()
    full = ingest([tmp_path / "new"], tmp_path / "fresh", index_config(embedder), MAX_BYTES)  # the whole work, for scale
    r = ingest([tmp_path / "new"], index_copy, index_config(embedder), MAX_BYTES)
    assert len(r.added) == 20
    assert r.embedded_passages + r.embedded_sentences == full.embedded_passages + full.embedded_sentences - 16
    idx = PassageIndex.load(index_copy)
    p = idx.passages_of("news13")[0]
    assert float(idx.dense.passage_vectors([p.passage_id])[0] @ embedder.embed([p.text])[0]) > 0.999
    assert not (index_copy / "embedding-cache").exists()


def test_deleting_and_updating_touch_only_the_documents_concerned(index_copy, embedder):
    from qa.corpus.documents import make_document
    from qa.search.ingest import write
    from qa.search.retriever import FusionParams, Retriever
    from qa.settings import Settings

    before = PassageIndex.load(index_copy)
    doc = before.documents["002_177afc6a93d74f24"]
    changed = make_document(doc.doc_id, doc.text + "\nOne more sentence was added at the end.", doc.title)
    r, idx = write(index_copy, index_config(embedder), [changed], ["003_a6d69e29b11ebe8e"])
    assert r.updated == [doc.doc_id] and r.deleted == ["003_a6d69e29b11ebe8e"]
    assert r.embedded_passages == len(idx.passages_of(doc.doc_id))  # only the updated article's passages
    assert "003_a6d69e29b11ebe8e" not in idx.documents and len(idx.documents) == 4
    kept = before.passages_of("000_555c1164a5d21455")
    now = idx.passages_of("000_555c1164a5d21455")
    assert (idx.dense.passage_vectors([p.passage_id for p in now]) == before.dense.passage_vectors([p.passage_id for p in kept])).all()
    hits = Retriever(idx, embedder, FusionParams.from_settings(Settings())).search("Lao provinces cooperation", 20, "hybrid")
    assert hits and all(h.passage.doc_id != "003_a6d69e29b11ebe8e" for h in hits)
    r, _ = write(index_copy, index_config(embedder), [], ["no-such-doc"])
    assert r.not_found == ["no-such-doc"] and not r.changed
