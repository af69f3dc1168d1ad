"""Running the app under uvicorn with limits for slow or hostile clients.

- The shedding gate (``admission.ShedGate``) stands in front of the Litestar app: questions over the
  admission bound are refused before the app sees them.
- HTTP is parsed by httptools (llhttp, in C) rather than h11 (pure Python): once the gate refuses a
  question before the app, most of what a refusal costs the server is parsing its request, and with
  httptools the whole refusal takes well under half the CPU time it takes with h11
  (``bench/bench_load.py`` reports the server's CPU per request). h11 stays the fallback where httptools is
  not installed.
- ``QA_HEADER_TIMEOUT_SECONDS``: a connection that has not sent complete request headers by then is
  closed (uvicorn itself waits forever, so thousands of half-open sockets would stay).
- ``QA_KEEP_ALIVE_SECONDS``: idle keep-alive connections are closed after this.
- ``QA_MAX_CONNECTIONS``: connections beyond this are answered 503 at once.
"""

from __future__ import annotations

import asyncio
import sys

import uvicorn
from litestar import Litestar
from uvicorn.protocols.http.h11_impl import H11Protocol

from qa.settings import Settings
from qa.web.admission import QUESTION_ROUTES, ShedGate
from qa.web.edge import SECURITY_HEADERS


class HeaderDeadline:
    """A deadline for each request's headers, armed when a connection opens and after each response, and
    disarmed once a request's headers are in. When it passes with no request under way, the connection
    is closed."""

    header_timeout = 10.0
    _header_timer: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        self._header_timer = self.loop.call_later(self.header_timeout, self._overdue)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _overdue(self) -> None:
        if self.cycle is None or self.cycle.response_complete:  # no request under way: its headers never came
            self.transport.close()

    def _rearm(self) -> None:
        if self._header_timer is None and not self.transport.is_closing():
            self._arm()  # the next request on this connection gets its own deadline

    # the hooks both uvicorn protocols share; each subclass disarms where its parser has the headers
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)  # type: ignore[misc]
        self._arm()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        self._rearm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)  # type: ignore[misc]


class HeaderTimeoutProtocol(HeaderDeadline, H11Protocol):
    """h11 with a deadline for each request's headers."""

    def handle_events(self) -> None:
        super().handle_events()
        if self.cycle is not None and not self.cycle.response_complete:
            self._disarm()


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # httptools not installed: h11 serves
    HttpToolsProtocol = None


if HttpToolsProtocol is not None:
    class HttpToolsHeaderTimeoutProtocol(HeaderDeadline, HttpToolsProtocol):
        """httptools with a deadline for each request's headers."""

        def on_headers_complete(self) -> None:
            self._disarm()
            super().on_headers_complete()

    PROTOCOL: type = HttpToolsHeaderTimeoutProtocol
else:
    PROTOCOL = HeaderTimeoutProtocol


def gated(app: Litestar) -> ShedGate:
    """The app as it is served: the shedding gate in front, sharing the app's admission control."""
    return ShedGate(app, app.state.admission, QUESTION_ROUTES, SECURITY_HEADERS)


def config(app: Litestar, settings: Settings, log_level: str = "info", protocol: type = PROTOCOL) -> uvicorn.Config:
    """uvicorn's configuration for ``app`` as ``qa serve`` runs it (tests start the same in a thread)."""
    http = type("Protocol", (protocol,), {"header_timeout": settings.header_timeout_seconds})
    return uvicorn.Config(gated(app), host=settings.host, port=settings.port, log_level=log_level, http=http,
                          timeout_keep_alive=settings.keep_alive_seconds, limit_concurrency=settings.max_connections)


def run(app: Litestar, settings: Settings) -> None:
    server = uvicorn.Server(config(app, settings))
    server.run()
    if not server.started:  # as uvicorn.run: a server that could not start (port taken) is a failure
        sys.exit(3)
