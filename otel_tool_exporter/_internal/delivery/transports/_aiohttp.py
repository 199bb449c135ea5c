"""The default transport: an aiohttp client session, keep-alive pool sized to the concurrency.

aiohttp is already what the sidecar and the stub serve with, it costs about 0.1 ms of CPU per
request, and it does HTTP/1.1, TLS, proxies (CONNECT for https) and pooling the way the
ecosystem relies on. What delivery asks on top (README: HTTP) lives in :class:`RuleLayer`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from otel_tool_exporter._internal.delivery.transports._base import (
    ACCEPT_ENCODING,
    RuleLayer,
    TransportResponse,
    read_limited,
)

__all__ = ["AiohttpTransport"]


class AiohttpTransport(RuleLayer):
    """``AiohttpTransport(proxy=..., ca_file=..., ssl_context=..., timeout=...)``.

    Proxies come from ``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY``/``NO_PROXY`` unless ``proxy``
    is given or ``trust_env=False``; certificates are verified against ``ca_file`` or the
    system's store (which honours ``SSL_CERT_FILE``), or the ``ssl.SSLContext`` you pass.
    """

    _session: Any = None
    _urls: dict[str, Any]  # URL text → parsed URL, made with the session
    _headers: tuple[Mapping[str, str], Any] | None = None  # (headers given, their wire form)
    _payload: Any  # aiohttp.BytesPayload, imported with aiohttp

    def __repr__(self) -> str:
        return f"AiohttpTransport(timeout={self.timeout}, pool_size={self.pool_size})"

    def _ensure(self) -> Any:
        if self._session is None or self._session.closed:
            import aiohttp

            connector = aiohttp.TCPConnector(limit=self.pool_size, ssl=self._ssl_context())
            # The environment (proxies, ~/.netrc) is read by RuleLayer once per origin: aiohttp's own
            # trust_env reads ~/.netrc and the proxy variables on executor threads for *every*
            # request, which cost more CPU than the request itself (benchmarks/README.md).
            # Bodies are inflated by read_limited, under the cap, not by aiohttp.
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=self.connect_timeout),
                trust_env=False,
                auto_decompress=False,
            )
            self._urls = {}
            self._payload = aiohttp.BytesPayload
        return self._session

    async def _exchange(
        self,
        url: str,
        params: Mapping[str, str],
        headers: Mapping[str, str],
        content: bytes,
        proxy: str | None,
        method: str = "POST",
    ) -> TransportResponse:
        session = self._ensure()
        target = self._urls.get(url)
        if target is None:  # parsed once: delivery posts to one URL, over and over
            from yarl import URL

            target = URL(url)
            if len(self._urls) < 16:
                self._urls[url] = target
        async with session.request(
            method,
            target,
            params=params or None,
            headers=self._wire_headers(headers),
            data=self._payload(content),  # what aiohttp would pick for bytes, without looking it up
            proxy=proxy,
            allow_redirects=False,
        ) as resp:
            encoding = resp.headers.get("Content-Encoding", "")
            length = resp.content_length
            if not encoding and length is not None and length <= self.max_response_bytes:
                return TransportResponse(resp.status, resp.headers, await resp.read())  # the common case
            if not encoding:  # plain, length unknown (chunked): read up to the cap without a generator
                body = await resp.content.read(self.max_response_bytes + 1)
                while len(body) <= self.max_response_bytes and (more := await resp.content.readany()):
                    body += more
                if len(body) <= self.max_response_bytes:
                    return TransportResponse(resp.status, resp.headers, body)
                resp.close()
                too_large = f"body larger than {self.max_response_bytes} bytes (not read further)"
                return TransportResponse(resp.status, resp.headers, b"", too_large)
            body, problem = await read_limited(resp.content.iter_any(), encoding, self.max_response_bytes)
            if problem is not None:
                resp.close()  # stop here: the rest of the body is never read, the connection not reused
            return TransportResponse(resp.status, resp.headers, body, problem)

    def _wire_headers(self, headers: Mapping[str, str]) -> Any:
        """``headers`` plus Accept-Encoding, as the case-insensitive dict aiohttp works with: made
        once for the headers delivery sends with every request (aiohttp copies, never changes it)."""
        cached = self._headers
        if cached is not None and cached[0] is headers:
            return cached[1]
        from multidict import CIMultiDict

        wire = CIMultiDict(headers)
        wire["Accept-Encoding"] = ACCEPT_ENCODING
        self._headers = (headers, wire)
        return wire

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None
