"""Every shipped transport obeys the same HTTP rules, checked against real servers over loopback.

Each case runs once per transport in ``TRANSPORTS`` (aiohttp, the default, and httpx): the
servers are aiohttp web servers or raw asyncio servers started by the test (raw ones where a
server must misbehave in ways a framework will not: trickling, dropping a kept-alive connection),
and a small CONNECT/forward proxy for the proxy cases.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import logging
import re
import ssl
import time
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal, cast
from urllib.parse import urlsplit

import pytest
from aiohttp import web
from opentelemetry.sdk.trace import TracerProvider

from otel_tool_exporter import ConfigurationError, Settings, ToolLogExporter, ToolSpanProcessor
from otel_tool_exporter._internal.delivery.outcomes import Failed, Logged, Outcome, Outgoing
from otel_tool_exporter._internal.delivery.push import HttpPush
from otel_tool_exporter._internal.delivery.retry import RetryLayer, RetryPolicy
from otel_tool_exporter._internal.delivery.transports import TRANSPORTS
from otel_tool_exporter.extend import ConnectError, RequestTimeoutError, Transport, TransportResponse
from tests.echo_server import HeaderEchoServer
from tests.spans_util import tool

KEY = "sk-conformance-SECRET-0123456789"
HEADER_SECRET = "Bearer hdr-SECRET-abcdef"
OK = {"id": "log_1", "tool_id": "tl_1", "version_id": "tv_1"}
BODY = json.dumps({"path": "t", "tool": {"function": {"name": "t"}}}).encode()

pytestmark = pytest.mark.parametrize("kind", sorted(TRANSPORTS))

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy")


@pytest.fixture(autouse=True)
def _no_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each case sets exactly the proxy variables it is about."""
    for name in (*PROXY_VARIABLES, "all_proxy", "no_proxy", "SSL_CERT_FILE", "SSL_CERT_DIR"):
        monkeypatch.delenv(name, raising=False)


# ---------------------------------------------------------------------------------- servers
class Hits:
    """What a test server received: one entry per request (method, target, headers)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str]]] = []

    def __len__(self) -> int:
        return len(self.requests)


@asynccontextmanager
async def web_server(
    respond: Callable[[web.Request], Awaitable[web.StreamResponse]], ssl_context: ssl.SSLContext | None = None
) -> AsyncIterator[tuple[str, Hits]]:
    """An aiohttp server answering every POST with ``respond``; yields (base URL, hits)."""
    hits = Hits()

    async def handler(request: web.Request) -> web.StreamResponse:
        await request.read()
        hits.requests.append((request.method, request.path_qs, dict(request.headers)))
        return await respond(request)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    scheme = "https" if ssl_context else "http"
    try:
        yield f"{scheme}://127.0.0.1:{port}/v5", hits
    finally:
        await runner.cleanup()


@asynccontextmanager
async def raw_server(
    handle: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> AsyncIterator[str]:
    """A bare asyncio server: ``handle`` speaks (or fails to speak) HTTP itself."""

    async def guarded(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await handle(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(guarded, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/v5"
    finally:
        server.close()


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """One request's head and body (Content-Length) off ``reader``; returns the head."""
    head = await reader.readuntil(b"\r\n\r\n")
    match = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
    await reader.readexactly(int(match.group(1)) if match else 0)
    return head


def ok_response(body: bytes = json.dumps(OK).encode(), extra: bytes = b"") -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n"
        + extra
        + b"\r\n"
        + body
    )


