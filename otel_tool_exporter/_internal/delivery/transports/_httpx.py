"""The alternative transport: ``httpx.AsyncClient`` (``transport="httpx"``).

Slower than aiohttp once many requests are in flight (README: HTTP), kept for users who
standardise on httpx or need one of its client options. The rules of :class:`RuleLayer` apply
as to the default: httpx's own timeout is per read, so the overall deadline comes from the layer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from otel_tool_exporter._internal.delivery.transports._base import (
    ACCEPT_ENCODING,
    RuleLayer,
    TransportResponse,
    read_limited,
)

__all__ = ["HttpxTransport"]

_ROUTING_OPTIONS = ("proxy", "mounts", "transport")  # options that decide the route themselves


async def _one(content: bytes) -> AsyncIterator[bytes]:
    yield content


class HttpxTransport(RuleLayer):
    """``HttpxTransport(proxy=..., ca_file=..., client_options={...})``.

    ``client_options`` go to ``httpx.AsyncClient`` (``cert``, ``limits``, ``http2``, ...); one that
    routes by itself (``proxy``, ``mounts``, ``transport``) or an own ``client`` takes over
    routing from the environment. Redirects are never followed, whatever the options say.
    """

    def __init__(self, *, client_options: Mapping[str, Any] | None = None, client: Any = None, **rules: Any) -> None:
        super().__init__(**rules)
        self._options = dict(client_options or {})
        self._own_routing = client is not None or any(k in self._options for k in _ROUTING_OPTIONS)
        self._given = client
        self._clients: dict[str | None, Any] = {}  # one client per proxy (None: direct)

    def __repr__(self) -> str:
        return f"HttpxTransport(timeout={self.timeout}, pool_size={self.pool_size})"

    def _client(self, proxy: str | None) -> Any:
        if self._given is not None:
            return self._given
        key = None if self._own_routing else proxy
        client = self._clients.get(key)
        if client is None or client.is_closed:
            import httpx

            options: dict[str, Any] = {
                "timeout": httpx.Timeout(self.timeout, connect=self.connect_timeout),
                "limits": httpx.Limits(max_connections=self.pool_size, max_keepalive_connections=self.pool_size),
                "verify": self._ssl_context(),
                "trust_env": False,  # the environment is read by RuleLayer, the same for every transport
                **self._options,
                "follow_redirects": False,
            }
            if key is not None:
                options["proxy"] = key
            client = self._clients[key] = httpx.AsyncClient(**options)
        return client

    async def _exchange(
        self, url: str, params: Mapping[str, str], headers: Mapping[str, str], content: bytes, proxy: str | None
    ) -> TransportResponse:
        client = self._client(proxy)
        headers = {**headers, "Accept-Encoding": ACCEPT_ENCODING}
        request = client.build_request("POST", url, params=params or None, headers=headers, content=content)
        resp = await client.send(request, stream=True, follow_redirects=False)
        try:
            if resp.is_stream_consumed:  # an httpx transport that answered from memory (MockTransport)
                body, problem = await read_limited(_one(resp.content), "", self.max_response_bytes)
            else:
                body, problem = await read_limited(
                    resp.aiter_raw(), resp.headers.get("Content-Encoding", ""), self.max_response_bytes
                )
        finally:
            await resp.aclose()  # a body left unread closes the connection instead of draining it
        return TransportResponse(resp.status_code, resp.headers, body, problem)

    async def aclose(self) -> None:
        clients = [*self._clients.values(), *([self._given] if self._given is not None else [])]
        self._clients.clear()
        for client in clients:
            await client.aclose()
        self._given = None
