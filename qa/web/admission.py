"""Admission control for the questions the service reads (``/api/ask``, ``/api/search``).

A bounded number are read at once and a bounded number wait; a question beyond both is shed at once with
a 503 and ``Retry-After``, so the service stays quick for those it takes instead of slowing for everyone.
Every question has a deadline, waiting included: past it the reading stops (``TimeUp``) and the answer
is a 503. A question whose client has gone away while it waited is dropped before it starts.

Shedding happens ahead of the app (``ShedGate``, an ASGI middleware in front of Litestar): a question
over the bound is refused before its body is read, parsed or validated, with a body and headers encoded
once at start, so a flood of refused questions costs the service next to nothing. ``Retry-After`` varies
between refusals, so clients that honour it come back spread out rather than all at once. A client that
ignores it and asks again at once is paced instead: its 503 is sent after a short pause (a timer in the
event loop, no CPU), so sixteen such clients make tens of refusals a second rather than a thousand, and
the CPU they would have taken from the questions being read stays with them. The pause is bounded
(``max_held_refusals``): past it a refusal goes out at once.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio.to_thread
from litestar import Request

from qa.errors import TimeUp
from qa.timing import current

T = TypeVar("T")


class Shed(Exception):
    """Too many questions already read or waiting."""


class ClientGone(Exception):
    """The client disconnected while its question waited."""


SHED_BUCKETS = (1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2)  # seconds


@dataclass
class ShedTimes:
    """How long the refusals themselves took in the server, from the gate to the last byte handed to the
    connection: a histogram kept with a bisect and two additions (``/metrics``: ``qa_shed_seconds``)."""

    counts: list[int] = field(default_factory=lambda: [0] * (len(SHED_BUCKETS) + 1))  # the last: over the top
    total: float = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(SHED_BUCKETS, seconds)] += 1
        self.total += seconds


@dataclass
class AdmissionStats:
    running: int = 0
    waiting: int = 0
    shed: int = 0
    timed_out: int = 0
    dropped: int = 0  # clients gone before their turn
    held: int = 0  # refusals in their pause now
    shed_times: ShedTimes = field(default_factory=ShedTimes)


async def _disconnected(request: Request) -> None:
    """Return once the client has closed the connection (the request body has been read already)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