class Proxy:
    """A forward proxy: ``CONNECT host:port`` tunnels (https), an absolute-form request is passed
    on to its origin. ``seen`` lists the first request line of each connection."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.heads: list[bytes] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        line = head.split(b"\r\n", 1)[0].decode()
        self.seen.append(line)
        self.heads.append(head)
        method, target, _ = line.split(" ")
        if method == "CONNECT":
            host, port = target.rsplit(":", 1)
            up_reader, up_writer = await asyncio.open_connection(host, int(port))
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        else:
            parts = urlsplit(target)
            up_reader, up_writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
            up_writer.write(head)
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    @asynccontextmanager
    async def named_by(
        self, monkeypatch: pytest.MonkeyPatch, variable: str, *, credentials: str = ""
    ) -> AsyncIterator[None]:
        """This proxy listening on loopback, and named by the environment ``variable``."""
        server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        monkeypatch.setenv(variable, f"http://{credentials}127.0.0.1:{server.sockets[0].getsockname()[1]}")
        try:
            yield
        finally:
            server.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


def named_transport(kind: str) -> Literal["aiohttp", "httpx"]:
    assert kind in ("aiohttp", "httpx")
    return cast(Literal["aiohttp", "httpx"], kind)


def throwaway_ca() -> Any:
    """A fresh CA from trustme (the dev extra; the light test extra leaves it out)."""
    trustme = pytest.importorskip("trustme", reason="TLS cases need trustme's throwaway CA (pip install -e '.[dev]')")
    return trustme.CA()


def tls_server_context(tmp_path: Path) -> tuple[ssl.SSLContext, Path]:
    """A server TLS context for 127.0.0.1, and the file of the throwaway CA that signed it."""
    ca = throwaway_ca()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return server_ctx, ca_file


async def _no_sleep(_: float) -> None:
    return None


class Client:
    """Delivery's own innermost layers over ``transport``: one POST, retried as delivery retries."""

    def __init__(self, transport: Transport, base_url: str) -> None:
        self.sender = RetryLayer(HttpPush(transport, base_url=base_url, api_key=KEY), RetryPolicy(), sleep=_no_sleep)

    async def log_tool(self, body: bytes) -> Outcome:
        return await self.sender.send(Outgoing(1, 2, body, "t"))

    async def logged(self, body: bytes) -> Logged:
        outcome = await self.log_tool(body)
        assert isinstance(outcome, Logged), outcome
        return outcome


def client_for(transport: Transport, base_url: str) -> Client:
    return Client(transport, base_url)


async def post_once(kind: str, url: str, **options: Any) -> Outcome:
    """One Log through a fresh transport of ``kind`` (closed afterwards), as delivery sends it."""
    t = transport(kind, **options)
    try:
        return await client_for(t, url).log_tool(BODY)
    finally:
        await t.aclose()


async def logged_through(kind: str, url: str, **options: Any) -> Logged:
    outcome = await post_once(kind, url, **options)
    assert isinstance(outcome, Logged), outcome
    return outcome


def transport(kind: str, **options: Any) -> Any:
    options.setdefault("timeout", 5.0)
    return TRANSPORTS[kind](**options)


def run(coro: Awaitable[Any]) -> Any:
    async def main() -> Any:
        return await coro

    return asyncio.run(main())


# ------------------------------------------------------------------------------- redirects
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_a_final_failure_naming_the_target_origin(kind: str, status: int) -> None:
    async def go() -> tuple[Outcome, Hits, Hits, str]:
        async with web_server(lambda r: _ok()) as (target_url, target_hits):
            target = urlsplit(target_url)

            async def redirect(request: web.Request) -> web.StreamResponse:
                location = f"http://127.0.0.1:{target.port}/v5/tools/log?token=LEAK-ME"
                return web.Response(status=status, headers={"Location": location})

            async with web_server(redirect) as (url, hits):
                outcome = await post_once(kind, url)
                return outcome, hits, target_hits, f"http://127.0.0.1:{target.port}"

    error, hits, target_hits, origin = run(go())
    assert isinstance(error, Failed) and error.status == status and error.reason == f"http_{status}"
    assert origin in error.message and "not followed" in error.message
    assert "LEAK-ME" not in error.message and KEY not in error.message
    assert len(hits) == 1, "a redirect is final: never retried"
    assert len(target_hits) == 0, "nothing may reach the redirect's target"


