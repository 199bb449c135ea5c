"""The Collector sidecar end to end: real OTLP clients → ``serve``'s receiver → pipeline → real stub.

Also home of the helpers the other ``test_sidecar_*`` modules share (``running_sidecar``,
``tree_of``), so they are written once.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_tool_exporter import ToolLogExporter
from otel_tool_exporter._internal.pipeline import pipeline_of
from otel_tool_exporter.cli.demo import run_agent
from otel_tool_exporter.sidecar import SidecarConfig, SidecarServer
from otel_tool_exporter.stub import StubServer

from .conftest import logs_by_path, make_exporter
from .processes import running, stop

DEMO_TOOLS = {"get_weather", "lookup_user", "fail_tool", "research", "search_web"}


# ============================================================================ shared helpers
@contextmanager
def running_sidecar(
    stub: StubServer, config: SidecarConfig | None = None, **settings: Any
) -> Iterator[tuple[SidecarServer, ToolLogExporter]]:
    """A sidecar on a free loopback port whose exporter delivers to ``stub``."""
    exporter = make_exporter(stub, **settings)
    server = SidecarServer(exporter, config).start()
    try:
        yield server, exporter
    finally:
        server.stop()
        exporter.shutdown()


def healthy(server: SidecarServer) -> bool:
    response = httpx.get(f"{server.url}/healthz", timeout=5)
    return response.status_code == 200 and response.json()["status"] == "ok"


def tree_of(stub: StubServer) -> dict[str, str | None]:
    """``{tool path: parent tool path or None}`` for every Log the stub holds (one Log per path)."""
    by_path = logs_by_path(stub)
    assert all(len(v) == 1 for v in by_path.values()), {k: len(v) for k, v in by_path.items()}
    path_of_id = {logs[0]["id"]: path for path, logs in by_path.items()}
    return {path: path_of_id.get(logs[0].get("trace_parent_id")) for path, logs in by_path.items()}


DEMO_TREE = {
    "get_weather": None,
    "lookup_user": None,
    "fail_tool": None,
    "research": None,
    "search_web": "research",
}


def record_demo_spans() -> list[ReadableSpan]:
    """The demo agent's spans, captured in end order (as an exporter receives them)."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "sidecar-test"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    run_agent(provider.get_tracer("tests.sidecar"))
    provider.shutdown()
    return list(memory.get_finished_spans())


def assert_demo_logs(stub: StubServer) -> None:
    assert tree_of(stub) == DEMO_TREE
    logs = {path: v[0] for path, v in logs_by_path(stub).items()}
    assert logs["get_weather"]["inputs"] == {"city": "Paris"}
    assert logs["get_weather"]["output"] == "Sunny, 21C in Paris"
    assert logs["fail_tool"]["error"] == "ValueError: boom: disk full"
    assert logs["search_web"]["output"] == "3 results for otel"
    assert logs["research"]["metadata"]["otel"]["service_name"] == "sidecar-test"
    assert "unresolved_parent" not in logs["search_web"]["metadata"]["otel"]


# ============================================================================ real OTLP client
@pytest.mark.parametrize("compression", [Compression.NoCompression, Compression.Gzip], ids=["plain", "gzip"])
def test_python_otlp_exporter_becomes_nested_logs(stub: StubServer, compression: Compression) -> None:
    with running_sidecar(stub) as (sidecar, exporter):
        provider = TracerProvider(resource=Resource.create({"service.name": "sidecar-test"}))
        otlp = OTLPSpanExporter(endpoint=sidecar.traces_url, compression=compression)
        provider.add_span_processor(BatchSpanProcessor(otlp))
        run_agent(provider.get_tracer("tests.sidecar"))
        assert provider.force_flush(10_000)
        provider.shutdown()
        assert exporter.force_flush(10_000)
        stats = exporter.stats()
    assert stats["tool_spans"] == 5 and stats["sent"] == 5 and not stats["failed"]
    assert_demo_logs(stub)


