"""Admission control for the questions the service reads (``/api/ask``, ``/api/search``).

A bounded number are read at once and a bounded number wait; a question beyond both is shed at once with
a 503 and ``Retry-After``, so the service stays quick for those it takes instead of slowing for everyone.
Every question has a deadline, waiting included: past it the reading stops (``TimeUp``) and the answer
is a 503. A question whose client has gone away while it waited is dropped before it starts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio.to_thread
from litestar import Request

from qa.errors import TimeUp

T = TypeVar("T")


class Shed(Exception):
    """Too many questions already read or waiting."""


class ClientGone(Exception):
    """The client disconnected while its question waited."""


@dataclass
class AdmissionStats:
    running: int = 0
    waiting: int = 0
    shed: int = 0
    timed_out: int = 0
    dropped: int = 0  # clients gone before their turn


async def _disconnected(request: Request) -> None:
    """Return once the client has closed the connection (the request body has been read already)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


class Admission:
    def __init__(self, concurrency: int, queue: int, deadline_seconds: float) -> None:
        self.concurrency = concurrency
        self.queue = queue
        self.deadline_seconds = deadline_seconds
        self.stats = AdmissionStats()
        self._slots: asyncio.Semaphore | None = None  # made in the server's event loop

    @classmethod
    def from_settings(cls, settings) -> "Admission":
        return cls(settings.max_concurrent_questions, settings.max_queued_questions, settings.request_deadline_seconds)

    async def run(self, request: Request, work: Callable[[float], T]) -> T:
        """``work(deadline)`` in a worker thread once a slot is free; raises ``Shed``, ``ClientGone`` or ``TimeUp``."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.concurrency)
        deadline = time.monotonic() + self.deadline_seconds
        if self._slots.locked() and self.stats.waiting >= self.queue:
            self.stats.shed += 1
            raise Shed()
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
