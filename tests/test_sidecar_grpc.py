"""The OTLP/gRPC receiver: the real gRPC ``OTLPSpanExporter`` → receiver → pipeline → real stub.

Plus every hostile input a gRPC client can send, each answered with the status the OTLP spec
names, while the receiver keeps serving (checked by a good export after each). The helpers shared
with the HTTP receiver's tests live in ``test_sidecar``.
"""

from __future__ import annotations

import gzip
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

grpc = pytest.importorskip("grpc", reason="grpcio is not installed (the grpc extra, part of dev)")
pytest.importorskip(
    "opentelemetry.exporter.otlp.proto.grpc", reason="the OTLP/gRPC client is not installed (the dev extra has it)"
)

from google.rpc import error_details_pb2, status_pb2  # noqa: E402
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter  # noqa: E402
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (  # noqa: E402
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.resources import Resource  # noqa: E402
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult  # noqa: E402

from otel_tool_exporter import ToolLogExporter  # noqa: E402
from otel_tool_exporter._internal.pipeline import pipeline_of  # noqa: E402
from otel_tool_exporter.cli.demo import run_agent  # noqa: E402
from otel_tool_exporter.sidecar import SidecarConfig  # noqa: E402
from otel_tool_exporter.sidecar.grpc_server import EXPORT_METHOD, GrpcSidecarServer  # noqa: E402
from otel_tool_exporter.stub import StubServer  # noqa: E402

from .conftest import logs_by_path, make_exporter  # noqa: E402
from .processes import running, stop  # noqa: E402
from .test_sidecar import (  # noqa: E402
    DEMO_TOOLS,
    _free_port,
    _protobuf_body,
    assert_demo_logs,
    record_demo_spans,
)

TOKEN = "s3cret-grpc"
AUTH = (("authorization", f"Bearer {TOKEN}"),)
CAP = 1024 * 1024  # a small cap keeps the over-cap cases cheap


@contextmanager
def running_grpc(
    stub: StubServer, config: SidecarConfig | None = None, **settings: Any
) -> Iterator[tuple[GrpcSidecarServer, ToolLogExporter]]:
    """A gRPC receiver on a free loopback port whose exporter delivers to ``stub``."""
    exporter = make_exporter(stub, **settings)
    server = GrpcSidecarServer(exporter, config).start()
    try:
        yield server, exporter
    finally:
        server.stop()
        exporter.shutdown()


def otlp(server: GrpcSidecarServer, **kwargs: Any) -> OTLPSpanExporter:
    """The real OTLP/gRPC exporter, plaintext to the receiver."""
    return OTLPSpanExporter(endpoint=server.target, insecure=True, **kwargs)


def raw_export(
    server: GrpcSidecarServer, body: bytes, metadata: tuple[tuple[str, str], ...] = (), **kwargs: Any
) -> bytes:
    """``TraceService/Export`` with the bytes as given: what a broken or hostile client sends."""
    with grpc.insecure_channel(server.target) as channel:
        call = channel.unary_unary(EXPORT_METHOD)
        return call(body, metadata=metadata, timeout=30, **kwargs)


def raw_error(server: GrpcSidecarServer, body: bytes, metadata: tuple[tuple[str, str], ...] = (), **kwargs: Any) -> Any:
    with pytest.raises(grpc.RpcError) as info:
        raw_export(server, body, metadata, **kwargs)
    return info.value


def retry_delay(error: Any) -> tuple[float | None, float | None]:
    """The RetryInfo delay as (grpc-status-details-bin, google.rpc.retryinfo-bin); None where absent."""
    trailers = dict(error.trailing_metadata() or ())
    from_status = from_key = None
    if "grpc-status-details-bin" in trailers:
        status = status_pb2.Status.FromString(trailers["grpc-status-details-bin"])
        assert status.code == error.code().value[0]
        for detail in status.details:
            info = error_details_pb2.RetryInfo()
            if detail.Unpack(info):
                from_status = info.retry_delay.seconds + info.retry_delay.nanos / 1e9
    if "google.rpc.retryinfo-bin" in trailers:
        info = error_details_pb2.RetryInfo.FromString(trailers["google.rpc.retryinfo-bin"])
        from_key = info.retry_delay.seconds + info.retry_delay.nanos / 1e9
    return from_status, from_key


def still_serving(server: GrpcSidecarServer, metadata: tuple[tuple[str, str], ...] = ()) -> bool:
    """A well-formed (empty) export succeeds: the receiver survived whatever came before."""
    response = ExportTraceServiceResponse.FromString(raw_export(server, b"", metadata))
    return not response.HasField("partial_success")


# ============================================================================ real OTLP/gRPC client
@pytest.mark.parametrize("compression", [grpc.Compression.NoCompression, grpc.Compression.Gzip], ids=["plain", "gzip"])
def test_grpc_otlp_exporter_becomes_nested_logs(stub: StubServer, compression: Any) -> None:
    with running_grpc(stub) as (server, exporter):
        provider = TracerProvider(resource=Resource.create({"service.name": "sidecar-test"}))
        provider.add_span_processor(BatchSpanProcessor(otlp(server, compression=compression)))
        run_agent(provider.get_tracer("tests.sidecar.grpc"))
        assert provider.force_flush(10_000)
        provider.shutdown()
        assert exporter.force_flush(10_000)
        stats = exporter.stats()
        assert server.receiver is not None and server.receiver.snapshot()["responses"] == {"OK": 1}
    assert stats["tool_spans"] == 5 and stats["sent"] == 5 and not stats["failed"]
    assert_demo_logs(stub)


def test_one_trace_split_across_grpc_requests_in_reverse_order(stub: StubServer) -> None:
    """Each span in its own call, roots first and the innermost tool last: it still nests."""
    spans = list(reversed(record_demo_spans()))
    with running_grpc(stub) as (server, exporter):
        client = otlp(server)
        for span in spans:
            assert client.export([span]) is SpanExportResult.SUCCESS
        client.shutdown()
        assert exporter.force_flush(10_000)
        assert exporter.stats()["unresolved_parents"] == 0
    assert_demo_logs(stub)


def test_http_and_grpc_receivers_share_one_exporter(stub: StubServer) -> None:
    """Half a trace over OTLP/HTTP, the other half over gRPC: one ordering engine, one tree."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

    from otel_tool_exporter.sidecar import SidecarServer

    spans = record_demo_spans()
    research = next(s for s in spans if s.name == "execute_tool research")
    rest = [s for s in spans if s is not research]
    exporter = make_exporter(stub)
    with SidecarServer(exporter) as http_server, GrpcSidecarServer(exporter) as grpc_server:
        assert otlp(grpc_server).export(rest) is SpanExportResult.SUCCESS  # the child of research waits
        assert HttpExporter(endpoint=http_server.traces_url).export([research]) is SpanExportResult.SUCCESS
        assert exporter.force_flush(10_000)
    exporter.shutdown()
    assert_demo_logs(stub)


def test_partial_success_for_invalid_ids(stub: StubServer) -> None:
    request = ExportTraceServiceRequest()
    scope_spans = request.resource_spans.add().scope_spans.add()
    for trace_id, span_id in [(b"\x01" * 16, b"\x02" * 8), (b"\x01" * 15, b"\x03" * 8), (b"\x01" * 16, b"")]:
        span = scope_spans.spans.add(trace_id=trace_id, span_id=span_id, name="execute_tool t")
        span.attributes.add(key="gen_ai.operation.name").value.string_value = "execute_tool"
        span.attributes.add(key="gen_ai.tool.name").value.string_value = f"tool_{span_id.hex() or 'none'}"
    with running_grpc(stub) as (server, exporter):
        response = ExportTraceServiceResponse.FromString(raw_export(server, request.SerializeToString()))
        assert response.partial_success.rejected_spans == 2
        assert "invalid trace_id" in response.partial_success.error_message
        assert "invalid span_id" in response.partial_success.error_message
        assert exporter.force_flush(10_000)
        assert server.receiver is not None and server.receiver.snapshot()["spans_rejected"] == 2
    assert set(logs_by_path(stub)) == {"tool_0202020202020202"}


# ============================================================================ hostile input
@pytest.fixture
def guarded(stub: StubServer) -> Iterator[GrpcSidecarServer]:
    """A receiver with a token and a 1 MiB cap."""
    config = SidecarConfig(auth_token=TOKEN, max_body_bytes=CAP, body_timeout=2.0, retry_after=1)
    with running_grpc(stub, config) as (server, _):
        yield server


def test_wrong_or_missing_token_is_unauthenticated_and_not_retried(guarded: GrpcSidecarServer) -> None:
    spans = record_demo_spans()
    for metadata in [(), (("authorization", "Bearer nope"),), (("authorization", TOKEN),)]:
        error = raw_error(guarded, _protobuf_body(spans), metadata)
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED
        assert TOKEN not in error.details()
    start = time.monotonic()
    assert otlp(guarded, headers={"authorization": "Bearer nope"}).export(spans) is SpanExportResult.FAILURE
    assert time.monotonic() - start < 5  # not retried: UNAUTHENTICATED is final
    assert otlp(guarded, headers={"authorization": f"Bearer {TOKEN}"}).export(spans) is SpanExportResult.SUCCESS


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xff\xff\xff",  # a truncated varint tag
        b"\x0a\x05abc",  # a length that runs past the end
        b"GET / HTTP/1.1\r\n\r\n",
    ],
    ids=["bad-varint", "truncated-field", "http-text"],
)
def test_garbage_bytes_are_invalid_argument(guarded: GrpcSidecarServer, body: bytes) -> None:
    error = raw_error(guarded, body, AUTH)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "not a valid OTLP protobuf" in error.details()
    assert still_serving(guarded, AUTH)


def test_random_bytes_never_crash_the_receiver(guarded: GrpcSidecarServer) -> None:
    """Whatever a random message decodes to, the answer is OK or INVALID_ARGUMENT and nothing else."""
    import random

    rng = random.Random(11)
    for _ in range(200):
        body = rng.randbytes(rng.randrange(1, 300))
        try:
            raw_export(guarded, body, AUTH)
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    assert still_serving(guarded, AUTH)


@pytest.mark.slow
def test_slow_sender_gets_deadline_exceeded_and_frees_its_slot(guarded: GrpcSidecarServer) -> None:
    """A client that opens the call and never sends its message (slowloris) is cut off at body_timeout."""
    import threading

    release = threading.Event()

    def never() -> Iterator[bytes]:
        release.wait(10)
        return
        yield b""

    with grpc.insecure_channel(guarded.target) as channel:
        hang = channel.stream_unary(EXPORT_METHOD)
        start = time.monotonic()
        with pytest.raises(grpc.RpcError) as info:
            hang(never(), metadata=AUTH, timeout=30)
        release.set()
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert 1.5 < time.monotonic() - start < 8  # body_timeout is 2 s
    assert still_serving(guarded, AUTH)


def test_call_without_a_message_is_invalid_argument(guarded: GrpcSidecarServer) -> None:
    with grpc.insecure_channel(guarded.target) as channel:
        with pytest.raises(grpc.RpcError) as info:
            channel.stream_unary(EXPORT_METHOD)(iter(()), metadata=AUTH, timeout=30)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert still_serving(guarded, AUTH)


def test_oversize_message_is_resource_exhausted_without_retry_info(guarded: GrpcSidecarServer) -> None:
    request = ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add(trace_id=b"\x01" * 16, span_id=b"\x02" * 8)
    span.attributes.add(key="big").value.string_value = "x" * (CAP + 1)
    error = raw_error(guarded, request.SerializeToString(), AUTH)
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert retry_delay(error) == (None, None)  # retrying the same message cannot help
    assert still_serving(guarded, AUTH)


def test_gzip_bomb_stops_at_the_cap(guarded: GrpcSidecarServer) -> None:
    """200 MiB of zeros gzip to ~200 KiB; inflating stops at the 1 MiB cap."""
    assert len(gzip.compress(b"\0" * (200 * 1024 * 1024), 1)) < CAP  # it passes the wire-size check
    error = raw_error(guarded, b"\0" * (200 * 1024 * 1024), AUTH, compression=grpc.Compression.Gzip)
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "larger than max" in error.details()
    assert still_serving(guarded, AUTH)


def test_more_spans_than_the_queue_holds_is_final(stub: StubServer) -> None:
    spans = record_demo_spans()
    with running_grpc(stub, max_queue=4) as (server, exporter):
        error = raw_error(server, _protobuf_body(spans))
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "more than max_queue (4)" in error.details()
        assert retry_delay(error) == (None, None)
        assert exporter.stats()["received"] == 0
        assert still_serving(server)


def test_full_queue_is_resource_exhausted_with_retry_info_and_the_real_client_retries(
    stub: StubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    spans = record_demo_spans()
    with running_grpc(stub, SidecarConfig(retry_after=1)) as (server, exporter):
        inbox = pipeline_of(exporter).inbox
        real_has_room = inbox.has_room
        full_for = {"calls": 2}

        def has_room(n: int = 1) -> bool:  # full for the first two checks
            if full_for["calls"] > 0:
                full_for["calls"] -= 1
                return False
            return real_has_room(n)

        monkeypatch.setattr(inbox, "has_room", has_room)
        error = raw_error(server, _protobuf_body(spans))
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert retry_delay(error) == (1.0, 1.0)  # in the rich status (Collector) and where Python looks
        # the real exporter waits the RetryInfo delay and succeeds once there is room
        start = time.monotonic()
        assert otlp(server, timeout=30).export(spans) is SpanExportResult.SUCCESS
        assert time.monotonic() - start >= 0.9
        assert exporter.force_flush(10_000)
        assert server.receiver is not None
        assert server.receiver.snapshot()["responses"] == {"OK": 1, "RESOURCE_EXHAUSTED": 2}
    assert_demo_logs(stub)


def test_draining_receiver_answers_unavailable_with_retry_info(stub: StubServer) -> None:
    with running_grpc(stub, SidecarConfig(retry_after=3)) as (server, _):
        assert server.receiver is not None
        server.receiver.draining = True
        error = raw_error(server, b"")
        assert error.code() == grpc.StatusCode.UNAVAILABLE
        assert retry_delay(error) == (3.0, 3.0)


# ============================================================================ the CLI process
def _wait_grpc(target: str, proc: subprocess.Popen[str], deadline: float = 20.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited early: {proc.communicate()}")
        with grpc.insecure_channel(target) as channel:
            try:
                grpc.channel_ready_future(channel).result(timeout=0.5)
                return
            except grpc.FutureTimeoutError:
                pass
    raise AssertionError("serve's gRPC port did not open")


def test_serve_with_grpc_port_delivers_and_drains_on_sigterm(stub: StubServer, tmp_path: Path) -> None:
    http_port, grpc_port = _free_port(), _free_port()
    env = {**os.environ, "HUMANLOOP_API_KEY": "test-key", "OTEL_TOOL_EXPORTER_AUTH_TOKEN": TOKEN}
    cmd = [sys.executable, "-m", "otel_tool_exporter.cli", "serve", "--base-url", stub.base_url]
    cmd += ["--port", str(http_port), "--grpc-port", str(grpc_port), "--spool-dir", str(tmp_path / "spool")]
    target = f"127.0.0.1:{grpc_port}"
    with running(cmd, env) as proc:
        _wait_grpc(target, proc)
        spans: list[ReadableSpan] = record_demo_spans()
        client = OTLPSpanExporter(endpoint=target, insecure=True, headers={"authorization": f"Bearer {TOKEN}"})
        assert client.export(spans) is SpanExportResult.SUCCESS
        client.shutdown()
        out, err = stop(proc)
    assert proc.returncode == 0, err
    assert f"OTLP/gRPC on 127.0.0.1:{grpc_port}" in out
    assert "draining" in out and "stopped" in out
    assert set(logs_by_path(stub)) == DEMO_TOOLS
    assert TOKEN not in out + err


def test_serve_grpc_without_the_grpc_extra_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import builtins

    from otel_tool_exporter.cli import build_parser

    real_import = builtins.__import__

    def no_grpc(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "grpc" or name.startswith("grpc."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    args = build_parser().parse_args(["serve", "--grpc"])
    assert args.grpc and args.grpc_port is None
    monkeypatch.setattr(builtins, "__import__", no_grpc)
    assert args.func(args) == 2
    assert "pip install 'grpcio>=1.63'" in capsys.readouterr().err  # on PyPI: works however we were installed


def test_idle_connections_are_closed_after_the_head_deadline_and_capped(stub: StubServer) -> None:
    """Slowloris on the gRPC port: connections that never say a word are closed after
    ``head_timeout``; past ``max_connections`` more are refused at once; a real client then gets through."""
    config = SidecarConfig(head_timeout=0.5, max_connections=8)
    with running_grpc(stub, config) as (server, exporter):
        host, port = server.target.rsplit(":", 1)
        idle = [socket.create_connection((host, int(port)), timeout=5) for _ in range(12)]
        started = time.monotonic()
        received = []
        try:
            for sock in idle:
                data = b""
                while chunk := sock.recv(1024):  # until the server closes it
                    data += chunk
                received.append(len(data))
        finally:
            for sock in idle:
                sock.close()
        assert time.monotonic() - started < 2.5, "idle connections are closed after head_timeout"
        assert sum(1 for n in received if n == 0) >= 4, f"past max_connections, refused: {received}"
        assert otlp(server).export(record_demo_spans()).name == "SUCCESS"
        assert exporter.force_flush(10_000)
    assert logs_by_path(stub)
