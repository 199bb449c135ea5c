"""A small HTTP/1.1 client on asyncio protocols: the delivery transport with the least CPU.

Delivery needs one thing from HTTP: POST a JSON body to one host, many at a time over keep-alive
connections, and read back a status, headers and a small body. aiohttp's general machinery costs
~110 µs of CPU per request on this machine; this client does the same exchange in about half that
(benchmarks/, README: Performance), which is most of what separates the exporter from the raw
request limit.

It speaks plain HTTP/1.1: ``Content-Length`` and ``chunked`` responses, responses delimited by
the server closing, ``Connection: close``, interim ``1xx`` answers, ``gzip``/``deflate`` bodies,
TLS with verification on (``ssl.create_default_context()`` unless you pass a context). It does not
do proxies: when the environment names a proxy for the target, :class:`Http11Transport` hands
every request to :class:`~otel_tool_exporter._internal.delivery.transport.AiohttpTransport` instead.
"""

from __future__ import annotations

import asyncio
import ssl
import urllib.request
import zlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

from otel_tool_exporter._internal.delivery.transport import (
    AiohttpTransport,
    ConnectError,
    RequestTimeoutError,
    TransportError,
    TransportResponse,
)

__all__ = ["Http11Transport"]

MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 16 * 1024 * 1024


class _ProtocolError(TransportError):
    """The server's answer was not HTTP/1.1 we can read."""


class _StaleConnection(TransportError):
    """A kept-alive connection closed before any byte of the answer: the server had dropped it
    while idle, so the request went nowhere and may be sent again on a fresh connection."""


