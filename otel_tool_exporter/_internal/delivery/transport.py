"""The one small HTTP interface delivery needs, with three implementations.

Delivery only ever POSTs bytes and reads a status, headers and bytes back. Keeping that behind
:class:`Transport` lets the HTTP stack be chosen by measurement (README: Performance): the
built-in HTTP/1.1 client (``http11.py``) is the default, ``aiohttp`` and ``httpx`` remain
available (``httpx`` accepts any ``httpx`` client options, such as proxies and TLS settings).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = [
    "AiohttpTransport",
    "ConnectError",
    "HttpxTransport",
    "RequestTimeoutError",
    "Transport",
    "TransportError",
    "TransportResponse",
    "make_transport",
]


@dataclass(slots=True, frozen=True)
class TransportResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes


class TransportError(Exception):
    """The exchange failed before a complete response arrived. Always retryable."""

    kind = "transport"


class ConnectError(TransportError):
    kind = "connect"


class RequestTimeoutError(TransportError):
    kind = "timeout"


class Transport(Protocol):
    async def post(
        self, url: str, *, params: Mapping[str, str], headers: Mapping[str, str], content: bytes
    ) -> TransportResponse: ...

    async def aclose(self) -> None: ...


class AiohttpTransport:
    """aiohttp client session with a keep-alive pool sized to the concurrency limit."""

    def __init__(
        self,
        *,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        pool_size: int = 64,
        ssl_context: ssl.SSLContext | None = None,
        proxy: str | None = None,
        trust_env: bool = True,
    ) -> None:
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._pool_size = pool_size
        self._ssl = ssl_context
        self._proxy = proxy
        self._trust_env = trust_env
        self._session: Any = None
        self._env_cache: dict[tuple[Any, Any, Any], tuple[Any, Any, Any]] = {}

    def _ensure(self) -> Any:
        if self._session is None or self._session.closed:
            import aiohttp

            connector = aiohttp.TCPConnector(limit=self._pool_size, ssl=self._ssl if self._ssl is not None else True)
            # trust_env is applied by us, once per host (_env_for): aiohttp's own trust_env reads
            # ~/.netrc and the proxy variables on two executor threads for *every* request, which
            # cost more CPU than the request itself (benchmarks/README.md).
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self._timeout, connect=self._connect_timeout),
                trust_env=False,
                auto_decompress=True,
            )
        return self._session

    def _env_for(self, url: str) -> tuple[Any, Any, Any]:
        """``(proxy, proxy_auth, auth)`` for ``url``'s origin: the explicit proxy, else (with
        ``trust_env``) ``HTTP(S)_PROXY``/``NO_PROXY`` and ``~/.netrc``, as aiohttp reads them —
        looked up once per origin, not per request."""
        from yarl import URL

        parsed = URL(url)
        origin = (parsed.scheme, parsed.host, parsed.port)
        cached = self._env_cache.get(origin)
        if cached is not None:
            return cached
        proxy: Any = self._proxy
        proxy_auth: Any = None
        auth: Any = None
        if self._trust_env:
            from aiohttp import helpers

            if proxy is None:
                try:
                    proxy, proxy_auth = helpers.get_env_proxy_for_url(parsed)
                except LookupError:
                    proxy = None
            if parsed.host is not None:
                try:
                    auth = helpers.basicauth_from_netrc(helpers.netrc_from_env(), parsed.host)
                except LookupError:
                    auth = None
        result = (proxy, proxy_auth, auth)
        if len(self._env_cache) < 64:
            self._env_cache[origin] = result
        return result

    async def post(
        self, url: str, *, params: Mapping[str, str], headers: Mapping[str, str], content: bytes
    ) -> TransportResponse:
        import aiohttp

        session = self._ensure()
        try:
            proxy, proxy_auth, auth = self._env_for(url)
            async with session.post(
                url, params=params or None, headers=headers, data=content, proxy=proxy, proxy_auth=proxy_auth, auth=auth
            ) as resp:
                body = await resp.read()
                return TransportResponse(resp.status, resp.headers, body)
        except asyncio.TimeoutError as exc:
            raise RequestTimeoutError("request timed out") from exc
        except aiohttp.ClientConnectorError as exc:
            raise ConnectError(f"cannot connect: {type(exc).__name__}") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from exc

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None


class HttpxTransport:
    """``httpx.AsyncClient``; pass ``client_options`` for proxies, TLS (``verify``), limits."""

    def __init__(
        self,
        *,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        pool_size: int = 64,
        client_options: Mapping[str, Any] | None = None,
        client: Any = None,
    ) -> None:
        import httpx

        self._client = client
        self._options = dict(client_options or {})
        self._options.setdefault("timeout", httpx.Timeout(timeout, connect=connect_timeout))
        self._options.setdefault("limits", httpx.Limits(max_connections=pool_size, max_keepalive_connections=pool_size))

    def _ensure(self) -> Any:
        if self._client is None or self._client.is_closed:
            import httpx

            self._client = httpx.AsyncClient(**self._options)
        return self._client

    async def post(
        self, url: str, *, params: Mapping[str, str], headers: Mapping[str, str], content: bytes
    ) -> TransportResponse:
        import httpx

        client = self._ensure()
        try:
            resp = await client.post(url, params=params or None, headers=headers, content=content)
        except httpx.TimeoutException as exc:
            raise RequestTimeoutError("request timed out") from exc
        except httpx.ConnectError as exc:
            raise ConnectError(f"cannot connect: {type(exc).__name__}") from exc
        except httpx.HTTPError as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from exc
        return TransportResponse(resp.status_code, resp.headers, resp.content)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
        self._client = None


def make_transport(kind: str, *, timeout: float, connect_timeout: float, pool_size: int) -> Transport:
    if kind == "httpx":
        return HttpxTransport(timeout=timeout, connect_timeout=connect_timeout, pool_size=pool_size)
    if kind == "aiohttp":
        return AiohttpTransport(timeout=timeout, connect_timeout=connect_timeout, pool_size=pool_size)
    from otel_tool_exporter._internal.delivery.http11 import Http11Transport

    return Http11Transport(timeout=timeout, connect_timeout=connect_timeout, pool_size=pool_size)
