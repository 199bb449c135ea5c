"""The built-in HTTP/1.1 transport against real servers over loopback: scripted raw servers for
the wire details (chunked, interim 1xx, close-delimited, gzip, stale keep-alive, broken
answers), a TLS server with its own CA, and an HTTP proxy named by the environment."""

from __future__ import annotations

import asyncio
import gzip
import ssl
from collections.abc import Callable
from typing import Any

import pytest

from otel_tool_exporter._internal.delivery.http11 import Http11Transport
from otel_tool_exporter._internal.delivery.transport import ConnectError, RequestTimeoutError, TransportError

HEADERS = {"X-API-KEY": "k", "Content-Type": "application/json"}


class ScriptedServer:
    """A raw TCP server: ``respond(request_bytes) -> list of byte chunks`` (``None`` = close)."""

    def __init__(self, respond: Callable[[bytes, int], list[bytes | None]]) -> None:
        self.respond = respond
        self.requests: list[bytes] = []
        self.connections = 0
        self.server: asyncio.base_events.Server | None = None

    async def __aenter__(self) -> ScriptedServer:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    @property
    def url(self) -> str:
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/v5/tools/log"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                body = await reader.readexactly(length)
                self.requests.append(head + body)
                for chunk in self.respond(head + body, len(self.requests)):
                    if chunk is None:
                        writer.close()
                        return
                    writer.write(chunk)
                    await writer.drain()
                    await asyncio.sleep(0.01)  # separate packets: the parser must reassemble
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def _ok(body: bytes = b'{"id":"log_1","tool_id":"t","version_id":"v"}', extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n%s" % (
        len(body),
        extra,
        body,
    )


async def _post(transport: Http11Transport, url: str, content: bytes = b'{"path":"x"}', **params: str) -> Any:
    return await transport.post(url, params=params, headers=HEADERS, content=content)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_request_on_the_wire_and_keep_alive_reuse() -> None:
    async def main() -> None:
        async with ScriptedServer(lambda req, n: [_ok()]) as server:
            transport = Http11Transport()
            for _ in range(3):
                response = await _post(transport, server.url, version_id="v 1", environment="prod")
                assert response.status == 200 and response.body.startswith(b'{"id"')
            await transport.aclose()
            first = server.requests[0]
            assert first.startswith(b"POST /v5/tools/log?version_id=v+1&environment=prod HTTP/1.1\r\n")
            assert b"\r\nX-API-KEY: k\r\n" in first and b"\r\nContent-Length: 12\r\n" in first
            assert first.endswith(b'\r\n\r\n{"path":"x"}')
            assert server.connections == 1  # one keep-alive connection for all three

    run(main())


def test_chunked_split_across_packets_with_extensions_and_trailers() -> None:
    body = b'{"id":"log_c","tool_id":"t","version_id":"v"}'
    chunks = [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"%x;ext=1\r\n%s\r\n" % (10, body[:10]),
        b"%x\r\n%s\r\n" % (len(body) - 10, body[10:]),
        b"0\r\nX-Trailer: yes\r\n\r\n",
    ]

    async def main() -> None:
        async with ScriptedServer(lambda req, n: list(chunks)) as server:
            transport = Http11Transport()
            first = await _post(transport, server.url)
            second = await _post(transport, server.url)
            await transport.aclose()
            assert first.body == body and second.body == body
            assert server.connections == 1

    run(main())


def test_interim_1xx_then_the_answer() -> None:
    async def main() -> None:
        async with ScriptedServer(lambda req, n: [b"HTTP/1.1 100 Continue\r\n\r\n", _ok()]) as server:
            transport = Http11Transport()
            response = await _post(transport, server.url)
            await transport.aclose()
            assert response.status == 200 and b"log_1" in response.body

    run(main())