def test_protobuf_reply_is_an_export_trace_service_response(stub: StubServer) -> None:
    spans = record_demo_spans()
    with running_sidecar(stub) as (sidecar, exporter):
        body = _protobuf_body(spans)
        response = httpx.post(sidecar.traces_url, content=body, headers={"Content-Type": "application/x-protobuf"})
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("application/x-protobuf")
        parsed = ExportTraceServiceResponse.FromString(response.content)
        assert not parsed.HasField("partial_success")
        assert exporter.force_flush(10_000)
    assert_demo_logs(stub)


def _protobuf_body(spans: list[ReadableSpan]) -> bytes:
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    return encode_spans(spans).SerializeToString()


# ============================================================================ ordering across requests
@pytest.mark.parametrize("order", ["end_order", "reverse", "shuffled"])
def test_one_trace_split_across_requests_nests_in_any_order(stub: StubServer, order: str) -> None:
    """Each span in its own request (as N exporters or retries would deliver them)."""
    spans = record_demo_spans()
    if order == "reverse":
        spans.reverse()  # roots first, the innermost tool last
    elif order == "shuffled":
        random.Random(7).shuffle(spans)
    with running_sidecar(stub) as (sidecar, exporter):
        otlp = OTLPSpanExporter(endpoint=sidecar.traces_url)
        for span in spans:
            assert otlp.export([span]) is SpanExportResult.SUCCESS
        otlp.shutdown()
        assert exporter.force_flush(10_000)
        assert exporter.stats()["unresolved_parents"] == 0
    assert_demo_logs(stub)


def test_child_arriving_long_before_its_parent_waits_for_it(stub: StubServer) -> None:
    """The nested tool span arrives first; its tool parent, a second later, in another request."""
    spans = record_demo_spans()
    research = next(s for s in spans if s.name == "execute_tool research")
    rest = [s for s in spans if s is not research]
    with running_sidecar(stub) as (sidecar, exporter):
        otlp = OTLPSpanExporter(endpoint=sidecar.traces_url)
        assert otlp.export(rest) is SpanExportResult.SUCCESS
        time.sleep(1.0)
        assert "search_web" not in logs_by_path(stub)  # still waiting for research's Log id
        assert exporter.stats()["waiting_children"] == 1
        assert otlp.export([research]) is SpanExportResult.SUCCESS
        otlp.shutdown()
        assert exporter.force_flush(10_000)
    assert_demo_logs(stub)


# ============================================================================ OTLP/JSON by hand
def _hex_ids(n: int, width: int) -> str:
    return format(n, f"0{width}x")


TRACE = _hex_ids(0x5B8EFFF798038103D269B633813FC60C, 32)


def json_span(span_id: int, parent: int | None, name: str, attrs: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    span: dict[str, Any] = {
        "traceId": TRACE,
        "spanId": _hex_ids(span_id, 16),
        "name": name,
        "kind": 1,
        "startTimeUnixNano": "1700000000000000000",
        "endTimeUnixNano": 1700000000250000000,  # numbers are fine too
        "attributes": attrs,
        "status": {},
    }
    if parent is not None:
        span["parentSpanId"] = _hex_ids(parent, 16)
    span.update(extra)
    return span


def s(key: str, value: str) -> dict[str, Any]:
    return {"key": key, "value": {"stringValue": value}}


def json_request(spans: list[dict[str, Any]], **resource: str) -> dict[str, Any]:
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [s(k.replace("_", "."), v) for k, v in resource.items()]},
                "scopeSpans": [{"scope": {"name": "hand-written", "version": "1.0"}, "spans": spans}],
                "schemaUrl": "https://opentelemetry.io/schemas/1.26.0",
                "someFutureField": {"ignored": True},
            }
        ]
    }


