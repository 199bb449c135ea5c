"""Connection-level limits of the receiver: how many connections, and how long a request head may take.

aiohttp's server reads request heads without a deadline of its own and accepts every connection
it is offered, so a few hundred clients that open a connection and send half a head (slowloris)
would hold it until the process runs out of file descriptors — at which point asyncio logs a
traceback for every accept it retries. :class:`ConnectionGuard` sits between the listening socket
and aiohttp's protocol factory:

- at most ``max_connections`` are open (never more than the process's file limit allows): one
  over the cap is answered ``503`` with ``Retry-After`` and closed, and that is said once per
  minute in one log line with the count, not once per connection;
- a connection that has not delivered a complete request head within ``head_timeout`` seconds
  of opening is closed. (Bodies have their own deadline in the request handler; idle kept-alive
  connections are closed by aiohttp's ``keepalive_timeout``.)
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from otel_tool_exporter.settings import is_loopback_host

__all__ = [
    "HTTP_LOGGER",
    "ConnectionGuard",
    "GuardedSite",
    "acquire_within",
    "check_exposure",
    "mark_served",
]

logger = logging.getLogger("otel_tool_exporter.sidecar")

_NOTICE_INTERVAL = 60.0  # seconds between two "refusing connections" lines
_FD_RESERVE = 64  # file descriptors kept free for the spool, the exporter's own connections, logs
_REFUSAL = (
    b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: text/plain\r\n"
    b"Content-Length: 22\r\nConnection: close\r\n\r\ntoo many connections\r\n"
)


class _BadRequestsOncePerMinute(logging.Filter):
    """aiohttp's server logs a traceback for every request it cannot parse: a client sending
    garbage (it gets its 400) must not fill the log. One line a minute, with a count and without
    the traceback; errors of any other kind pass unchanged."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._clock = clock
        self._last = -_NOTICE_INTERVAL
        self._suppressed = 0

    def filter(self, record: logging.LogRecord) -> bool:
        from aiohttp.http_exceptions import HttpProcessingError

        exc = record.exc_info[1] if record.exc_info else None
        if not isinstance(exc, HttpProcessingError):
            return True
        now = self._clock()
        if now - self._last < _NOTICE_INTERVAL:
            self._suppressed += 1
            return False
        record.msg = "sidecar: malformed HTTP request answered 400 (%s; %d more since the last notice)"
        record.args = (str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__, self._suppressed)
        record.exc_info = None
        record.exc_text = None
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        self._last = now
        self._suppressed = 0
        return True


HTTP_LOGGER = logging.getLogger("otel_tool_exporter.sidecar.http")  # aiohttp's server logs here
HTTP_LOGGER.addFilter(_BadRequestsOncePerMinute())


def _fd_room() -> int | None:
    try:
        import resource
    except ImportError:  # Windows
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else max(16, soft - _FD_RESERVE)


class _Refusal(asyncio.Protocol):
    """Answers 503 at once and closes: a connection over the cap costs one write."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.write(_REFUSAL)  # type: ignore[attr-defined]
        transport.close()


class ConnectionGuard:
    """A protocol factory around aiohttp's: the connection cap and the head deadline."""

    def __init__(
        self, *, max_connections: int, head_timeout: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        room = _fd_room()
        self.max_connections = min(max_connections, room) if room is not None else max_connections
        self.head_timeout = head_timeout
        self.refused = 0  # connections answered 503 over the cap
        self.cut = 0  # connections closed for not sending a request head in time
        self._clock = clock
        self._pending: dict[int, tuple[Any, asyncio.TimerHandle]] = {}  # connections still owing a head
        self._last_notice = -_NOTICE_INTERVAL
        self._refused_since_notice = 0
        self._server: web.Server | None = None

    def bind(self, server: web.Server) -> Callable[[], asyncio.BaseProtocol]:
        self._server = server
        return self._protocol

    def served(self, protocol: Any) -> None:
        """A request head arrived on ``protocol``'s connection: it is past the head deadline."""
        pending = self._pending.pop(id(protocol), None)
        if pending is not None:
            pending[1].cancel()

    def _protocol(self) -> asyncio.BaseProtocol:
        server = self._server
        assert server is not None
        if len(server.connections) >= self.max_connections:
            self._refuse()
            return _Refusal()
        handler = server()
        timer = asyncio.get_running_loop().call_later(self.head_timeout, self._expire, id(handler))
        self._pending[id(handler)] = (handler, timer)  # aiohttp's handlers take no weak references
        return handler

    def _expire(self, key: int) -> None:
        pending = self._pending.pop(key, None)
        if pending is not None and pending[0].transport is not None:
            self.cut += 1
            pending[0].force_close()

    def _refuse(self) -> None:
        self.refused += 1
        self._refused_since_notice += 1
        now = self._clock()
        if now - self._last_notice >= _NOTICE_INTERVAL:
            logger.warning(
                "sidecar: %d connections open, the cap: answering new ones 503 (%d refused since the last notice; "
                "slow or idle clients are closed after %g s without a request head)",
                self.max_connections,
                self._refused_since_notice,
                self.head_timeout,
            )
            self._last_notice = now
            self._refused_since_notice = 0

    def snapshot(self) -> dict[str, int]:
        return {"connections_refused": self.refused, "connections_cut_for_slow_head": self.cut}


class GuardedSite(web.TCPSite):
    """``web.TCPSite`` whose listening socket hands connections to a :class:`ConnectionGuard`."""

    def __init__(self, runner: web.AppRunner, host: str, port: int, guard: ConnectionGuard) -> None:
        super().__init__(runner, host, port, reuse_address=True)
        self._guard = guard

    async def start(self) -> None:
        await web.BaseSite.start(self)  # registers the site; TCPSite.start would bind aiohttp's own factory
        server = self._runner.server
        assert server is not None
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._guard.bind(server), self._host, self._port, reuse_address=True, backlog=self._backlog
        )

    @property
    def port(self) -> int:
        sockets = getattr(self._server, "sockets", None) or ()
        return int(sockets[0].getsockname()[1]) if sockets else self._port


def mark_served(guard: ConnectionGuard) -> Any:
    """The aiohttp middleware that tells ``guard`` a connection delivered a request head."""

    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        guard.served(request.protocol)
        response: web.StreamResponse = await handler(request)
        return response

    return middleware


async def acquire_within(slots: asyncio.Semaphore, timeout: float) -> bool:
    """Take one of ``slots``, waiting at most ``timeout`` seconds; ``False`` when none came free
    (the caller answers "busy, retry later" instead of holding the request)."""
    if not slots.locked():
        await slots.acquire()  # free: returns at once
        return True
    try:
        await asyncio.wait_for(slots.acquire(), timeout)
    except asyncio.TimeoutError:
        return False
    return True


def check_exposure(host: str, token: str | None, allow_unauthenticated: bool) -> None:
    """Refuse (``ValueError``) to listen beyond loopback with no token, unless explicitly allowed."""
    if token is None and not allow_unauthenticated and not is_loopback_host(host):
        raise ValueError(
            f"refusing to listen on {host!r} without a token: anyone who can reach it could send spans. Set "
            "--auth-token (or $OTEL_TOOL_EXPORTER_AUTH_TOKEN), bind 127.0.0.1, or pass --allow-unauthenticated "
            "(SidecarConfig(allow_unauthenticated=True)) if the network in front of it already restricts who connects"
        )
