"""Per-request stage timers: where a question's time goes (``bench/bench_stages.py``).

The stages of a question (embedding, BM25, FAISS, fusion, tokenisation, each forward pass, decoding, the
no-answer decision, JSON) mark themselves with ``with stage("bm25"):``. Nothing is timed unless a recorder
is on for the current context (``recording()``); when it is off a stage costs one context-variable read.
The context follows the request into the worker thread that reads it (anyio copies it there), so one
recorder collects a whole request. What is recorded never reaches an answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from time import perf_counter


class StageTimes:
    """The stages one request went through, in order: (name, seconds, size), where size is what the
    stage worked on when it says (a forward pass: its padded tokens), else 0. ``marks`` holds the start
    of a stage that begins in one hook and ends in another."""

    __slots__ = ("spans", "marks")

    def __init__(self) -> None:
        self.spans: list[tuple[str, float, int]] = []
        self.marks: dict[str, float] = {}

    def add(self, name: str, seconds: float, size: int = 0) -> None:
        self.spans.append((name, seconds, size))

    def totals(self) -> dict[str, float]:
        """Seconds per stage name, summed over its occurrences."""
        out: dict[str, float] = {}
        for name, seconds, _ in self.spans:
            out[name] = out.get(name, 0.0) + seconds
        return out


_current: ContextVar[StageTimes | None] = ContextVar("qa_stage_times", default=None)


class _Timer:
    __slots__ = ("times", "name", "size", "t0")

    def __init__(self, times: StageTimes, name: str, size: int) -> None:
        self.times, self.name, self.size = times, name, size

    def __enter__(self) -> "_Timer":
        self.t0 = perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.times.spans.append((self.name, perf_counter() - self.t0, self.size))


class _Off:
    __slots__ = ()

    def __enter__(self) -> "_Off":
        return self

    def __exit__(self, *exc: object) -> None:
        return None


_OFF = _Off()  # shared: a stage timed by nobody allocates nothing


def stage(name: str, size: int = 0) -> _Timer | _Off:
    """A context manager that times its block into the current recorder, if one is on."""
    times = _current.get()
    return _OFF if times is None else _Timer(times, name, size)


def current() -> StageTimes | None:
    """The recorder on for this context, or None (for marks that span two hooks, e.g. the JSON encoding)."""
    return _current.get()


@contextmanager
def recording() -> Iterator[StageTimes]:
    """Turn a recorder on for this context (and the tasks and worker threads it starts)."""
    times = StageTimes()
    token = _current.set(times)
    try:
        yield times
    finally:
        _current.reset(token)
