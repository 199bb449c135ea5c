"""Hostile input to the sidecar: every case gets its SPEC §6 answer and the server stays healthy."""

from __future__ import annotations

import gzip
import json
import socket
import time
import zlib
from collections.abc import Iterator

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from otel_tool_exporter.sidecar import SidecarConfig, SidecarServer
from otel_tool_exporter.stub import StubServer

from .conftest import logs_by_path
from .test_sidecar import healthy, json_request, json_span, running_sidecar, tool_attrs

PB = {"Content-Type": "application/x-protobuf"}
JS = {"Content-Type": "application/json"}
CAP = 1024 * 1024  # a small cap keeps the over-cap cases cheap; the default (20 MiB) is tested on its own


@pytest.fixture
def sidecar(stub: StubServer) -> Iterator[SidecarServer]:
    with running_sidecar(stub, SidecarConfig(auth_token=None, max_body_bytes=CAP, body_timeout=1.0)) as (server, _):
        yield server


def rpc_status(response: httpx.Response) -> tuple[int, str]:
    """Decode the google.rpc.Status error body (fields 1 code, 2 message) in either encoding."""
    if response.headers["Content-Type"].startswith("application/json"):
        doc = response.json()
        return doc["code"], doc["message"]
    data = response.content
    assert data[0] == 0x08
    code = data[1]
    assert data[2] == 0x12
    length, pos, shift = 0, 3, 0
    while True:
        byte = data[pos]
        length |= (byte & 0x7F) << shift
        pos += 1
        shift += 7
        if not byte & 0x80:
            break
    return code, data[pos : pos + length].decode()


def post(sidecar: SidecarServer, body: bytes, headers: dict[str, str]) -> httpx.Response:
    response = httpx.post(sidecar.traces_url, content=body, headers=headers, timeout=30)
    assert healthy(sidecar)
    return response


@pytest.mark.parametrize(
    ("body", "headers", "needle"),
    [
        (b"\xff\xff\xff\xff\xff", PB, "not a valid OTLP protobuf"),
        (b"\x0a\x05\x0a\x03", PB, "not a valid OTLP protobuf"),  # truncated length-delimited field
        (b"{not json", JS, "not valid JSON"),
        (b"\xff\xfe\x00garbage", JS, "not valid JSON"),
        (b"[1, 2, 3]", JS, "must be a JSON object"),
        (b'{"resourceSpans": 5}', JS, "is not a list"),
        (b'{"resourceSpans": [7]}', JS, "is not an object"),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": {"a": 1}}]}]}', JS, "is not a list"),
        (b"[" * 100_000 + b"]" * 100_000, JS, "not valid JSON"),  # recursion bomb
    ],
    ids=[
        "pb-garbage",
        "pb-truncated",
        "json-syntax",
        "json-bad-utf",
        "json-array",
        "json-rs-type",
        "json-rs-item",
        "json-spans-type",
        "json-deep",
    ],
)
def test_malformed_bodies_get_400_in_the_request_encoding(
    sidecar: SidecarServer, body: bytes, headers: dict[str, str], needle: str
) -> None:
    response = post(sidecar, body, headers)
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith(headers["Content-Type"])
    code, message = rpc_status(response)
    assert code == 3  # INVALID_ARGUMENT
    assert needle in message


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "text/plain"},
        {"Content-Type": "application/xml"},
        {},
        {"Content-Type": "application/json", "Content-Encoding": "br"},
        {"Content-Type": "application/x-protobuf", "Content-Encoding": "zstd"},
    ],
    ids=["text", "xml", "none", "brotli", "zstd"],
)
def test_wrong_content_type_or_encoding_gets_415(sidecar: SidecarServer, headers: dict[str, str]) -> None:
    response = post(sidecar, b"{}", headers)
    assert response.status_code == 415


def test_empty_bodies_are_valid_empty_requests(sidecar: SidecarServer) -> None:
    assert post(sidecar, b"", PB).status_code == 200  # an empty protobuf message is a valid request
    assert post(sidecar, b"{}", JS).status_code == 200


