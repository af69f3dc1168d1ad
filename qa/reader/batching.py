"""Batching across requests on one machine: concurrent questions share the reader's forward passes.

``BatchingReader`` stands where an ``ExtractiveReader`` stands. A question's ``read`` waits up to
``wait_ms`` for others (at most ``max_questions`` in all); one thread then reads them together with
``read_many`` and hands each caller its own result. Everything else is the wrapped reader's.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field

from qa.reader.extractive import ExtractiveReader, SpanAnswer


@dataclass
class _Ask:
    question: str
    passages: list[str]
    top_n: int
    deadline: float | None
    result: Future = field(default_factory=Future)


class BatchingReader:
    def __init__(self, reader: ExtractiveReader, *, wait_ms: float, max_questions: int) -> None:
        self.reader = reader
        self.wait_s = wait_ms / 1000.0
        self.max_questions = max_questions
        self.batches = 0  # forward-pass groups run, and the questions in them: how much sharing there was
        self.questions = 0
        self._pending: list[_Ask] = []
        self._cv = threading.Condition()
        self._worker: threading.Thread | None = None

    def __getattr__(self, name: str):  # model_dir, config, warm_up, bf16, ...: the wrapped reader's
        return getattr(self.reader, name)

    def read(self, question: str, passages: list[str], top_n: int = 1,
             deadline: float | None = None) -> list[list[SpanAnswer]]:
        if not passages:
            return []
        ask = _Ask(question, passages, top_n, deadline)
        with self._cv:
            self._pending.append(ask)
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._run, name="reader-batches", daemon=True)
                self._worker.start()
            self._cv.notify_all()
        return ask.result.result()

    def _take(self) -> list[_Ask]:
        """The next batch: the first waiting question and those that come within ``wait_s`` of it."""
        with self._cv:
            while not self._pending:
                if not self._cv.wait(timeout=30.0):
                    self._worker = None  # idle: the thread ends, the next read starts another
                    return []
            until = time.monotonic() + self.wait_s
            while len(self._pending) < self.max_questions and (left := until - time.monotonic()) > 0:
                self._cv.wait(timeout=left)
            batch, self._pending = self._pending[: self.max_questions], self._pending[self.max_questions :]
            return batch

    def _run(self) -> None:
        while batch := self._take():
            results = read_grouped(self.reader, [(a.question, a.passages, a.top_n) for a in batch],
                                   [a.deadline for a in batch])
            for a, r in zip(batch, results):
                if isinstance(r, BaseException):  # TimeUp, or a fault: each caller of its group raises it
                    a.result.set_exception(r)
                else:
                    a.result.set_result(r)
            read = [a for a, r in zip(batch, results) if not isinstance(r, BaseException)]
            self.batches += len({a.top_n for a in read})
            self.questions += len(read)


def read_grouped(reader: ExtractiveReader, asks: list[tuple[str, list[str], int]],
                 deadlines: list[float | None] | None = None) -> list[list[list[SpanAnswer]] | BaseException]:
    """``read_many`` for questions that may ask for different numbers of spans (``top_n``): one shared
    pass per number. Each question gets its result, or the exception its group's pass raised. A group
    reads until the latest of its questions' deadlines: TimeUp only once none of them can be answered in time."""
    deadlines = deadlines or [None] * len(asks)
    out: list = [None] * len(asks)
    for top_n in sorted({a[2] for a in asks}):
        rows = [i for i, a in enumerate(asks) if a[2] == top_n]
        group_deadlines = [deadlines[i] for i in rows]
        deadline = None if None in group_deadlines else max(group_deadlines)
        try:
            got = reader.read_many([(asks[i][0], asks[i][1]) for i in rows], top_n, deadline)
        except BaseException as exc:
            got = [exc] * len(rows)
        for i, r in zip(rows, got):
            out[i] = r
    return out


def serving_reader(settings) -> ExtractiveReader | BatchingReader:
    """The reader a server reads with: batched across requests when ``reader_batch_wait_ms`` is set."""
    reader = ExtractiveReader.from_settings(settings)
    if settings.reader_batch_wait_ms <= 0:
        return reader
    return BatchingReader(reader, wait_ms=settings.reader_batch_wait_ms, max_questions=settings.reader_batch_questions)
