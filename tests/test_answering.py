"""The pipeline joining retrieval and reading, see qa/answering.py."""

from qa.answering import AnswerPipeline
from qa.reader.model import ExtractiveReader


def _pipeline(pipeline, threshold):
    r = pipeline.reader
    reader = ExtractiveReader(r.model_dir, no_answer_threshold=threshold)
    return AnswerPipeline(pipeline.retriever, reader, top_k=4, max_answers=3)


def test_answers_carry_citations_that_check_out(pipeline):
    p = _pipeline(pipeline, threshold=-1e6)  # accept every span: the tiny model is random
    res = p.ask("  Where was the 2018 coordination conference held? ")
    assert res.question == "Where was the 2018 coordination conference held?"
    assert 1 <= len(res.answers) <= 3
    docs = p.retriever.index.documents
    for a in res.answers:
        assert 0.5 <= a.score <= 1.0
        for c in a.citations:
            assert docs[c.doc_id].text[c.start : c.end] == a.text
            assert c.passage == docs[c.doc_id].text[c.passage_start : c.passage_start + len(c.passage)]
            assert c.passage_start <= c.start < c.end <= c.passage_start + len(c.passage)
    assert [a.score for a in res.answers] == sorted((a.score for a in res.answers), reverse=True)
    assert res.took_ms > 0


def test_nothing_is_returned_below_the_no_answer_threshold(pipeline):
    assert _pipeline(pipeline, threshold=1e6).ask("Who won the football match?").answers == []


def test_same_text_in_overlapping_passages_is_one_answer(pipeline):
    res = _pipeline(pipeline, threshold=-1e6).ask("What happened in Military Region 4?", top_k=8, max_answers=20)
    texts = [a.text for a in res.answers]
    assert len(texts) == len(set(texts))
    for a in res.answers:
        keys = [(c.doc_id, c.start, c.end) for c in a.citations]
        assert len(keys) == len(set(keys))
