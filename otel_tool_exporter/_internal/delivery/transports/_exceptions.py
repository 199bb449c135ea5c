"""The transport errors delivery knows, and the one map from each HTTP library's errors onto them.

Delivery retries every :class:`TransportError` (nothing usable came back), so the map decides
which failures say "could not connect" (reported early, by host) and which say "took too long"
(a sign of pressure that lowers the concurrency). Only these three types leave a transport.
"""

from __future__ import annotations

import asyncio
import ssl
import sys

__all__ = ["ConnectError", "RequestTimeoutError", "TransportError", "map_exception"]


class TransportError(Exception):
    """The exchange failed before a complete response arrived. Always retryable."""

    kind = "transport"


class ConnectError(TransportError):
    kind = "connect"


class RequestTimeoutError(TransportError):
    kind = "timeout"


def map_exception(exc: BaseException) -> TransportError:
    """``exc`` (raised by aiohttp, httpx or the socket layer) as one of our three errors.

    The message names the library's error type and its text, which carries the URL at most: the
    request's headers never reach a library error (values with control characters are refused when
    the settings are made, before any request).
    """
    if isinstance(exc, TransportError):
        return exc
    described = f"{type(exc).__name__}: {exc}".rstrip(": ")
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return RequestTimeoutError(described)
    aiohttp = sys.modules.get("aiohttp")
    if aiohttp is not None:
        if isinstance(exc, aiohttp.ClientConnectorError):  # includes proxy and certificate failures
            return ConnectError(f"cannot connect: {described}")
        if isinstance(exc, aiohttp.ServerTimeoutError):
            return RequestTimeoutError(described)
    httpx = sys.modules.get("httpx")
    if httpx is not None:
        if isinstance(exc, httpx.TimeoutException):
            return RequestTimeoutError(described)
        if isinstance(exc, (httpx.ConnectError, httpx.ProxyError)):
            return ConnectError(f"cannot connect: {described}")
    if isinstance(exc, (ConnectionRefusedError, ssl.SSLCertVerificationError)):
        return ConnectError(f"cannot connect: {described}")
    return TransportError(described)
