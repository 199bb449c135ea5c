"""The HTTP transports delivery can use, all held to the same rules (``_base.RuleLayer``).

One module per library (``_aiohttp``: the default, ``_httpx``), one map from their errors onto
ours (``_exceptions``), one reading of the environment (``_env``: proxies, ``~/.netrc``, CA).
A transport you write yourself implements :class:`Transport` and is wrapped in
:class:`GuardedTransport` by :func:`transport_for`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from otel_tool_exporter._internal.delivery.transports._aiohttp import AiohttpTransport
from otel_tool_exporter._internal.delivery.transports._base import (
    DEFAULT_MAX_RESPONSE_BYTES,
    GuardedTransport,
    RuleLayer,
    Transport,
    TransportResponse,
    redirect_target,
)
from otel_tool_exporter._internal.delivery.transports._env import proxy_for
from otel_tool_exporter._internal.delivery.transports._exceptions import (
    ConnectError,
    RequestTimeoutError,
    TransportError,
)
from otel_tool_exporter._internal.delivery.transports._httpx import HttpxTransport

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "TRANSPORTS",
    "AiohttpTransport",
    "ConnectError",
    "GuardedTransport",
    "HttpxTransport",
    "RequestTimeoutError",
    "RuleLayer",
    "Transport",
    "TransportError",
    "TransportResponse",
    "make_transport",
    "proxy_for",
    "redirect_target",
    "transport_for",
]

TRANSPORTS: dict[str, type[RuleLayer]] = {"aiohttp": AiohttpTransport, "httpx": HttpxTransport}


def make_transport(
    kind: str,
    *,
    timeout: float,
    connect_timeout: float,
    pool_size: int,
    ca_file: str | None = None,
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
) -> Transport:
    """The shipped transport named ``kind`` (a value of the ``transport`` setting)."""
    try:
        cls = TRANSPORTS[kind]
    except KeyError:
        raise ValueError(f"unknown transport {kind!r}: use one of {', '.join(sorted(TRANSPORTS))}") from None
    return cls(
        timeout=timeout,
        connect_timeout=connect_timeout,
        pool_size=pool_size,
        ca_file=ca_file,
        max_response_bytes=max_response_bytes,
    )


def transport_for(settings: Any, factory: Callable[[], Transport] | None = None) -> Transport:
    """The transport delivery uses: ``factory()`` held to the rules, else the ``transport`` setting's."""
    if factory is None:
        return make_transport(
            settings.transport,
            timeout=settings.timeout,
            connect_timeout=settings.connect_timeout,
            pool_size=settings.max_concurrency,
            ca_file=settings.ca_file,
        )
    transport = factory()
    if isinstance(transport, RuleLayer):
        return transport
    return GuardedTransport(transport, timeout=settings.timeout)
