"""Sentence-aware chunking with overlap and exact offsets, see qa/corpus/chunking.py."""

from qa.corpus.chunking import Chunking, chunk_document, chunk_documents, sentence_spans
from qa.corpus.documents import Document, load_documents

from conftest import MAX_BYTES, SEEDS


def test_offsets_round_trip_on_seed_articles():
    docs = load_documents([SEEDS], MAX_BYTES).documents
    passages = chunk_documents(docs, Chunking(120, 30, 4000))
    by_id = {d.doc_id: d for d in docs}
    assert passages
    for p in passages:
        assert by_id[p.doc_id].text[p.start : p.end] == p.text
        assert p.text == p.text.strip()
    assert [p.passage_id for p in passages] == list(range(len(passages)))


def test_chunks_respect_size_cover_the_text_and_overlap():
    sentences = [f"Sentence number {i} has exactly seven words." for i in range(40)]
    doc = Document("d", "t", " ".join(sentences))
    spans = chunk_document(doc, chunk_words=30, overlap_words=10, max_chars=4000)
    assert len(spans) > 5
    for s, e in spans:
        assert len(doc.text[s:e].split()) <= 30
        assert doc.text[s:e].endswith(".")  # whole sentences only
    for (s1, e1), (s2, e2) in zip(spans, spans[1:]):
        assert s1 < s2 <= e1  # each passage overlaps the previous one and moves forward
    assert spans[0][0] == 0 and spans[-1][1] == len(doc.text)


def test_long_sentence_is_split_on_words():
    doc = Document("d", "t", " ".join(f"w{i}" for i in range(250)) + ".")
    spans = chunk_document(doc, chunk_words=100, overlap_words=20, max_chars=4000)
    assert len(spans) >= 3
    assert all(len(doc.text[s:e].split()) <= 100 for s, e in spans)
    assert spans[-1][1] == len(doc.text)


def test_sentence_spans_split_on_end_punctuation_and_lines():
    text = 'He said "yes." Then left!\nNew line without stop\nLast one?'
    got = [text[s:e] for s, e in sentence_spans(text)]
    assert got == ['He said "yes."', "Then left!", "New line without stop", "Last one?"]


def test_abbreviations_and_initials_do_not_end_a_sentence():
    text = "The Board issued Plan No. 168-KH/ĐU on 18th September. Lt. Gen. Ha Tho Binh spoke. J. Smith agreed.\nNext."
    got = [text[s:e] for s, e in sentence_spans(text)]
    assert got == ["The Board issued Plan No. 168-KH/ĐU on 18th September.", "Lt. Gen. Ha Tho Binh spoke.",
                   "J. Smith agreed.", "Next."]


def test_a_period_before_a_lower_case_word_or_a_digit_is_not_a_stop():
    text = "Growth was approx. 5 per cent. in 2023 it rose. The end."
    got = [text[s:e] for s, e in sentence_spans(text)]
    assert got == ["Growth was approx. 5 per cent. in 2023 it rose.", "The end."]


def test_no_passage_exceeds_the_character_cap_even_without_spaces():
    """A 300 KB inline base64 image is one 'word': it must still be cut, and every piece keeps exact offsets."""
    blob = "iVBORw0KGgo" * 30000
    doc = Document("img", "t", "An article with an image.\n" + blob + "\nThe article goes on after it.")
    spans = chunk_document(doc, chunk_words=120, overlap_words=30, max_chars=2000)
    assert max(e - s for s, e in spans) <= 2000
    covered = "".join(doc.text[s:e] for s, e in spans)
    assert blob in covered.replace("\n", "") or len(covered) >= len(blob)
    assert spans[0][0] == 0 and spans[-1][1] == len(doc.text)


def test_the_character_cap_leaves_ordinary_articles_as_they_were():
    docs = load_documents([SEEDS], MAX_BYTES).documents
    assert chunk_documents(docs, Chunking(120, 30, 4000)) == chunk_documents(docs, Chunking(120, 30, 10**9))
