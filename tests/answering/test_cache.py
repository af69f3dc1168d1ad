"""Answers kept for repeated questions over one index snapshot, see qa/answering/cache.py and
AnswerPipeline.cached/ask."""

import pytest

from qa.answering.cache import AnswerCache
from qa.answering.pipeline import Answer
from qa.search.filters import Filter

from conftest import make_pipeline, make_reader


def test_the_least_recently_used_answers_go_first_and_capacity_zero_keeps_nothing():
    cache = AnswerCache(2)
    a, b, c = (Answer("A", 0.9),), (Answer("B", 0.8),), ()
    cache.put("a", a)
    cache.put("b", b)
    assert cache.get("a") == a  # "a" is now the most recently used
    cache.put("c", c)  # so "b" goes
    assert cache.get("b") is None and cache.get("c") == () and cache.get("a") == a
    stats = cache.stats()
    assert (stats.size, stats.capacity, stats.hits, stats.misses) == (2, 2, 3, 3)
    none = AnswerCache(0)
    none.put("a", a)
    assert none.get("a") is None and none.stats().size == 0
    with pytest.raises(ValueError):
        AnswerCache(-1)


class CountingReader:
    """The real reader, counting the questions it reads."""

    def __init__(self, reader):
        self.inner, self.reads = reader, 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def read(self, *args, **kwargs):
        self.reads += 1
        return self.inner.read(*args, **kwargs)


@pytest.fixture
def counted(pipeline):
    reader = CountingReader(make_reader(pipeline.reader.model_dir, no_answer_threshold=-1e6))
    return make_pipeline(pipeline.retriever, reader, top_k=4, max_answers=3, answer_cache_size=8), reader


def test_a_repeated_question_is_answered_from_the_cache_with_the_same_answers(counted):
    p, reader = counted
    first = p.ask("Where was the 2018 coordination conference held?")
    assert first.answers and reader.reads == 1
    again = p.ask("  Where was the 2018 coordination conference held? ")  # the same question, spaced differently
    assert reader.reads == 1
    assert [(a.text, a.score, a.citations) for a in again.answers] == [(a.text, a.score, a.citations) for a in first.answers]
    assert again.question == first.question
    again.answers[0].citations.clear()  # a caller's copy: the cache keeps its own
    assert p.cached("Where was the 2018 coordination conference held?").answers[0].citations == first.answers[0].citations
    assert p.cache.stats().hits == 2 and p.cache.stats().misses == 1


def test_other_options_are_other_entries_and_explicit_defaults_share_one(counted):
    p, reader = counted
    q = "Where was the 2018 coordination conference held?"
    p.ask(q)
    p.ask(q, top_k=4, max_answers=3, mode=p.mode, order="score")  # the defaults, spelt out
    assert reader.reads == 1
    p.ask(q, top_k=2)
    p.ask(q, max_answers=1)
    p.ask(q, mode="lexical")
    p.ask(q, order="recent")
    p.ask(q, where=Filter.of(since="2019-01-01"))
    assert reader.reads == 6
    assert p.cached(q, where=Filter.of(since="2020-01-01")) is None


def test_another_snapshot_starts_with_an_empty_cache(counted):
    p, reader = counted
    q = "Where was the 2018 coordination conference held?"
    p.ask(q)
    other = p.with_index(p.retriever.index)
    assert other.cached(q) is None and other.cache.capacity == 8
    other.ask(q)
    assert reader.reads == 2


def test_the_cache_can_be_switched_off(pipeline):
    reader = CountingReader(make_reader(pipeline.reader.model_dir, no_answer_threshold=-1e6))
    p = make_pipeline(pipeline.retriever, reader, top_k=4, max_answers=3, answer_cache_size=0)
    p.ask("Who won?")
    p.ask("Who won?")
    assert reader.reads == 2 and p.cached("Who won?") is None
