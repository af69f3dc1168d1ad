"""What may go into the corpus, and the reason given when something may not, see qa/corpus/hygiene.py."""

import pytest

from qa.corpus.documents import document_from_fields, load_documents
from qa.corpus.hygiene import BadDocument, check_id, safe_id

LIMIT = 10_000


@pytest.mark.parametrize("raw, reason", [
    (None, "must be text, not NoneType"), ({"nested": 1}, "must be text, not dict"), (7, "must be text, not int"),
    ("", "empty"), ("a/b", "no spaces, slashes"), ("a b", "no spaces"), ("..", "no spaces"), ("x\x00", "control"),
    ("a?b", "no spaces"), ("a#b", "no spaces"), ("a%2Fb", "no spaces"), ("x" * 201, "longer than 200"),
])
def test_ids_that_cannot_round_trip_through_the_documents_url_are_refused(raw, reason):
    with pytest.raises(BadDocument, match=reason if reason != "control" else "no spaces"):
        check_id(raw)


def test_ordinary_ids_pass_and_file_names_are_made_safe():
    for ok in ("004_e78e7126cb0131b0", "reuters-2024.01.05", "tin:123", "Hà_Nội"):
        assert check_id(ok) == ok
    assert safe_id("my article (final)/v2") == "my_article_(final)_v2"
    assert safe_id("..") == "_"
    check_id(safe_id("weird name?#%.txt"))


@pytest.mark.parametrize("fields, reason", [
    ({"id": "a", "title": 123, "text": "Body."}, "'title' must be text"),
    ({"id": "a", "text": 5}, "'text' must be text"),
    ({"id": "a", "text": "bin\x00ary"}, "control characters"),
    ({"id": "a", "text": "bell\x07"}, "control characters"),
    ({"id": "a", "text": "x" * (LIMIT + 1)}, "over the limit of 10,000"),
    ({"id": "a", "text": "  \n "}, "no text"),
    ({"text": "no id"}, "missing 'id'"),
    (["not", "an", "object"], "expected an object"),
])
def test_bad_fields_are_refused_with_a_reason(fields, reason):
    with pytest.raises(BadDocument, match=reason):
        document_from_fields(fields, LIMIT)


def test_a_blank_title_means_the_first_line_and_tabs_and_newlines_are_text():
    d = document_from_fields({"id": "a", "title": "   ", "text": "Headline here\n\tBody text."}, LIMIT)
    assert d.title == "Headline here" and "\tBody" in d.text


def test_files_over_the_limit_binary_files_and_bad_lines_are_reported_and_the_rest_loads(tmp_path):
    (tmp_path / "big.txt").write_text("word " * 5000)
    (tmp_path / "zeros.txt").write_bytes(b"\x00" * 100)
    (tmp_path / "ok.txt").write_text("Title\nFine text.")
    (tmp_path / "lines.jsonl").write_text('{"id": "j1", "text": "Good."}\nnot json\n{"id": 3, "text": "x"}\n')
    res = load_documents([tmp_path, tmp_path / "missing"], LIMIT)
    assert sorted(d.doc_id for d in res.documents) == ["j1", "ok"]
    text = "\n".join(res.errors)
    assert "big.txt: skipped: 25,000 bytes, over the limit" in text and "zeros.txt: skipped" in text
    assert "line 2 skipped: not JSON" in text and "line 3 skipped: 'id' must be text" in text
    assert "missing: skipped: no such file or folder" in text


def test_an_inline_base64_image_is_dropped_from_the_text():
    blob = "iVBORw0KGgoAAAANSUhEUgAA" * 12000  # about 300 KB
    d = document_from_fields({"id": "img", "text": f'Flood photos\nThe river rose. <img src="data:image/png;base64,{blob}"> '
                                                   "Roads were closed.", "title": None}, 10**6)
    assert blob[:100] not in d.text and "The river rose." in d.text and "Roads were closed." in d.text