def tool_attrs(name: str, args: dict[str, Any], result: str) -> list[dict[str, Any]]:
    return [
        s("gen_ai.operation.name", "execute_tool"),
        s("gen_ai.tool.name", name),
        s("gen_ai.tool.call.arguments", json.dumps(args)),
        s("gen_ai.tool.call.result", result),
    ]


def test_otlp_json_by_hand_hex_ids_int64_strings_enums(stub: StubServer) -> None:
    agent = json_span(0x0102030405060708, None, "invoke_agent a", [s("gen_ai.operation.name", "invoke_agent")])
    outer = json_span(
        0x1111111111111111, 0x0102030405060708, "execute_tool plan", tool_attrs("plan", {"goal": "x"}, "ok")
    )
    inner = json_span(
        0x2222222222222222,
        0x1111111111111111,
        "execute_tool fetch",
        [
            *tool_attrs("fetch", {"url": "https://example.com"}, "<html>"),
            {"key": "http.status_code", "value": {"intValue": "200"}},
            {"key": "retries", "value": {"intValue": 2}},
            {"key": "ratio", "value": {"doubleValue": 0.5}},
            {"key": "cached", "value": {"boolValue": False}},
            {"key": "tags", "value": {"arrayValue": {"values": [{"stringValue": "a"}, {"intValue": "7"}]}}},
        ],
        kind=3,
        status={"code": 2, "message": "upstream timeout"},
        events=[{"name": "retry", "timeUnixNano": "1700000000100000000", "attributes": [s("attempt", "1")]}],
        droppedAttributesCount=0,
    )
    # children first, in separate requests: ids must be read as hex to nest at all
    with running_sidecar(stub) as (sidecar, exporter):
        for span in (inner, outer, agent):
            doc = json_request([span], service_name="json-svc", deployment_environment="staging")
            response = httpx.post(sidecar.traces_url, json=doc)
            assert response.status_code == 200, response.text
            assert response.headers["Content-Type"].startswith("application/json")
            assert response.json() == {}
        assert exporter.force_flush(10_000)
    assert tree_of(stub) == {"plan": None, "fetch": "plan"}
    fetch = logs_by_path(stub)["fetch"][0]
    otel = fetch["metadata"]["otel"]
    assert otel["trace_id"] == TRACE
    assert otel["span_id"] == "2222222222222222"
    assert otel["parent_span_id"] == "1111111111111111"
    assert otel["span_kind"] == "CLIENT"
    assert otel["service_name"] == "json-svc"
    assert otel["scope"] == "hand-written"
    assert fetch["error"] == "upstream timeout"
    assert fetch["inputs"] == {"url": "https://example.com"}
    assert fetch["start_time"] == "2023-11-14T22:13:20.000000Z"
    assert fetch["end_time"] == "2023-11-14T22:13:20.250000Z"
    assert fetch["metadata"]["attributes"] == {
        "http.status_code": 200,
        "retries": 2,
        "ratio": 0.5,
        "cached": False,
        "tags": ["a", 7],
    }
    assert "retry" in fetch["stdout"]
    assert fetch["environment"] == "staging"


def test_otlp_json_gzip_and_partial_success_for_invalid_ids(stub: StubServer) -> None:
    import gzip

    good = json_span(0x3333333333333333, None, "execute_tool ok", tool_attrs("ok_tool", {}, "fine"))
    bad_trace = json_span(0x4444444444444444, None, "execute_tool bad", tool_attrs("bad_tool", {}, "x"), traceId="abc")
    zero_span = json_span(0, None, "execute_tool zero", tool_attrs("zero_tool", {}, "x"))
    base64_ids = json_span(5, None, "execute_tool b64", tool_attrs("b64_tool", {}, "x"), spanId="AQIDBAUGBwg=")
    body = gzip.compress(json.dumps(json_request([good, bad_trace, zero_span, base64_ids])).encode())
    with running_sidecar(stub) as (sidecar, exporter):
        response = httpx.post(
            sidecar.traces_url, content=body, headers={"Content-Type": "application/json", "Content-Encoding": "gzip"}
        )
        assert response.status_code == 200
        partial = response.json()["partialSuccess"]
        assert partial["rejectedSpans"] == "3"
        assert "invalid trace_id" in partial["errorMessage"] and "invalid span_id" in partial["errorMessage"]
        assert exporter.force_flush(10_000)
        assert healthy(sidecar)
        assert json.loads(httpx.get(f"{sidecar.url}/healthz").text)["sidecar"]["spans_rejected"] == 3
    assert set(logs_by_path(stub)) == {"ok_tool"}


