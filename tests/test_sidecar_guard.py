"""Slow and hostile clients cannot hold the sidecar: head deadline, connection cap, bounded slot
waits, 401 for any malformed Authorization, no unauthenticated non-loopback bind by accident.
Real sockets over loopback."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel_tool_exporter.cli import main
from otel_tool_exporter.sidecar import SidecarConfig, SidecarServer
from otel_tool_exporter.stub import StubServer

from .test_sidecar import healthy, running_sidecar

PB = {"Content-Type": "application/x-protobuf"}
EMPTY_EXPORT = ExportTraceServiceRequest().SerializeToString()
HALF_HEAD = b"POST /v1/traces HTTP/1.1\r\nHost: sidecar\r\nContent-Type: application/x-protobuf\r\n"


def _connect(sidecar: SidecarServer) -> socket.socket:
    sock = socket.create_connection((sidecar.host, sidecar.port), timeout=5)
    return sock


def _answer(sock: socket.socket, timeout: float = 5.0) -> bytes:
    """What the server sent before closing (b"" when it closed without a word)."""
    sock.settimeout(timeout)
    data = b""
    try:
        while chunk := sock.recv(4096):
            data += chunk
    except ConnectionResetError:
        pass
    return data


@contextmanager
def sockets(count: int) -> Iterator[list[socket.socket]]:
    with ExitStack() as stack:
        yield [stack.enter_context(socket.socket()) for _ in range(count)]


@pytest.mark.slow
def test_slowloris_is_cut_at_the_head_deadline_and_the_cap_refuses_with_one_log_line(
    stub: StubServer, caplog: pytest.LogCaptureFixture
) -> None:
    config = SidecarConfig(max_connections=40, head_timeout=1.0)
    with running_sidecar(stub, config) as (sidecar, _), sockets(300) as slow:
        with caplog.at_level(logging.WARNING, logger="otel_tool_exporter.sidecar"):
            started = time.monotonic()
            for sock in slow:
                sock.connect((sidecar.host, sidecar.port))
                sock.sendall(HALF_HEAD)  # ... and never the blank line that ends the head
            answers = [_answer(sock, timeout=4.0) for sock in slow]
            took = time.monotonic() - started
        refused = [a for a in answers if a.startswith(b"HTTP/1.1 503")]
        cut = [a for a in answers if a == b""]
        # while 40 are open, the next ones are refused; each slow one is closed after 1 s, making room
        assert len(refused) + len(cut) == 300, "every connection refused or closed: none held"
        assert refused and len(cut) >= 40
        assert all(b"Retry-After: 1" in a for a in refused)
        assert took < 8.0, "the slow ones were closed at the head deadline, not held"
        cap_lines = [r for r in caplog.records if "the cap" in r.getMessage()]
        assert len(cap_lines) == 1, [r.getMessage() for r in caplog.records]
        assert not [r for r in caplog.records if r.exc_info], "no tracebacks"
        assert healthy(sidecar)
        response = httpx.post(sidecar.traces_url, content=EMPTY_EXPORT, headers=PB, timeout=5)
        assert response.status_code == 200
        doc = httpx.get(f"{sidecar.url}/healthz", timeout=5).json()["sidecar"]
        assert doc["connections_refused"] == len(refused) and doc["connections_cut_for_slow_head"] >= 40


def test_a_complete_request_is_not_cut_by_the_head_deadline(stub: StubServer) -> None:
    with running_sidecar(stub, SidecarConfig(head_timeout=0.5)) as (sidecar, _), httpx.Client() as client:
        for _ in range(3):  # the same kept-alive connection, past the head deadline of its first request
            assert client.post(sidecar.traces_url, content=EMPTY_EXPORT, headers=PB).status_code == 200
            time.sleep(0.4)


def test_the_wait_for_a_decoding_slot_is_bounded(stub: StubServer) -> None:
    """One slot, held by a sender that trickles its body: a legitimate export is answered 503
    with Retry-After within the slot wait, not after the slow sender's body deadline."""
    config = SidecarConfig(max_concurrent=1, slot_timeout=0.5, body_timeout=10.0)
    with running_sidecar(stub, config) as (sidecar, _), _connect(sidecar) as slow:
        slow.sendall(HALF_HEAD + b"Content-Length: 1000\r\n\r\n" + b"\x0a")
        time.sleep(0.2)  # the slow request has its slot
        started = time.monotonic()
        response = httpx.post(sidecar.traces_url, content=EMPTY_EXPORT, headers=PB, timeout=5)
        assert response.status_code == 503 and response.headers["Retry-After"]
        assert time.monotonic() - started < 3.0  # the 0.5 s slot wait, not the 10 s body deadline
        assert healthy(sidecar)
        slow.close()
        time.sleep(0.2)
        assert httpx.post(sidecar.traces_url, content=EMPTY_EXPORT, headers=PB, timeout=5).status_code == 200