class Admission:
    def __init__(self, concurrency: int, queue: int, deadline_seconds: float, retry_after: tuple[int, int] = (1, 1),
                 shed_hold: float = 0.0, max_held: int = 0) -> None:
        self.concurrency = concurrency
        self.queue = queue
        self.deadline_seconds = deadline_seconds
        self.retry_after = retry_after  # a shed question's Retry-After is drawn from this range (seconds)
        self.shed_hold = shed_hold  # a refusal is sent after 0.5 to 1.5 times this (seconds), ...
        self.max_held = max_held  # ... while fewer than this are held
        self.stats = AdmissionStats()
        self.inside = 0  # questions past the gate (ShedGate) and not yet answered
        self._slots: asyncio.Semaphore | None = None  # made in the server's event loop

    @classmethod
    def from_settings(cls, settings) -> "Admission":
        return cls(settings.max_concurrent_questions, settings.max_queued_questions, settings.request_deadline_seconds,
                   (settings.retry_after_seconds, settings.retry_after_seconds + settings.retry_after_spread_seconds),
                   settings.shed_hold_seconds, settings.max_held_refusals)

    @property
    def bound(self) -> int:
        """Questions read or waiting at most: one more is shed."""
        return self.concurrency + self.queue

    def retry_after_values(self) -> range:
        return range(self.retry_after[0], self.retry_after[1] + 1)

    async def run(self, request: Request, work: Callable[[float], T]) -> T:
        """``work(deadline)`` in a worker thread once a slot is free; raises ``Shed``, ``ClientGone`` or ``TimeUp``."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.concurrency)
        deadline = time.monotonic() + self.deadline_seconds
        if self._slots.locked() and self.stats.waiting >= self.queue:  # a route the gate does not stand before
            self.stats.shed += 1
            raise Shed()
        times = current()
        if times is not None:  # stages timed (qa/timing.py): the wait for a slot and the hop to a worker thread
            entered, inner = time.perf_counter(), work

            def work(deadline: float) -> T:
                times.add("admission", time.perf_counter() - entered)
                return inner(deadline)
        self.stats.waiting += 1
        acquire = asyncio.ensure_future(self._slots.acquire())
        gone = asyncio.ensure_future(_disconnected(request))
        try:
            done, _ = await asyncio.wait({acquire, gone}, timeout=deadline - time.monotonic(),
                                         return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.stats.waiting -= 1
        if acquire not in done:
            acquire.cancel()
            gone.cancel()
            await asyncio.sleep(0)  # let the cancellation land
            if acquire.done() and not acquire.cancelled():  # the slot came free just as the wait ended
                self._slots.release()
            if gone in done:
                self.stats.dropped += 1
                raise ClientGone()
            self.stats.timed_out += 1
            raise TimeUp("the question waited past its deadline")
        try:
            if gone.done():  # went away while the slot came free
                self.stats.dropped += 1
                raise ClientGone()
            self.stats.running += 1
            try:
                return await anyio.to_thread.run_sync(work, deadline)
            except TimeUp:
                self.stats.timed_out += 1
                raise
            finally:
                self.stats.running -= 1
        finally:
            gone.cancel()
            self._slots.release()

    def facts(self) -> dict[str, Any]:
        return {"concurrency": self.concurrency, "queue": self.queue, "deadline_seconds": self.deadline_seconds}


# The routes whose handlers read a question through ``Admission.run``, and the method that asks there:
# the gate stands before these (tests/web/test_shedding.py checks that it covers every such handler).
QUESTION_ROUTES = {"/api/ask": "POST", "/api/search": "GET"}
SHED_DETAIL = "the service is busy: too many questions are being read or waiting; try again in a moment"


def shed_body() -> bytes:
    """The JSON of a shed question's 503 (the ``ErrorBody`` shape every error has)."""
    return json.dumps({"status_code": 503, "detail": SHED_DETAIL}).encode()


class ShedGate:
    """ASGI middleware ahead of the app: the questions' routes pass only while fewer than ``admission.bound``
    questions are inside; the rest get a 503 at once, before their body is read or validated. Everything
    else (``/health``, ``/metrics``, documents, the page) goes straight through, so it is answered while
    questions are shed.

    The refusal is two prebuilt ASGI messages: the status line's headers (one set per ``Retry-After``
    value, picked at random) and the body, encoded once here. It carries the security headers; no request
    id, since nothing about a refusal is logged for an id to find.
    """

    def __init__(self, app, admission: Admission, routes: dict[str, str], headers: tuple[tuple[bytes, bytes], ...]) -> None:
        self.app = app
        self.admission = admission
        self.routes = dict(routes)  # path -> the method that asks a question there
        body = shed_body()
        base = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"), *headers]
        self._starts = tuple({"type": "http.response.start", "status": 503,
                              "headers": [*base, (b"retry-after", str(s).encode())]}
                             for s in admission.retry_after_values())
        self._body = {"type": "http.response.body", "body": body, "more_body": False}

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or self.routes.get(scope["path"]) != scope["method"]:
            return await self.app(scope, receive, send)
        t0 = time.perf_counter()
        admission = self.admission
        if admission.inside >= admission.bound:
            stats = admission.stats
            stats.shed += 1
            if admission.shed_hold and stats.held < admission.max_held:
                # paced, not spun: the pause is a timer; the time counted is the refusal's own work around it
                spent = time.perf_counter() - t0
                stats.held += 1
                try:
                    await asyncio.sleep(admission.shed_hold * (0.5 + random.random()))
                finally:
                    stats.held -= 1
                t0 = time.perf_counter() - spent
            starts = self._starts
            await send(starts[int(random.random() * len(starts))])
            await send(self._body)
            stats.shed_times.observe(time.perf_counter() - t0)
            return
        admission.inside += 1
        try:
            await self.app(scope, receive, send)
        finally:
            admission.inside -= 1