def test_over_cap_body_gets_413_declared_or_streamed(sidecar: SidecarServer) -> None:
    big = b"\x00" * (CAP + 1)
    response = post(sidecar, big, PB)  # Content-Length says it all: refused before reading
    assert response.status_code == 413
    assert rpc_status(response)[0] == 8  # RESOURCE_EXHAUSTED

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while streaming
        for _ in range(CAP // 65536 + 2):
            yield b"\x00" * 65536

    response = httpx.post(sidecar.traces_url, content=chunks(), headers=PB, timeout=30)
    assert response.status_code == 413
    assert healthy(sidecar)


def test_gzip_bomb_costs_nothing(sidecar: SidecarServer) -> None:
    """~200 KiB of gzip that would inflate to 200 MiB: stopped at the cap, answered 413."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b"\x00" * (1024 * 1024)
    bomb = b"".join(compressor.compress(block) for _ in range(200)) + compressor.flush()
    assert len(bomb) < CAP
    response = post(sidecar, bomb, {**PB, "Content-Encoding": "gzip"})
    assert response.status_code == 413
    assert "inflates to more than" in rpc_status(response)[1]


def test_truncated_and_corrupt_gzip_get_400(sidecar: SidecarServer) -> None:
    good = gzip.compress(json.dumps(json_request([])).encode())
    for body, needle in [(good[:-9], "truncated"), (good[:10] + b"\x00" * 20, "corrupt"), (b"plain", "corrupt")]:
        response = post(sidecar, body, {**JS, "Content-Encoding": "gzip"})
        assert response.status_code == 400, body
        assert needle in rpc_status(response)[1]
    assert post(sidecar, good, {**JS, "Content-Encoding": "gzip"}).status_code == 200


def test_concatenated_gzip_members_and_deflate_are_read(stub: StubServer, sidecar: SidecarServer) -> None:
    text = json.dumps(json_request([json_span(0xAB, None, "execute_tool t", tool_attrs("split_gzip", {}, "ok"))]))
    half = len(text) // 2
    body = gzip.compress(text[:half].encode()) + gzip.compress(text[half:].encode())
    assert post(sidecar, body, {**JS, "Content-Encoding": "gzip"}).status_code == 200
    deflated = zlib.compress(json.dumps(json_request([])).encode())
    assert post(sidecar, deflated, {**JS, "Content-Encoding": "deflate"}).status_code == 200


def test_ten_thousand_attribute_span_is_delivered_capped(stub: StubServer) -> None:
    attrs = tool_attrs("wide_tool", {"q": 1}, "done") + [
        {"key": f"attr.{i:05d}", "value": {"stringValue": "v" * 50}} for i in range(10_000)
    ]
    body = json.dumps(json_request([json_span(0x77, None, "execute_tool wide_tool", attrs)])).encode()
    with running_sidecar(stub) as (sidecar, exporter):
        response = post(sidecar, body, JS)
        assert response.status_code == 200 and response.json() == {}
        assert exporter.force_flush(30_000)
    log = logs_by_path(stub)["wide_tool"][0]
    assert log["output"] == "done"
    otel = log["metadata"]["otel"]
    assert otel["span_id"] == "0000000000000077"
    # 10,000 × ~70 bytes exceeds the 256 KiB field cap: the metadata is truncated, and says so
    assert "metadata" in otel["truncated"]


def test_deeply_nested_attribute_values_are_bounded(stub: StubServer) -> None:
    value: dict[str, object] = {"stringValue": "leaf"}
    for _ in range(200):
        value = {"arrayValue": {"values": [value]}}
    attrs = [*tool_attrs("deep_tool", {}, "ok"), {"key": "deep", "value": value}]
    body = json.dumps(json_request([json_span(0x78, None, "execute_tool deep_tool", attrs)])).encode()
    with running_sidecar(stub) as (sidecar, exporter):
        assert post(sidecar, body, JS).status_code == 200
        assert exporter.force_flush(10_000)
    deep = logs_by_path(stub)["deep_tool"][0]["metadata"]["attributes"]["deep"]
    depth = 0
    while isinstance(deep, list):
        deep, depth = deep[0], depth + 1
    assert deep == "[nested deeper than 32 levels]" and depth == 32


def test_deeply_nested_protobuf_is_refused_not_crashed(sidecar: SidecarServer) -> None:
    """AnyValue nested past protobuf's recursion limit: 400, the decoder's stack stays bounded."""
    inner = b"\x0a\x04leaf"  # AnyValue{string_value}
    for _ in range(300):
        array = b"\x0a" + _varint(len(inner)) + inner  # ArrayValue{values: [inner]}
        inner = b"\x2a" + _varint(len(array)) + array  # AnyValue{array_value}
    kv = b"\x0a\x01k" + b"\x12" + _varint(len(inner)) + inner
    span = b"\x0a\x10" + b"\x01" * 16 + b"\x12\x08" + b"\x02" * 8 + b"\x2a\x01x" + b"\x4a" + _varint(len(kv)) + kv
    scope_spans = b"\x12" + _varint(len(span)) + span
    resource_spans = b"\x12" + _varint(len(scope_spans)) + scope_spans
    body = b"\x0a" + _varint(len(resource_spans)) + resource_spans
    response = post(sidecar, body, PB)
    assert response.status_code == 400
    assert "not a valid OTLP protobuf" in rpc_status(response)[1]


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def test_invalid_ids_are_rejected_per_span_not_per_request(stub: StubServer) -> None:
    spans = [
        json_span(0x10, None, "execute_tool keep", tool_attrs("kept_tool", {}, "ok")),
        json_span(0x11, None, "execute_tool x", tool_attrs("x", {}, "ok"), traceId="0" * 32),
        json_span(0x12, None, "execute_tool y", tool_attrs("y", {}, "ok"), spanId="zz" * 8),
        json_span(0x13, None, "execute_tool z", tool_attrs("z", {}, "ok"), parentSpanId="abcd"),
        json_span(0x14, None, "execute_tool w", tool_attrs("w", {}, "ok"), startTimeUnixNano="soon"),
        "not a span",
    ]
    with running_sidecar(stub) as (sidecar, exporter):
        response = post(sidecar, json.dumps(json_request(spans)).encode(), JS)
        assert response.status_code == 200
        partial = response.json()["partialSuccess"]
        assert partial["rejectedSpans"] == "5"
        for reason in (
            "trace_id: all zeros",
            "span_id: not hex",
            "parent_span_id",
            "startTimeUnixNano",
            "not an object",
        ):
            assert reason in partial["errorMessage"]
        assert exporter.force_flush(10_000)
    assert set(logs_by_path(stub)) == {"kept_tool"}


def test_bearer_token(stub: StubServer) -> None:
    request = ExportTraceServiceRequest()
    with running_sidecar(stub, SidecarConfig(auth_token="s3cret")) as (sidecar, _):
        for headers in (
            {},
            {"Authorization": "Bearer wrong"},
            {"Authorization": "Basic s3cret"},
            {"Authorization": "s3cret"},
        ):
            response = post(sidecar, request.SerializeToString(), {**PB, **headers})
            assert response.status_code == 401, headers
            assert response.headers["WWW-Authenticate"] == "Bearer"
            assert rpc_status(response)[0] == 16  # UNAUTHENTICATED
        # the token is checked before the content type: nothing is revealed to a stranger
        assert post(sidecar, b"x", {"Content-Type": "text/plain"}).status_code == 401
        response = post(sidecar, request.SerializeToString(), {**PB, "Authorization": "Bearer s3cret"})
        assert response.status_code == 200
        assert ExportTraceServiceResponse.FromString(response.content) == ExportTraceServiceResponse()
        assert "s3cret" not in repr(sidecar.config)


def test_slow_sender_gets_408_and_frees_its_slot(sidecar: SidecarServer) -> None:
    """Headers promise a body that never comes: the body deadline (1 s here) answers 408."""
    with socket.create_connection((sidecar.host, sidecar.port), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
        )
        started = time.monotonic()
        reply = sock.recv(4096)
    assert reply.startswith(b"HTTP/1.1 408"), reply[:40]
    assert time.monotonic() - started < 5
    assert healthy(sidecar)


def test_other_paths_and_methods(sidecar: SidecarServer) -> None:
    assert httpx.get(sidecar.traces_url).status_code == 405
    assert httpx.post(f"{sidecar.url}/v1/metrics", content=b"", headers=PB).status_code == 404
    assert healthy(sidecar)


def test_default_cap_is_20_mib(stub: StubServer) -> None:
    with running_sidecar(stub) as (sidecar, _):
        assert sidecar.config.max_body_bytes == 20 * 1024 * 1024
        response = post(sidecar, b"\x00" * (20 * 1024 * 1024 + 1), PB)
        assert response.status_code == 413
