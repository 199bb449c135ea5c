"""A transport you pass yourself is held to the same rules as the shipped ones, where they can
apply after the fact: the whole-exchange deadline, the answer cap, scrubbed error answers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

import pytest

from otel_tool_exporter import Settings
from otel_tool_exporter._internal.delivery.transports import proxy_for, transport_for
from otel_tool_exporter.extend import RequestTimeoutError, TransportResponse

KEY = "sk-guard-SECRET-987654"


class Scripted:
    """A user transport: sleeps ``delay`` seconds, then answers ``status`` with ``body``."""

    def __init__(self, status: int = 200, body: bytes = b"{}", delay: float = 0.0) -> None:
        self.status, self.body, self.delay = status, body, delay

    async def post(
        self, url: str, *, params: Mapping[str, str], headers: Mapping[str, str], content: bytes
    ) -> TransportResponse:
        await asyncio.sleep(self.delay)
        return TransportResponse(self.status, {}, self.body.replace(b"$KEY", headers["X-API-KEY"].encode()))

    async def aclose(self) -> None:
        return None


def _post(inner: Scripted, timeout: float = 5.0) -> TransportResponse:
    settings = Settings.resolve({}, api_key=KEY, timeout=timeout)
    guarded = transport_for(settings, lambda: inner)

    async def go() -> TransportResponse:
        return await guarded.post(
            "https://api.example.test/v5/tools/log", params={}, headers={"X-API-KEY": KEY}, content=b"{}"
        )

    return asyncio.run(go())


def test_your_transport_gets_the_whole_exchange_deadline() -> None:
    started = time.monotonic()
    with pytest.raises(RequestTimeoutError):
        _post(Scripted(delay=30.0), timeout=0.3)
    assert time.monotonic() - started < 2.0


def test_your_transports_oversized_answer_is_marked_not_passed_on() -> None:
    response = _post(Scripted(body=b"x" * (2 * 1024 * 1024)))
    assert response.status == 200 and response.body == b""
    assert response.problem is not None and "larger than" in response.problem


def test_your_transports_error_answer_loses_our_header_values() -> None:
    response = _post(Scripted(status=400, body=b'{"detail": "bad header X-API-KEY: $KEY"}'))
    assert KEY.encode() not in response.body and b"***" in response.body


@pytest.mark.parametrize(
    ("url", "environ", "expected"),
    [
        ("https://api.example/v5", {"HTTPS_PROXY": "http://p:1", "ALL_PROXY": "http://a:9"}, "http://p:1"),
        ("https://api.example/v5", {"HTTP_PROXY": "http://h:1", "ALL_PROXY": "http://a:9"}, "http://a:9"),
        ("http://api.example/v5", {"HTTP_PROXY": "http://P:1", "http_proxy": "http://p:2"}, "http://p:2"),
        ("http://api.example/v5", {"HTTP_PROXY": "http://p:1", "REQUEST_METHOD": "GET"}, None),  # httpoxy
        ("https://api.example/v5", {"ALL_PROXY": "proxy:3128"}, "http://proxy:3128"),
        ("https://api.example/v5", {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "other,.example"}, None),
        ("https://api.example/v5", {"HTTPS_PROXY": "http://p:1", "no_proxy": "*"}, None),
    ],
)
def test_which_proxy_the_environment_names(url: str, environ: dict[str, str], expected: str | None) -> None:
    assert proxy_for(url, environ)[0] == expected
