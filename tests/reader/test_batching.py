"""Batching across requests: questions read together get what each would get alone."""

from __future__ import annotations

import threading

import pytest

from conftest import make_reader
from qa.reader.batching import BatchingReader

ASKS = [("Where was the conference held?", ["The conference was held in Vinh city on April 24.",
                                            "Major General Ha Tan Tien is Deputy Commander."]),
        ("Who is Deputy Commander?", ["Major General Ha Tan Tien is Deputy Commander."]),
        ("When was the plan issued?", ["The plan was issued on 18th September 2019.", "Troops brought rice.",
                                       "The conference was held in Vinh city."]),
        ("What did troops bring?", ["Troops brought rice to children in Huoi Son village."])]


@pytest.fixture(scope="module")
def reader(tiny_reader_dir):
    r = make_reader(tiny_reader_dir)
    r.warm_up()
    return r


def _key(result):
    return [[(s.passage_index, s.start, s.end, s.text, round(s.margin, 3)) for s in spans] for spans in result]


def test_read_many_gives_each_question_its_own_read(reader):
    together = reader.read_many(ASKS, top_n=2)
    assert [_key(r) for r in together] == [_key(reader.read(q, ps, top_n=2)) for q, ps in ASKS]


def test_concurrent_questions_share_forward_passes_and_get_their_own_answers(reader):
    batching = BatchingReader(reader, wait_ms=200, max_questions=8)
    results: dict[int, list] = {}
    start = threading.Barrier(len(ASKS))

    def ask(i):
        start.wait()
        results[i] = batching.read(*ASKS[i], top_n=2)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(ASKS))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert [_key(results[i]) for i in range(len(ASKS))] == [_key(reader.read(q, ps, top_n=2)) for q, ps in ASKS]
    assert batching.questions == len(ASKS) and batching.batches < len(ASKS), "the questions were read together"
    assert batching.model_dir == reader.model_dir  # stands where the reader stands


def test_a_fault_reaches_the_caller(reader):
    batching = BatchingReader(reader, wait_ms=1, max_questions=4)
    from qa.errors import TimeUp

    with pytest.raises(TimeUp):
        batching.read("Who?", ["Ha Tan Tien is Deputy Commander."] * 40, deadline=0.0)
    assert batching.read(*ASKS[1]) == reader.read(*ASKS[1])  # and the batcher goes on
