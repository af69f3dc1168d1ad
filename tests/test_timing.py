"""Per-request stage timers (qa/timing.py): what a question records when a recorder is on, that it records
nothing otherwise, and that timing changes no answer."""

import anyio
import anyio.to_thread

from qa.timing import recording, stage

QUESTION = "Who attended the coordination conference of the offices?"
STAGES = {"embed", "faiss", "bm25", "fusion", "tokenise", "pad", "forward", "decode", "no_answer", "merge"}


def test_a_question_records_every_stage_in_order_and_answers_as_it_does_untimed(pipeline):
    from conftest import make_pipeline

    pipeline = make_pipeline(pipeline.retriever, pipeline.reader, answer_cache_size=0)  # the repeat is read again
    untimed = pipeline.ask(QUESTION)
    with recording() as times:
        timed = pipeline.ask(QUESTION)
    names = [name for name, _, _ in times.spans]
    assert STAGES <= set(names), STAGES - set(names)
    first = {name: names.index(name) for name in STAGES}
    assert first["embed"] < first["tokenise"] < first["forward"] < first["decode"] < first["no_answer"] < first["merge"]
    assert all(size > 0 for name, _, size in times.spans if name == "forward")  # padded tokens of each pass
    assert all(seconds >= 0 for _, seconds, _ in times.spans)
    assert sum(seconds for _, seconds, _ in times.spans) * 1000 <= timed.took_ms + 1  # parts of the whole, not more
    assert [(a.text, a.score, a.citations) for a in timed.answers] == [(a.text, a.score, a.citations)
                                                                      for a in untimed.answers]


def test_nothing_is_recorded_without_a_recorder_and_the_recorder_follows_into_worker_threads():
    assert stage("bm25") is stage("forward")  # off: one shared object that times nothing
    with stage("before"):
        pass

    def in_a_worker_thread() -> None:
        with stage("in_thread", 7):
            pass

    async def request() -> list:
        with recording() as times:
            with stage("on_the_loop"):
                pass
            await anyio.to_thread.run_sync(in_a_worker_thread)  # how the service reads a question
        with stage("after"):
            pass
        return times.spans

    spans = anyio.run(request)
    assert [(name, size) for name, _, size in spans] == [("on_the_loop", 0), ("in_thread", 7)]