class _Connection(asyncio.Protocol):
    """One keep-alive connection: at most one exchange at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[int, dict[str, str], bytes, bool]] | None = None
        self.closed = False
        self._eof = False

    # -- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.waiter is not None:
            self._try_parse()
        elif len(self.buffer) > MAX_HEAD_BYTES:
            self.abort()  # unsolicited bytes on an idle connection: do not reuse it

    def eof_received(self) -> bool:
        self._eof = True
        if self.waiter is not None:
            self._try_parse()
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._eof = True
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            self._try_parse()  # a body delimited by the close is complete now
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            if self.buffer:
                waiter.set_exception(TransportError("connection closed before the response was complete"))
            else:
                waiter.set_exception(_StaleConnection("connection closed without an answer"))
            self.waiter = None

    # -- exchange
    def send(self, request: bytes, waiter: asyncio.Future[tuple[int, dict[str, str], bytes, bool]]) -> None:
        self.waiter = waiter
        assert self.transport is not None
        self.transport.write(request)
        if self.buffer:
            self._try_parse()

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    def _try_parse(self) -> None:
        try:
            parsed = self._parse()
        except _ProtocolError as exc:
            self.closed = True
            waiter, self.waiter = self.waiter, None
            if waiter is not None and not waiter.done():
                waiter.set_exception(exc)
            self.abort()
            return
        if parsed is None:
            return
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(parsed)

    def _parse(self) -> tuple[int, dict[str, str], bytes, bool] | None:
        """One complete response from the buffer (consumed), or ``None`` while incomplete."""
        buffer = self.buffer
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > MAX_HEAD_BYTES:
                    raise _ProtocolError("response head too large")
                return None
            lines = bytes(buffer[:end]).split(b"\r\n")
            status_line = lines[0]
            if not status_line.startswith(b"HTTP/1.") or len(status_line) < 12:
                raise _ProtocolError(f"not an HTTP/1.x status line: {status_line[:40]!r}")
            try:
                status = int(status_line[9:12])
            except ValueError:
                raise _ProtocolError(f"bad status line: {status_line[:40]!r}") from None
            headers: dict[str, str] = {}
            for line in lines[1:]:
                name, sep, value = line.partition(b":")
                if not sep:
                    raise _ProtocolError("malformed header line")
                key = name.strip().decode("latin-1").lower()
                text = value.strip().decode("latin-1")
                headers[key] = f"{headers[key]}, {text}" if key in headers else text
            if 100 <= status < 200:  # interim answer (e.g. 100 Continue): the real one follows
                del buffer[: end + 4]
                continue
            start = end + 4
            keep_alive = "close" not in headers.get("connection", "").lower() and status_line.startswith(b"HTTP/1.1")
            body_and_end = self._body(headers, status, start)
            if body_and_end is None:
                return None
            body, stop, delimited_by_close = body_and_end
            del buffer[:stop]
            encoding = headers.get("content-encoding", "").lower()
            if encoding in ("gzip", "deflate"):
                try:
                    body = zlib.decompress(body, 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS)
                except zlib.error:
                    raise _ProtocolError(f"undecodable {encoding} body") from None
            return status, headers, body, keep_alive and not delimited_by_close

    def _body(self, headers: dict[str, str], status: int, start: int) -> tuple[bytes, int, bool] | None:
        buffer = self.buffer
        if status in (204, 304):
            return b"", start, False
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = bytearray()
            pos = start
            while True:
                line_end = buffer.find(b"\r\n", pos)
                if line_end < 0:
                    return None
                try:
                    size = int(bytes(buffer[pos:line_end]).split(b";", 1)[0].strip(), 16)
                except ValueError:
                    raise _ProtocolError("bad chunk size") from None
                if size == 0:
                    trailer_end = buffer.find(b"\r\n\r\n", line_end)
                    if trailer_end == line_end:  # no trailers: "0\r\n\r\n"
                        return bytes(body), line_end + 4, False
                    if trailer_end < 0:
                        return None
                    return bytes(body), trailer_end + 4, False
                if len(body) + size > MAX_BODY_BYTES:
                    raise _ProtocolError("response body too large")
                chunk_start = line_end + 2
                if len(buffer) < chunk_start + size + 2:
                    return None
                body += buffer[chunk_start : chunk_start + size]
                pos = chunk_start + size + 2
        length = headers.get("content-length")
        if length is not None:
            try:
                size = int(length)
            except ValueError:
                raise _ProtocolError("bad Content-Length") from None
            if size < 0 or size > MAX_BODY_BYTES:
                raise _ProtocolError("bad Content-Length")
            if len(buffer) < start + size:
                return None
            return bytes(buffer[start : start + size]), start + size, False
        # neither: the body runs until the server closes the connection
        if not self._eof:
            if len(buffer) - start > MAX_BODY_BYTES:
                raise _ProtocolError("response body too large")
            return None
        return bytes(buffer[start:]), len(buffer), True


class Http11Transport:
    """Keep-alive HTTP/1.1 POSTs: one connection per request in flight (the client's limiter bounds
    how many), kept for the next request; at most ``pool_size`` idle connections per origin."""

    def __init__(
        self,
        *,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        pool_size: int = 64,
        ssl_context: ssl.SSLContext | None = None,
        trust_env: bool = True,
    ) -> None:
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._pool_size = pool_size
        self._ssl = ssl_context
        self._trust_env = trust_env
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._heads: dict[tuple[str, str], tuple[tuple[str, str, int], bytes] | None] = {}
        self._fallback: AiohttpTransport | None = None
        self._closing = False

    # -- request head, cached per (url, headers): the same few are sent over and over
    def _head(self, url: str, headers: Mapping[str, str]) -> tuple[tuple[str, str, int], bytes] | None:
        cache_key = (url, repr(sorted(headers.items())))
        cached = self._heads.get(cache_key, False)
        if cached is not False:
            return cached  # type: ignore[return-value]
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise ConnectError(f"unsupported URL scheme {scheme!r}")
        port = parts.port or (443 if scheme == "https" else 80)
        if self._trust_env and _proxy_for(url):
            result = None
        else:
            host = parts.hostname
            host_header = host if ":" not in host else f"[{host}]"
            if parts.port is not None:
                host_header = f"{host_header}:{parts.port}"
            lines = [f"Host: {host_header}", "User-Agent: otel-tool-exporter", "Accept-Encoding: identity"]
            for name, value in headers.items():
                if name.lower() in ("host", "content-length", "transfer-encoding", "connection"):
                    continue
                lines.append(f"{name}: {value}")
            lines.append("Connection: keep-alive")
            block = ("\r\n".join(lines)).encode("latin-1", "replace")
            result = ((scheme, host, port), block)
        if len(self._heads) > 64:
            self._heads.clear()
        self._heads[cache_key] = result
        return result

    async def post(
        self, url: str, *, params: Mapping[str, str], headers: Mapping[str, str], content: bytes
    ) -> TransportResponse:
        head = self._head(url, headers)
        if head is None:  # a proxy is configured for this origin: aiohttp knows how to use it
            if self._fallback is None:
                self._fallback = AiohttpTransport(
                    timeout=self._timeout,
                    connect_timeout=self._connect_timeout,
                    pool_size=self._pool_size,
                    ssl_context=self._ssl,
                )
            return await self._fallback.post(url, params=params, headers=headers, content=content)
        origin, block = head
        parts = urlsplit(url)
        target = parts.path or "/"
        query = "&".join(filter(None, (parts.query, urlencode(params) if params else "")))
        if query:
            target = f"{target}?{query}"
        request = b"POST %s HTTP/1.1\r\n%s\r\nContent-Length: %d\r\n\r\n%s" % (
            target.encode("ascii", "replace"),
            block,
            len(content),
            content,
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout
        try:
            # one connection per request in flight: the client's limiter bounds how many
            return await self._exchange(loop, origin, request, deadline)
        except asyncio.TimeoutError:
            raise RequestTimeoutError("request timed out") from None

    async def _exchange(
        self, loop: asyncio.AbstractEventLoop, origin: tuple[str, str, int], request: bytes, deadline: float
    ) -> TransportResponse:
        reused = True
        connection = self._take_idle(origin)
        if connection is None:
            reused = False
            connection = await self._connect(loop, origin, deadline)
        waiter: asyncio.Future[tuple[int, dict[str, str], bytes, bool]] = loop.create_future()
        timer = loop.call_at(deadline, _expire, waiter)
        try:
            try:
                connection.send(request, waiter)
                status, headers, body, keep_alive = await waiter
            except _StaleConnection:
                connection.abort()
                if not reused:
                    raise
                # a kept-alive connection the server had already closed: the request never got
                # an answer, so one fresh connection gets it once more
                connection = await self._connect(loop, origin, deadline)
                waiter = loop.create_future()
                timer.cancel()
                timer = loop.call_at(deadline, _expire, waiter)
                connection.send(request, waiter)
                status, headers, body, keep_alive = await waiter
        except BaseException:
            connection.abort()
            raise
        finally:
            timer.cancel()
        idle = self._idle.setdefault(origin, [])
        if keep_alive and not connection.closed and not self._closing and len(idle) < self._pool_size:
            idle.append(connection)
        else:
            connection.abort()
        return TransportResponse(status, headers, body)

    def _take_idle(self, origin: tuple[str, str, int]) -> _Connection | None:
        idle = self._idle.get(origin)
        while idle:
            connection = idle.pop()
            if not connection.closed and not connection.buffer:
                return connection
            connection.abort()
        return None

    async def _connect(
        self, loop: asyncio.AbstractEventLoop, origin: tuple[str, str, int], deadline: float
    ) -> _Connection:
        scheme, host, port = origin
        context: ssl.SSLContext | None = None
        if scheme == "https":
            context = self._ssl if self._ssl is not None else _default_context()
        timeout = max(0.0, min(self._connect_timeout, deadline - loop.time()))
        try:
            _, connection = await asyncio.wait_for(
                loop.create_connection(
                    _Connection, host, port, ssl=context, server_hostname=host if context is not None else None
                ),
                timeout,
            )
        except asyncio.TimeoutError:
            raise RequestTimeoutError("connect timed out") from None
        except ssl.SSLError as exc:
            raise ConnectError(f"TLS handshake failed: {exc.reason or type(exc).__name__}") from None
        except OSError as exc:
            raise ConnectError(f"cannot connect: {type(exc).__name__}") from None
        return connection

    async def aclose(self) -> None:
        self._closing = True
        for idle in self._idle.values():
            for connection in idle:
                connection.abort()
        self._idle.clear()
        if self._fallback is not None:
            await self._fallback.aclose()
            self._fallback = None


def _expire(waiter: asyncio.Future[Any]) -> None:
    if not waiter.done():
        waiter.set_exception(asyncio.TimeoutError())


_context: ssl.SSLContext | None = None


def _default_context() -> ssl.SSLContext:
    global _context
    if _context is None:
        _context = ssl.create_default_context()  # verification on: certificates and host names
    return _context


def _proxy_for(url: str) -> str | None:
    """The proxy the environment names for ``url`` (``HTTPS_PROXY``, ``NO_PROXY``, …), if any."""
    parts = urlsplit(url)
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme.lower()) or proxies.get("all")
    if not proxy:
        return None
    try:
        if urllib.request.proxy_bypass(parts.hostname or ""):
            return None
    except Exception:
        pass
    return proxy
