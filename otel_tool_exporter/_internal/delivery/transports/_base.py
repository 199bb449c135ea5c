"""The transport interface and the one layer that holds every transport to the same rules.

Delivery only ever POSTs bytes and reads a status, headers and bytes back (:class:`Transport`).
Whichever library does the exchange, :class:`RuleLayer` makes it behave the same:

- ``timeout`` is the whole exchange (connect, send, every byte of the answer), not one read;
- redirects are never followed (the library is told so; the client turns a 3xx into a final
  failure that names the target's origin, so the key never travels to another origin);
- the answer's body is read up to ``max_response_bytes``, compressed and after decompression; a
  larger one is cut there and marked :attr:`TransportResponse.problem` (for a 2xx the Log exists:
  the client must not send it again);
- an error answer never carries our own header values back (a server that quotes the request's
  ``X-API-KEY`` line in its 400 must not put the key into our log);
- every library error leaves as one of :mod:`._exceptions`' three types.

A transport you pass yourself gets the same layer around it (:class:`GuardedTransport`), minus
what only the reading library can do (stopping a huge body while it arrives).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Mapping
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from otel_tool_exporter._internal.body import DEFLATE, GZIP, BodyTooLarge, BoundedInflater, MalformedBody
from otel_tool_exporter._internal.delivery.transports._deadline import Deadlines
from otel_tool_exporter._internal.delivery.transports._env import RouteCache
from otel_tool_exporter._internal.delivery.transports._env import ssl_context as default_ssl_context
from otel_tool_exporter._internal.delivery.transports._exceptions import RequestTimeoutError, map_exception

__all__ = [
    "ACCEPT_ENCODING",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "GuardedTransport",
    "RuleLayer",
    "Transport",
    "TransportResponse",
    "read_limited",
    "redirect_target",
    "scrub_header_values",
]

DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024  # a Log's answer is ~100 bytes; error details a few KiB
ACCEPT_ENCODING = "gzip, deflate"  # the encodings we inflate ourselves, under the cap
_WBITS = {"gzip": GZIP, "x-gzip": GZIP, "deflate": DEFLATE}
_NOT_SECRET = frozenset(
    {"content-type", "accept", "accept-encoding", "user-agent", "content-length", "host", "connection"}
)
_MIN_SCRUBBED = 4  # shorter header values are not secrets, and replacing them would garble text


@dataclass(slots=True, frozen=True)
class TransportResponse:
    """A complete answer. ``problem`` says why ``body`` is empty or cut (too large, an encoding
    we do not read, a corrupt compressed stream); ``None`` when the body is whole."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    problem: str | None = None


class Transport(Protocol):
    """``post`` sends a request with a body; the built-in transports also take ``method="PATCH"``
    (completing a Log created early, README: Live parents). One you write yourself needs only POST:
    without ``method`` it is never asked for anything else."""

    async def post(
        self, url: str, *, params: Mapping[str, str], headers: Mapping[str, str], content: bytes
    ) -> TransportResponse: ...

    async def aclose(self) -> None: ...


def redirect_target(response: TransportResponse, url: str) -> str:
    """The origin (scheme://host:port) a 3xx points at: the request's own for a relative
    ``Location``, never a path or query (they can carry tokens)."""
    location = response.headers.get("Location") or response.headers.get("location") or ""
    try:
        parts = urlsplit(location.strip())
        base = urlsplit(url)
        scheme = parts.scheme or base.scheme
        host = parts.hostname or (base.hostname if not parts.netloc else "")
        port = parts.port if parts.netloc else base.port
    except ValueError:
        return "an unreadable Location"
    if not location.strip():
        return "no Location"
    if not host:
        return "an unreadable Location"
    port = port or {"http": 80, "https": 443}.get(scheme.lower())
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme.lower()}://{shown}:{port}" if port else f"{scheme.lower()}://{shown}"


def scrub_header_values(text: bytes, headers: Mapping[str, str]) -> bytes:
    """``text`` with the values of our own secret-bearing headers (the API key, an Authorization)
    replaced by ``***``: a server that quotes the request back must not put them into our output."""
    for name, value in headers.items():
        if name.lower() not in _NOT_SECRET and len(value) >= _MIN_SCRUBBED:
            text = text.replace(value.encode("utf-8", "replace"), b"***")
    return text


async def _exchange_within(exchange: Awaitable[TransportResponse], deadlines: Deadlines) -> TransportResponse:
    """``exchange`` finished within the deadline (the whole of it), its failures as our errors."""
    try:
        return await deadlines.run(exchange)
    except asyncio.CancelledError:
        raise
    except (asyncio.TimeoutError, TimeoutError):
        raise RequestTimeoutError(f"no complete answer within {deadlines.timeout:g} s") from None
    except Exception as exc:
        raise map_exception(exc) from exc


