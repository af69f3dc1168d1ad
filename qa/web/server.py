"""Running the app under uvicorn with limits for slow or hostile clients.

- ``QA_HEADER_TIMEOUT_SECONDS``: a connection that has not sent complete request headers by then is
  closed (uvicorn itself waits forever, so thousands of half-open sockets would stay).
- ``QA_KEEP_ALIVE_SECONDS``: idle keep-alive connections are closed after this.
- ``QA_MAX_CONNECTIONS``: connections beyond this are answered 503 at once.
"""

from __future__ import annotations

import asyncio

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from qa.settings import Settings


class HeaderTimeoutProtocol(H11Protocol):
    """h11 with a deadline for each request's headers."""

    header_timeout = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def _arm(self) -> None:
        self._header_timer = self.loop.call_later(self.header_timeout, self._overdue)

    def _overdue(self) -> None:
        if self.cycle is None or self.cycle.response_complete:  # no request under way: its headers never came
            self.transport.close()

    def handle_events(self) -> None:
        super().handle_events()
        if self.cycle is not None and not self.cycle.response_complete and self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._header_timer is None and not self.transport.is_closing():
            self._arm()  # the next request on this connection gets its own deadline

    def connection_lost(self, exc: Exception | None) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        super().connection_lost(exc)


def run(app, settings: Settings) -> None:
    protocol = type("Protocol", (HeaderTimeoutProtocol,), {"header_timeout": settings.header_timeout_seconds})
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info", http=protocol,
                timeout_keep_alive=settings.keep_alive_seconds, limit_concurrency=settings.max_connections)