def test_connection_close_and_close_delimited_bodies() -> None:
    def respond(req: bytes, n: int) -> list[bytes | None]:
        if n == 1:
            return [_ok(extra=b"Connection: close\r\n"), None]
        return [b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n", b'{"id":"log_2",', b'"x":1}', None]

    async def main() -> None:
        async with ScriptedServer(respond) as server:
            transport = Http11Transport()
            first = await _post(transport, server.url)
            second = await _post(transport, server.url)
            await transport.aclose()
            assert first.status == 200 and second.body == b'{"id":"log_2","x":1}'
            assert server.connections == 2  # the closed connection was not reused

    run(main())


def test_gzip_body_and_error_statuses_come_back_as_responses() -> None:
    detail = gzip.compress(b'{"detail":[{"loc":["body","x"],"msg":"bad","type":"t"}]}')

    async def main() -> None:
        async with ScriptedServer(
            lambda req, n: [
                b"HTTP/1.1 422 Unprocessable Entity\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n"
                b"Retry-After: 3\r\n\r\n%s" % (len(detail), detail)
            ]
        ) as server:
            transport = Http11Transport()
            response = await _post(transport, server.url)
            await transport.aclose()
            assert response.status == 422 and response.body.startswith(b'{"detail"')
            assert response.headers["retry-after"] == "3"

    run(main())


def test_a_kept_alive_connection_the_server_dropped_is_replaced_once() -> None:
    def respond(req: bytes, n: int) -> list[bytes | None]:
        return [_ok(), None] if n == 1 else [_ok()]  # answers, then closes the idle connection

    async def main() -> None:
        async with ScriptedServer(respond) as server:
            transport = Http11Transport()
            await _post(transport, server.url)
            await asyncio.sleep(0.1)
            response = await _post(transport, server.url)  # goes out on a fresh connection
            await transport.aclose()
            assert response.status == 200 and server.connections == 2

    run(main())


def test_a_request_the_server_closes_on_unanswered_is_sent_once_more_on_a_fresh_connection() -> None:
    """The race keep-alive clients must handle: the server drops an idle connection just as a
    request goes out on it. No byte of an answer came back, so it was never processed."""

    def respond(req: bytes, n: int) -> list[bytes | None]:
        return [None] if n == 2 else [_ok()]

    async def main() -> None:
        async with ScriptedServer(respond) as server:
            transport = Http11Transport()
            await _post(transport, server.url)
            response = await _post(transport, server.url)
            await transport.aclose()
            assert response.status == 200
            assert len(server.requests) == 3 and server.connections == 2

    run(main())


def test_a_fresh_connection_closed_without_an_answer_is_an_error() -> None:
    async def main() -> None:
        async with ScriptedServer(lambda req, n: [None]) as server:
            transport = Http11Transport()
            with pytest.raises(TransportError):
                await _post(transport, server.url)
            await transport.aclose()
            assert len(server.requests) == 1  # not retried by the transport (the client decides)

    run(main())


@pytest.mark.parametrize(
    "answer",
    [
        [b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"id":', None],  # cut short
        [b"SMTP ready\r\n\r\n"],  # not HTTP
        [b"HTTP/1.1 200 OK\r\nContent-Length: nope\r\n\r\n"],
        [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"],
    ],
)
def test_broken_answers_are_transport_errors(answer: list[bytes | None]) -> None:
    async def main() -> None:
        async with ScriptedServer(lambda req, n: list(answer)) as server:
            transport = Http11Transport()
            with pytest.raises(TransportError):
                await _post(transport, server.url)
            await transport.aclose()

    run(main())


def test_timeouts_and_refused_connections() -> None:
    async def main() -> None:
        async with ScriptedServer(lambda req, n: []) as server:  # reads, never answers
            transport = Http11Transport(timeout=0.3)
            with pytest.raises(RequestTimeoutError):
                await _post(transport, server.url)
            await transport.aclose()
        transport = Http11Transport(timeout=2)
        with pytest.raises(ConnectError):
            await _post(transport, "http://127.0.0.1:9/v5/tools/log")
        await transport.aclose()

    run(main())


def _tls_contexts(tmp_path: Any) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    trustme = pytest.importorskip(
        "trustme", reason="trustme is not installed (the dev extra has it): it makes the test CA"
    )
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    return server_context, client_context


def test_tls_with_verification_on(tmp_path: Any) -> None:
    server_context, client_context = _tls_contexts(tmp_path)

    async def main() -> None:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                await reader.readuntil(b"\r\n\r\n")
                writer.write(_ok())
                await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
                pass
            finally:
                writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=server_context)
        port = server.sockets[0].getsockname()[1]
        url = f"https://127.0.0.1:{port}/v5/tools/log"
        trusted = Http11Transport(ssl_context=client_context)
        response = await trusted.post(url, params={}, headers=HEADERS, content=b"{}")
        assert response.status == 200
        await trusted.aclose()
        untrusted = Http11Transport()  # the system's CAs do not know the test CA
        with pytest.raises(ConnectError, match="TLS"):
            await untrusted.post(url, params={}, headers=HEADERS, content=b"{}")
        await untrusted.aclose()
        server.close()
        await server.wait_closed()

    run(main())


def test_a_proxy_named_by_the_environment_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """The built-in client does not speak to proxies: it hands such requests to aiohttp."""

    async def main() -> None:
        async with ScriptedServer(lambda req, n: [_ok()]) as proxy:
            monkeypatch.setenv("HTTP_PROXY", proxy.url.rsplit("/v5", 1)[0])
            monkeypatch.delenv("NO_PROXY", raising=False)
            monkeypatch.delenv("no_proxy", raising=False)
            transport = Http11Transport()
            response = await _post(transport, "http://example.invalid/v5/tools/log")
            await transport.aclose()
            assert response.status == 200
            # a request to a proxy names the whole target URL
            assert proxy.requests[0].startswith(b"POST http://example.invalid/v5/tools/log HTTP/1.1")

    run(main())