def test_protobuf_partial_success_for_invalid_ids(stub: StubServer) -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    request = ExportTraceServiceRequest()
    scope_spans = request.resource_spans.add().scope_spans.add()
    for trace_id, span_id in [(b"\x01" * 16, b"\x02" * 8), (b"\x01" * 15, b"\x03" * 8), (b"\x01" * 16, b"")]:
        span = scope_spans.spans.add(trace_id=trace_id, span_id=span_id, name="execute_tool t")
        kv = span.attributes.add(key="gen_ai.operation.name")
        kv.value.string_value = "execute_tool"
        kv = span.attributes.add(key="gen_ai.tool.name")
        kv.value.string_value = f"tool_{span_id.hex() or 'none'}"
    with running_sidecar(stub) as (sidecar, exporter):
        response = httpx.post(
            sidecar.traces_url,
            content=request.SerializeToString(),
            headers={"Content-Type": "application/x-protobuf"},
        )
        assert response.status_code == 200
        parsed = ExportTraceServiceResponse.FromString(response.content)
        assert parsed.partial_success.rejected_spans == 2
        assert "invalid trace_id" in parsed.partial_success.error_message
        assert exporter.force_flush(10_000)
    assert set(logs_by_path(stub)) == {"tool_0202020202020202"}


# ============================================================================ overload
@pytest.mark.slow
def test_full_queue_answers_503_with_retry_after_and_the_real_client_retries(
    stub: StubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    spans = record_demo_spans()
    with running_sidecar(stub) as (sidecar, exporter):
        inbox = pipeline_of(exporter).inbox
        real_has_room = inbox.has_room
        full_for = {"calls": 2}

        def has_room(n: int = 1) -> bool:  # the queue is full for the first two checks
            if full_for["calls"] > 0:
                full_for["calls"] -= 1
                return False
            return real_has_room(n)

        monkeypatch.setattr(inbox, "has_room", has_room)
        response = httpx.post(
            sidecar.traces_url, content=_protobuf_body(spans), headers={"Content-Type": "application/x-protobuf"}
        )
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "2"
        assert healthy(sidecar)
        # the real OTLP exporter honours 503 + Retry-After and succeeds once there is room
        otlp = OTLPSpanExporter(endpoint=sidecar.traces_url, timeout=30)
        assert otlp.export(spans) is SpanExportResult.SUCCESS
        otlp.shutdown()
        assert exporter.force_flush(10_000)
    assert_demo_logs(stub)


# ============================================================================ the CLI process
def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(url: str, proc: subprocess.Popen[str], deadline: float = 20.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited early: {proc.communicate()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("serve did not become healthy")


def test_serve_command_delivers_drains_on_sigterm_and_a_restart_keeps_nesting(stub: StubServer, tmp_path: Path) -> None:
    """``otel-tool-exporter serve`` as a user runs it. A child still waiting for its parent at
    SIGTERM stays in the spool; the next ``serve`` on that spool nests it once the parent comes."""
    port = _free_port()
    env = {**os.environ, "HUMANLOOP_API_KEY": "test-key", "OTEL_TOOL_EXPORTER_AUTH_TOKEN": "s3cret"}
    cmd = [sys.executable, "-m", "otel_tool_exporter.cli", "serve", "--port", str(port), "--base-url", stub.base_url]
    cmd += ["--spool-dir", str(tmp_path / "spool"), "--path-prefix", "svc/"]
    url = f"http://127.0.0.1:{port}"
    spans = record_demo_spans()
    research = next(s for s in spans if s.name == "execute_tool research")
    without_research = [s for s in spans if s is not research]

    def run(batch: list[Any], *, check_auth: bool = False) -> tuple[str, str]:
        with running(cmd, env) as proc:
            _wait_healthy(url, proc)
            if check_auth:  # no token, no entry
                assert OTLPSpanExporter(endpoint=f"{url}/v1/traces").export(spans[:1]) is SpanExportResult.FAILURE
            otlp = OTLPSpanExporter(endpoint=f"{url}/v1/traces", headers={"Authorization": "Bearer s3cret"})
            assert otlp.export(batch) is SpanExportResult.SUCCESS
            if not check_auth:
                deadline = time.monotonic() + 10
                while "svc/search_web" not in logs_by_path(stub) and time.monotonic() < deadline:
                    time.sleep(0.05)
            out, err = stop(proc)
        assert proc.returncode == 0, err
        assert "draining" in out and "stopped" in out
        assert "spool on (" in out
        assert "s3cret" not in out + err
        return out, err

    run(without_research, check_auth=True)
    by_path = logs_by_path(stub)
    assert set(by_path) == {f"svc/{t}" for t in DEMO_TOOLS - {"research", "search_web"}}, "search_web waits on disk"

    run([research])  # the parent arrives at the next process
    by_path = logs_by_path(stub)
    assert set(by_path) == {f"svc/{t}" for t in DEMO_TOOLS}
    child, parent = by_path["svc/search_web"][0], by_path["svc/research"][0]
    assert child["trace_parent_id"] == parent["id"]
    assert "unresolved_parent" not in child["metadata"]["otel"]


def test_serve_reports_bad_configuration_clearly(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "HUMANLOOP_API_KEY"}
    env.pop("HUMANLOOP_BASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "otel_tool_exporter.cli", "serve", "--spool-dir", str(tmp_path), "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "HUMANLOOP_API_KEY" in result.stderr


def test_serve_without_the_sidecar_extra_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    from otel_tool_exporter.cli import build_parser

    real_import = builtins.__import__

    def no_proto(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("opentelemetry.proto"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    args = build_parser().parse_args(["serve"])
    monkeypatch.setattr(builtins, "__import__", no_proto)
    messages: list[str] = []
    monkeypatch.setattr(
        sys, "stderr", type("W", (), {"write": lambda self, m: messages.append(m), "flush": lambda self: None})()
    )
    assert args.func(args) == 2
    assert "pip install 'opentelemetry-proto>=1.27'" in "".join(messages)  # on PyPI: works however we were installed


def test_healthz_without_the_token_answers_status_only(stub: StubServer) -> None:
    """With --auth-token set, anyone may ask whether the sidecar lives; its counters need the token."""
    with running_sidecar(stub, SidecarConfig(auth_token="s3cret")) as (sidecar, _):
        anonymous = httpx.get(f"{sidecar.url}/healthz", timeout=5)
        wrong = httpx.get(f"{sidecar.url}/healthz", headers={"Authorization": "Bearer nope"}, timeout=5)
        allowed = httpx.get(f"{sidecar.url}/healthz", headers={"Authorization": "Bearer s3cret"}, timeout=5)
    assert anonymous.status_code == wrong.status_code == allowed.status_code == 200
    assert anonymous.json() == wrong.json() == {"status": "ok"}
    assert set(allowed.json()) == {"status", "spool", "sidecar", "exporter"}
    assert set(allowed.json()["sidecar"]) == {
        "responses",
        "requests_by_format",
        "spans_accepted",
        "spans_rejected",
        "draining",
        "connections_refused",
        "connections_cut_for_slow_head",
    }
