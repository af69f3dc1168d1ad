"""Loading articles (.txt/.md/.jsonl) and removing scrape leftovers, see qa/corpus/documents.py."""

from pathlib import Path

from qa.corpus.documents import clean_text, load_documents

from conftest import MAX_BYTES, SEEDS


def test_clean_text_removes_scrape_leftovers_and_keeps_wording():
    raw = (
        "Title line\n"
        "First sentence stays as written.\n"
        "![]() |\n"
        "Caption text. Photo: Someone |\n"
        ":Leading colon removed.\n"
        "Source\n\n\n\n\n"
        "Comment (0)Glued text survives.\n"
    )
    text = clean_text(raw)
    assert "![]()" not in text and "Comment (0)" not in text
    assert "Caption text. Photo: Someone\n" in text  # trailing " |" gone
    assert "\nLeading colon removed." in text
    assert "\nSource\n" not in text
    assert "Glued text survives." in text
    assert "First sentence stays as written." in text
    assert "\n\n\n" not in text


def test_seed_articles_load_with_titles_and_ids():
    res = load_documents([SEEDS], MAX_BYTES)
    assert res.errors == []
    assert len(res.documents) == 5
    ids = {d.doc_id for d in res.documents}
    assert "004_e78e7126cb0131b0" in ids
    doc = next(d for d in res.documents if d.doc_id == "004_e78e7126cb0131b0")
    assert doc.title == "Effective coordination in performing military and defense tasks"
    assert "![]()" not in doc.text and "Comment (0)" not in doc.text


def test_jsonl_md_and_bad_files_are_reported_by_name_and_skipped(tmp_path: Path):
    (tmp_path / "a.md").write_text("# Heading\n\nBody text here.\n", encoding="utf-8")
    (tmp_path / "b.jsonl").write_text(
        '{"id": "j1", "title": "T1", "text": "Alpha beta."}\nnot json\n{"id": "j2", "text": "No title given."}\n',
        encoding="utf-8",
    )
    (tmp_path / "latin1.txt").write_bytes("Caf\xe9 au lait".encode("latin-1"))
    (tmp_path / "empty.txt").write_text("   \n", encoding="utf-8")
    (tmp_path / "ignored.pdf").write_bytes(b"%PDF")
    res = load_documents([tmp_path], MAX_BYTES)
    assert sorted(d.doc_id for d in res.documents) == ["a", "j1", "j2"]
    assert next(d for d in res.documents if d.doc_id == "j1").title == "T1"
    assert next(d for d in res.documents if d.doc_id == "j2").title == "No title given."
    joined = "\n".join(res.errors)
    assert "latin1.txt" in joined and "UTF-8" in joined
    assert "empty.txt" in joined
    assert "b.jsonl: line 2" in joined