def test_a_redirect_behind_a_proxy_is_not_followed_either(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = Proxy()

    async def go() -> tuple[Outcome, Hits, Hits, str]:
        async with proxy.named_by(monkeypatch, "HTTP_PROXY"), web_server(lambda r: _ok()) as (target_url, target_hits):
            target_origin = f"http://127.0.0.1:{urlsplit(target_url).port}"

            async def redirect(request: web.Request) -> web.StreamResponse:
                return web.Response(status=307, headers={"Location": f"{target_origin}/v5/tools/log"})

            async with web_server(redirect) as (url, hits):
                outcome = await post_once(kind, url)
                return outcome, hits, target_hits, target_origin

    error, hits, target_hits, origin = run(go())
    assert isinstance(error, Failed) and error.status == 307 and origin in error.message
    assert len(hits) == 1 and len(target_hits) == 0
    assert len(proxy.seen) == 1 and proxy.seen[0].startswith("POST http://127.0.0.1:"), proxy.seen
    assert f":{urlsplit(origin).port}/" not in proxy.seen[0], "the proxy was asked for the redirect's target"


async def _ok() -> web.Response:
    return web.json_response(OK)


# ----------------------------------------------------------------------- header injection
@pytest.mark.parametrize(
    ("given", "named"),
    [
        ({"api_key": "k\r\nX-Injected: evil"}, "api_key"),
        ({"api_key": "k\nX-Injected: evil"}, "api_key"),
        ({"headers": {"X-Team": "a\r\nX-Injected: evil"}}, "headers"),
        ({"headers": {"X-Team": "a\x00b"}}, "headers"),
        ({"headers": {"X-Bad Name": "a"}}, "headers"),
    ],
)
def test_control_characters_in_header_values_are_refused_at_construction(
    kind: str, given: dict[str, Any], named: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        ToolLogExporter(
            base_url="https://api.example.test/v5", transport=named_transport(kind), **{"api_key": "k", **given}
        )
    assert named in str(caught.value)
    assert "evil" not in str(caught.value) or named == "headers"  # the key's value is never shown


def test_control_characters_from_the_environment_name_the_variable(kind: str) -> None:
    environ = {"HUMANLOOP_API_KEY": "k", "OTEL_TOOL_EXPORTER_TRANSPORT": kind}
    with pytest.raises(ConfigurationError, match="OTEL_TOOL_EXPORTER_HEADERS"):
        Settings.resolve({**environ, "OTEL_TOOL_EXPORTER_HEADERS": "x-a=1\r\nX-Injected: evil"})
    with pytest.raises(ConfigurationError, match="HUMANLOOP_API_KEY") as caught:
        Settings.resolve({**environ, "HUMANLOOP_API_KEY": "sk-\r\nX-Injected: evil"})
    assert "Injected" not in str(caught.value)


# --------------------------------------------------------------------------- overall deadline
def test_timeout_is_the_whole_exchange_not_one_read(kind: str) -> None:
    """A server that trickles its answer one byte at a time (each read well inside the timeout)
    is cut at ``timeout``."""

    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
        for _ in range(1000):
            writer.write(b" ")
            await writer.drain()
            await asyncio.sleep(0.1)

    async def go() -> tuple[BaseException, float]:
        async with raw_server(trickle) as url:
            t = transport(kind, timeout=1.0)
            started = time.monotonic()
            try:
                await t.post(url + "/tools/log", params={}, headers={}, content=BODY)
            except Exception as exc:
                return exc, time.monotonic() - started
            finally:
                await t.aclose()
        raise AssertionError("the trickled answer was read to its end")

    error, took = run(go())
    assert isinstance(error, RequestTimeoutError), error
    assert 0.9 <= took < 3.0, took  # 1 s, with room for a busy machine; a per-read timeout would take 100 s


# ------------------------------------------------------------------------------ body caps
def test_a_2xx_with_a_body_over_the_cap_is_a_created_log_and_never_sent_again(kind: str) -> None:
    async def huge(request: web.Request) -> web.StreamResponse:
        return web.Response(body=b"{" + b" " * (2 * 1024 * 1024) + b"}", content_type="application/json")

    async def go() -> tuple[Outcome, Hits]:
        async with web_server(huge) as (url, hits):
            outcome = await post_once(kind, url)
            return outcome, hits

    error, hits = run(go())
    assert len(hits) == 1, "a 2xx is never retried"
    assert isinstance(error, Failed) and error.reason == "invalid_response"
    assert "created" in error.message and "larger than" in error.message


def test_a_chunked_answer_over_the_cap_stops_at_the_cap(kind: str) -> None:
    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            for _ in range(64):  # 64 MiB if read to the end
                await response.write(b" " * (1024 * 1024))
        except (ConnectionError, RuntimeError):
            pass  # the client stopped reading and closed
        return response

    async def go() -> TransportResponse:
        async with web_server(endless) as (url, _):
            t = transport(kind)
            try:
                return await t.post(url + "/tools/log", params={}, headers={}, content=BODY)
            finally:
                await t.aclose()

    response = run(go())
    assert response.status == 200 and response.body == b""
    assert response.problem is not None and "larger than" in response.problem


_BOMB: list[bytes] = []


def gzip_bomb(size: int = 64 * 1024 * 1024) -> bytes:
    """``size`` zero bytes, gzip-compressed (~64 KiB)."""
    if not _BOMB:
        packer = zlib.compressobj(9, zlib.DEFLATED, 31)
        block = bytes(1024 * 1024)
        _BOMB.append(b"".join(packer.compress(block) for _ in range(size // len(block))) + packer.flush())
    return _BOMB[0]


def test_a_gzip_bomb_stops_at_the_cap(kind: str) -> None:
    bomb = gzip_bomb()

    async def inflating(request: web.Request) -> web.StreamResponse:
        return web.Response(body=bomb, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})

    async def go() -> tuple[TransportResponse, int]:
        async with web_server(inflating) as (url, _):
            t = transport(kind)
            try:
                tracemalloc.start()
                tracemalloc.reset_peak()
                response = await t.post(url + "/tools/log", params={}, headers={}, content=BODY)
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
                await t.aclose()
            return response, peak

    response, peak = run(go())
    assert response.status == 200 and response.body == b""
    assert response.problem is not None and "more than" in response.problem
    assert peak < 16 * 1024 * 1024, f"inflated far past the cap: peak {peak / 2**20:.0f} MiB"


def test_a_small_gzip_answer_is_read(kind: str) -> None:
    async def gzipped(request: web.Request) -> web.StreamResponse:
        return web.Response(
            body=gzip.compress(json.dumps(OK).encode()),
            headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
        )

    async def go() -> Any:
        async with web_server(gzipped) as (url, _):
            return await logged_through(kind, url)

    assert run(go()).log_id == "log_1"


# -------------------------------------------------------------------------------- proxies
@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY"])
def test_the_proxy_from_the_environment_is_used(kind: str, variable: str, monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = Proxy()

    async def go() -> tuple[Any, Hits]:
        async with proxy.named_by(monkeypatch, variable), web_server(lambda r: _ok()) as (url, hits):
            return await logged_through(kind, url), hits

    response, hits = run(go())
    assert response.log_id == "log_1" and len(hits) == 1
    assert len(proxy.seen) == 1 and " http://127.0.0.1:" in proxy.seen[0]


def test_no_proxy_exempts_the_host(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = Proxy()

    async def go() -> Hits:
        monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
        async with proxy.named_by(monkeypatch, "HTTP_PROXY"), web_server(lambda r: _ok()) as (url, hits):
            await logged_through(kind, url)
            return hits

    assert len(run(go())) == 1
    assert proxy.seen == []


def test_https_goes_through_the_proxy_with_connect_and_verified_tls(
    kind: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    server_ctx, ca_file = tls_server_context(tmp_path)
    proxy = Proxy()

    async def go() -> tuple[Any, Hits]:
        async with (
            proxy.named_by(monkeypatch, "HTTPS_PROXY"),
            web_server(lambda r: _ok(), ssl_context=server_ctx) as (url, hits),
        ):
            return await logged_through(kind, url, ca_file=str(ca_file)), hits

    response, hits = run(go())
    assert response.log_id == "log_1" and len(hits) == 1
    assert len(proxy.seen) == 1 and proxy.seen[0].startswith("CONNECT 127.0.0.1:")


def test_proxy_credentials_in_the_variable_are_sent_to_the_proxy(
    kind: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    server_ctx, ca_file = tls_server_context(tmp_path)
    proxy = Proxy()

    async def go() -> Any:
        async with (
            proxy.named_by(monkeypatch, "HTTPS_PROXY", credentials="user:p%40ss@"),
            web_server(lambda r: _ok(), ssl_context=server_ctx) as (url, _),
        ):
            return await logged_through(kind, url, ca_file=str(ca_file))

    assert run(go()).log_id == "log_1"
    expected = b"Proxy-Authorization: Basic " + base64.b64encode(b"user:p@ss")
    assert expected.lower() in proxy.heads[0].lower(), proxy.heads[0]


@pytest.mark.parametrize("variable", ["ALL_PROXY", "HTTPS_PROXY"])
def test_a_proxy_no_library_can_use_is_refused_not_ignored(kind: str, variable: str) -> None:
    environ = {"HUMANLOOP_API_KEY": "k", "OTEL_TOOL_EXPORTER_TRANSPORT": kind, variable: "socks5://user:pw@proxy:1080"}
    with pytest.raises(ConfigurationError, match=variable) as caught:
        Settings.resolve(environ)
    assert "pw" not in str(caught.value)
    assert Settings.resolve({**environ, "NO_PROXY": ".humanloop.com"}).transport == kind  # exempt: fine


# ------------------------------------------------------------------------------------ TLS
def test_tls_is_verified_against_the_system_store_ca_file_or_ssl_cert_file(
    kind: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    server_ctx, ca_file = tls_server_context(tmp_path)

    async def go() -> tuple[BaseException | None, int, int]:
        async with web_server(lambda r: _ok(), ssl_context=server_ctx) as (url, _):
            untrusted = transport(kind)
            refused: BaseException | None = None
            try:
                await untrusted.post(url + "/tools/log", params={}, headers={}, content=BODY)
            except Exception as exc:
                refused = exc
            finally:
                await untrusted.aclose()
            by_setting = transport(kind, ca_file=str(ca_file))
            try:
                status = (await by_setting.post(url + "/tools/log", params={}, headers={}, content=BODY)).status
            finally:
                await by_setting.aclose()
            monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
            by_env = transport(kind)
            try:
                env_status = (await by_env.post(url + "/tools/log", params={}, headers={}, content=BODY)).status
            finally:
                await by_env.aclose()
            return refused, status, env_status

    refused, status, env_status = run(go())
    assert isinstance(refused, ConnectError), refused
    assert (status, env_status) == (200, 200)


def test_the_ca_file_setting_reaches_the_shipped_transport(kind: str, tmp_path: Path) -> None:
    ca = throwaway_ca()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    settings = Settings.resolve({}, api_key="k", transport=kind, ca_file=str(ca_file))
    assert settings.ca_file == str(ca_file)
    with pytest.raises(ConfigurationError, match="ca_file"):
        Settings.resolve({}, api_key="k", ca_file=str(tmp_path / "missing.pem"))
    made = TRANSPORTS[kind](ca_file=str(ca_file))
    assert len(made._ssl_context().get_ca_certs()) == 1  # that CA alone, instead of the system's


# ------------------------------------------------------------------------ stale keep-alive
def test_a_dropped_kept_alive_connection_is_retried_without_a_duplicate(kind: str) -> None:
    """The server drops a kept-alive connection just as the next request arrives on it (the
    close raced the request): that request created nothing, so sending it again is safe."""
    created: list[int] = []
    dropped: list[int] = []

    async def flaky(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        served = 0
        while True:
            await read_request(reader)
            served += 1
            if served == 2:
                dropped.append(1)
                return  # closed without an answer: nothing was created
            created.append(len(created) + 1)
            answer = dict(OK, id=f"log_{len(created)}")
            writer.write(ok_response(json.dumps(answer).encode()))
            await writer.drain()

    async def go() -> list[str]:
        async with raw_server(flaky) as url:
            t = transport(kind)
            client = client_for(t, url)
            try:
                ids = [(await client.logged(BODY)).log_id for _ in range(3)]
            finally:
                await t.aclose()
            return ids

    ids = run(go())
    assert ids == ["log_1", "log_2", "log_3"]
    assert created == [1, 2, 3], "every Log created exactly once"
    assert dropped, "the kept-alive connection was reused (and dropped) at least once"


# ---------------------------------------------------------------------------- no key in logs
def test_no_key_or_header_value_in_any_log_line(kind: str, caplog: pytest.LogCaptureFixture) -> None:
    with HeaderEchoServer(400, separator="\r\n") as server:
        exporter = ToolLogExporter(
            base_url=f"http://127.0.0.1:{server.port}/v5",
            api_key=KEY,
            headers={"Authorization": HEADER_SECRET},
            transport=named_transport(kind),
        )
        provider = TracerProvider()
        provider.add_span_processor(ToolSpanProcessor(exporter))
        with caplog.at_level(logging.DEBUG):
            with tool(provider.get_tracer("t"), "lookup", {"q": 1}, result={"ok": True}):
                pass
            assert provider.force_flush(10_000)
            provider.shutdown()
    assert "HTTP 400" in caplog.text, caplog.text
    assert "***" in caplog.text
    for secret in (KEY, HEADER_SECRET, "hdr-SECRET"):
        assert secret not in caplog.text
    assert KEY not in repr(exporter) and "hdr-SECRET" not in repr(exporter.settings)
    assert "hdr-SECRET" not in str(exporter.settings) and "hdr-SECRET" not in exporter.settings.model_dump_json()