@pytest.mark.parametrize(
    ("authorization", "status"),
    [
        (b"Bearer \xff\xfe\xfd", b"401"),  # odd bytes
        ("Bearer s3crét".encode(), b"401"),  # non-ASCII (UTF-8)
        (b"Bearer", b"401"),
        (b"Basic czNjcmV0", b"401"),
        (b"bearer  s3cret-but-longer", b"401"),
        (b"Bearer \x01\x02", b"400"),  # control characters: not an HTTP header at all (the parser's 400)
    ],
)
def test_any_malformed_authorization_is_401_not_500(stub: StubServer, authorization: bytes, status: bytes) -> None:
    with running_sidecar(stub, SidecarConfig(auth_token="s3cret")) as (sidecar, _), _connect(sidecar) as sock:
        sock.sendall(
            b"POST /v1/traces HTTP/1.1\r\nHost: s\r\nContent-Type: application/x-protobuf\r\nAuthorization: "
            + authorization
            + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        answer = _answer(sock)
        assert answer.split(b" ")[1] == status, answer[:200]
        assert healthy(sidecar)
        good = httpx.post(
            sidecar.traces_url, content=EMPTY_EXPORT, headers={**PB, "Authorization": "Bearer s3cret"}, timeout=5
        )
        assert good.status_code == 200


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.1", "example.com"])
def test_serve_refuses_a_non_loopback_address_without_a_token(
    host: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OTEL_TOOL_EXPORTER_AUTH_TOKEN", raising=False)
    assert main(["serve", "--host", host, "--port", "0", "--no-spool"]) == 2
    err = capsys.readouterr().err
    assert "--auth-token" in err and "--allow-unauthenticated" in err and host in err


def test_a_flood_of_malformed_requests_is_one_log_line_without_tracebacks(
    stub: StubServer, caplog: pytest.LogCaptureFixture
) -> None:
    with running_sidecar(stub) as (sidecar, _), caplog.at_level(logging.INFO):
        for _ in range(30):
            with _connect(sidecar) as sock:
                sock.sendall(b"POST /v1/traces HTTP/1.1\r\nHost: s\r\nX-Bad: \x01\r\n\r\n")
                assert _answer(sock).split(b" ")[1] == b"400"
        assert healthy(sidecar)
    lines = [r for r in caplog.records if r.name.startswith(("otel_tool_exporter", "aiohttp"))]
    # at most one notice a minute (none if an earlier test already used this minute's), no tracebacks
    assert len(lines) <= 1, [r.getMessage() for r in lines]
    assert all("malformed HTTP request" in r.getMessage() and r.exc_info is None for r in lines)


def test_embedding_refuses_a_non_loopback_address_without_a_token_too(stub: StubServer) -> None:
    from .conftest import make_exporter

    exporter = make_exporter(stub)
    try:
        with pytest.raises(ValueError, match="allow_unauthenticated"):
            SidecarServer(exporter, SidecarConfig(), host="0.0.0.0").start()
    finally:
        exporter.shutdown()