async def read_limited(chunks: AsyncIterator[bytes], encoding: str, cap: int) -> tuple[bytes, str | None]:
    """The body of ``chunks`` (raw, as sent), inflated per ``encoding``, and what went wrong.

    At most ``cap`` bytes are held either way: a gzip bomb stops at the cap having inflated
    little more than it. Stops reading as soon as the cap is passed; the caller then drops the
    connection instead of draining it.
    """
    encoding = encoding.strip().lower()
    wbits = _WBITS.get(encoding)
    if encoding not in ("", "identity") and wbits is None:
        return b"", f"body in an encoding this client did not ask for ({encoding[:40]!r})"
    received = 0
    parts: list[bytes] = []
    inflater = BoundedInflater(wbits, cap) if wbits is not None else None
    try:
        async for chunk in chunks:
            received += len(chunk)
            if received > cap:
                raise BodyTooLarge(f"body larger than {cap} bytes")
            if inflater is None:
                parts.append(chunk)
            else:
                inflater.feed(chunk)
        return (inflater.finish() if inflater is not None else b"".join(parts)), None
    except BodyTooLarge as exc:
        return b"", f"{exc} (not read further)"
    except MalformedBody as exc:
        return b"", str(exc)


class _WholeExchange:
    """``timeout``, the whole exchange's deadline: kept by one :class:`Deadlines` per transport,
    the one place it lives."""

    _deadlines: Deadlines

    @property
    def timeout(self) -> float:
        return self._deadlines.timeout

    @timeout.setter
    def timeout(self, value: float) -> None:  # requests from now on (one already out keeps its own)
        self._deadlines.timeout = value


class RuleLayer(_WholeExchange):
    """Base of the shipped transports: the rules above, around a library's :meth:`_exchange`."""

    def __init__(
        self,
        *,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        pool_size: int = 64,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        ca_file: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        proxy: str | None = None,
        trust_env: bool = True,
    ) -> None:
        self._deadlines = Deadlines(timeout)
        self.connect_timeout = connect_timeout
        self.pool_size = pool_size
        self.max_response_bytes = max_response_bytes
        self._ca_file = ca_file
        self._ssl = ssl_context
        self._routes = RouteCache(proxy=proxy, trust_env=trust_env)

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = default_ssl_context(self._ca_file)
        return self._ssl

    supports_methods = True  # post(..., method="PATCH") works

    async def post(
        self,
        url: str,
        *,
        params: Mapping[str, str],
        headers: Mapping[str, str],
        content: bytes,
        method: str = "POST",
    ) -> TransportResponse:
        try:
            route = self._routes.route(url)
        except Exception as exc:
            raise map_exception(exc) from exc
        if route.netrc_authorization is not None and not any(k.lower() == "authorization" for k in headers):
            headers = {**headers, "Authorization": route.netrc_authorization}
        response = await _exchange_within(
            self._exchange(url, params, headers, content, route.proxy, method), self._deadlines
        )
        if response.status >= 300 and response.body:
            response = TransportResponse(
                response.status, response.headers, scrub_header_values(response.body, headers), response.problem
            )
        return response

    async def _exchange(
        self,
        url: str,
        params: Mapping[str, str],
        headers: Mapping[str, str],
        content: bytes,
        proxy: str | None,
        method: str = "POST",
    ) -> TransportResponse:
        raise NotImplementedError

    async def aclose(self) -> None:
        raise NotImplementedError


class GuardedTransport(_WholeExchange):
    """A transport you supplied, held to the same rules where they can apply after the fact:
    the overall deadline, the body cap (the body is already read), the scrubbed error answer and
    the error types."""

    def __init__(
        self, inner: Transport, *, timeout: float, max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    ) -> None:
        self.inner = inner
        self._deadlines = Deadlines(timeout)
        self.max_response_bytes = max_response_bytes

    def __repr__(self) -> str:
        return f"GuardedTransport({self.inner!r})"

    async def post(
        self, url: str, *, params: Mapping[str, str], headers: Mapping[str, str], content: bytes
    ) -> TransportResponse:
        response = await _exchange_within(
            self.inner.post(url, params=params, headers=headers, content=content), self._deadlines
        )
        problem = getattr(response, "problem", None)
        body = response.body
        if len(body) > self.max_response_bytes:
            body, problem = b"", f"body larger than {self.max_response_bytes} bytes"
        if response.status >= 300:
            body = scrub_header_values(body, headers)
        return TransportResponse(response.status, response.headers, body, problem)

    async def aclose(self) -> None:
        await self.inner.aclose()
