"""The sidecar's edge: OTLP → SpanRecord, checked against the SDK's own conversion, and fuzzed.

The decoder runs on untrusted bytes, so the property that matters is: whatever comes in, it
returns a result or raises ``DecodeError`` — nothing else, ever.
"""

from __future__ import annotations

import gzip
import json
import math
import zlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

from otel_tool_exporter._internal.body import GZIP, BodyTooLarge, BoundedInflater, MalformedBody
from otel_tool_exporter._internal.build.builder import Builder
from otel_tool_exporter._internal.build.mapping import EXPLICIT_PARENT_KEY
from otel_tool_exporter._internal.spans import SpanRecord
from otel_tool_exporter._internal.spans.otlp import (
    DecodeError,
    DecodeResult,
    decode_json,
    decode_protobuf,
    encode_response,
)
from otel_tool_exporter._internal.spans.sdk import OrdinaryEnd
from otel_tool_exporter.settings import Settings

from .test_sidecar import record_demo_spans


def _sdk_spans() -> list[Any]:
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "decode-test", "deployment.environment": "ci"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("decode.scope", "9.9")
    with tracer.start_as_current_span("root", kind=SpanKind.SERVER) as root:
        root.set_attributes({"s": "x", "b": True, "i": -(2**63), "f": 1.5, "nan": math.nan, "arr": [1, 2, 3]})
        with tracer.start_as_current_span("child", kind=SpanKind.CONSUMER) as child:
            child.add_event("evt", {"k": "v", "n": 3})
            child.set_status(Status(StatusCode.ERROR, "broken"))
            child.record_exception(ValueError("bad"))
    provider.shutdown()
    return [*memory.get_finished_spans(), *record_demo_spans()]


def _comparable(record: SpanRecord) -> dict[str, Any]:
    def norm(value: Any) -> Any:
        if isinstance(value, float) and math.isnan(value):
            return "NaN"
        if isinstance(value, (list, tuple)):
            return [norm(v) for v in value]
        if isinstance(value, dict):
            return {k: norm(v) for k, v in value.items()}
        return value

    return {
        "ids": (record.trace_id, record.span_id, record.parent_span_id),
        "name": record.name,
        "kind": record.kind,
        "times": (record.start_time_unix_nano, record.end_time_unix_nano),
        "status": (record.status_code, record.status_description),
        "attributes": norm(dict(record.attributes)),
        "events": [(e.name, e.time_unix_nano, norm(dict(e.attributes))) for e in record.events],
        "resource": norm(dict(record.resource_attributes)),
        # proto3 cannot tell an empty string from unset: the SDK's '' version arrives as None
        "scope": (record.scope_name or None, record.scope_version or None),
    }


def test_protobuf_decodes_to_exactly_what_the_sdk_span_converts_to() -> None:
    spans = _sdk_spans()
    result = decode_protobuf(encode_spans(spans).SerializeToString())
    assert not result.rejected
    decoded = {r.key: _comparable(r) for r in result.spans}
    expected = {SpanRecord.from_readable(s).key: _comparable(SpanRecord.from_readable(s)) for s in spans}
    assert decoded == expected
    kinds = {r.name: r.kind for r in result.spans}
    assert kinds["root"] == "SERVER" and kinds["child"] == "CONSUMER"


def _pb_span_json(record: SpanRecord, **over: Any) -> dict[str, Any]:
    span = {
        "traceId": record.trace_id_hex,
        "spanId": record.span_id_hex,
        "name": record.name,
        "startTimeUnixNano": str(record.start_time_unix_nano),
        "endTimeUnixNano": str(record.end_time_unix_nano),
    }
    span.update(over)
    return span


def _one(doc_span: dict[str, Any], **resource: Any) -> SpanRecord:
    result = decode_json(json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [doc_span]}], **resource}]}).encode())
    assert not result.rejected, result.error_message()
    (record,) = result.spans
    return record


BASE = SpanRecord(
    trace_id=0x0AF7651916CD43DD8448EB211C80319C, span_id=0xB7AD6B7169203331, parent_span_id=None, name="n"
)


def test_json_ids_are_hex_not_base64() -> None:
    record = _one(_pb_span_json(BASE, parentSpanId="00f067aa0ba902b7"))
    assert record.trace_id_hex == "0af7651916cd43dd8448eb211c80319c"
    assert record.span_id_hex == "b7ad6b7169203331"
    assert record.parent_span_id_hex == "00f067aa0ba902b7"
    upper = _one(_pb_span_json(BASE, traceId="0AF7651916CD43DD8448EB211C80319C"))
    assert upper.trace_id == BASE.trace_id
    assert _one(_pb_span_json(BASE, parentSpanId="0000000000000000")).parent_span_id is None


def test_json_int64_as_strings_or_numbers_and_enums_as_integers_or_names() -> None:
    as_strings = _one(_pb_span_json(BASE, startTimeUnixNano="1700000000000000001", kind=2, status={"code": 2}))
    as_numbers = _one(
        _pb_span_json(
            BASE,
            startTimeUnixNano=1700000000000000001,
            kind="SPAN_KIND_SERVER",
            status={"code": "STATUS_CODE_ERROR"},
        )
    )
    for record in (as_strings, as_numbers):
        assert record.start_time_unix_nano == 1700000000000000001
        assert record.kind == "SERVER" and record.status_code == "ERROR"
    assert _one(_pb_span_json(BASE, kind=99)).kind == "INTERNAL"
    assert _one(_pb_span_json(BASE, kind=0)).kind == "INTERNAL"


def test_json_snake_case_names_and_unknown_fields() -> None:
    doc = {
        "trace_id": BASE.trace_id_hex,
        "span_id": BASE.span_id_hex,
        "name": "snake",
        "start_time_unix_nano": 5,
        "flags": 257,
        "links": [{"traceId": "zz"}],  # links are not used: not validated either
        "brandNewField": {"x": [1, 2]},
        "attributes": [{"key": "a", "value": {"string_value": "b"}}, {"key": "c", "value": {"newType": 1}}],
    }
    record = _one(doc, resource={"attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}]}, extra=1)
    assert record.name == "snake" and record.start_time_unix_nano == 5 and record.end_time_unix_nano == 5
    assert dict(record.attributes) == {"a": "b", "c": None}
    assert record.resource_attributes == {"service.name": "svc"}


def test_json_any_values() -> None:
    attrs = [
        {"key": "bytes", "value": {"bytesValue": "AQID"}},
        {"key": "nan", "value": {"doubleValue": "NaN"}},
        {"key": "inf", "value": {"doubleValue": "-Infinity"}},
        {"key": "big", "value": {"intValue": "9223372036854775807"}},
        {"key": "too_big", "value": {"intValue": "9223372036854775808"}},
        {"key": "wrong_type", "value": {"boolValue": "yes"}},
        {"key": "kv", "value": {"kvlistValue": {"values": [{"key": "x", "value": {"intValue": 1}}]}}},
        {"key": "empty_array", "value": {"arrayValue": {}}},
        {"key": "bare", "value": "not an AnyValue"},
    ]
    record = _one(_pb_span_json(BASE, attributes=attrs))
    values = dict(record.attributes)
    assert values["bytes"] == b"\x01\x02\x03"
    assert math.isnan(values["nan"]) and values["inf"] == -math.inf
    assert values["big"] == 2**63 - 1
    assert values["too_big"] == '"9223372036854775808"'  # kept as text, not silently wrapped
    assert values["wrong_type"] == '"yes"'
    assert values["kv"] == {"x": 1}
    assert values["empty_array"] == ()
    assert values["bare"] == '"not an AnyValue"'


@pytest.mark.parametrize(
    ("override", "reason"),
    [
        ({"traceId": "AQIDBAUGBwgJCgsMDQ4PEA=="}, "invalid trace_id: not hex"),
        ({"traceId": "0102"}, "invalid trace_id: must be 16 bytes"),
        ({"spanId": ""}, "invalid span_id: must be 8 bytes"),
        ({"spanId": 12}, "invalid span_id: not a hex string"),
        ({"parentSpanId": "0102030405060708090a"}, "invalid parent_span_id: must be 8 bytes or empty"),
        ({"endTimeUnixNano": "-1"}, "invalid endTimeUnixNano: out of range"),
        ({"endTimeUnixNano": True}, "invalid endTimeUnixNano: not an integer"),
        ({"name": 5}, "invalid name: not a string"),
        ({"events": [{"name": "e", "timeUnixNano": "x"}]}, "invalid event timeUnixNano: not an integer"),
        ({"attributes": {"k": "v"}}, "invalid attributes: not a list"),
        ({"status": "ERROR"}, "invalid status: not an object"),
    ],
)
def test_json_bad_span_is_rejected_with_its_reason(override: dict[str, Any], reason: str) -> None:
    good = _pb_span_json(BASE)
    bad = _pb_span_json(BASE, **override)
    result = decode_json(json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [good, bad]}]}]}).encode())
    assert len(result.spans) == 1
    assert list(result.rejected) == [reason]
    assert result.error_message() == f"1 of 2 spans rejected: {reason} (1)"


def test_response_encodings() -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

    result = DecodeResult()
    result.rejected["invalid trace_id: all zeros"] += 2
    assert json.loads(encode_response(result, "json")) == {
        "partialSuccess": {
            "rejectedSpans": "2",
            "errorMessage": "2 of 2 spans rejected: invalid trace_id: all zeros (2)",
        }
    }
    parsed = ExportTraceServiceResponse.FromString(encode_response(result, "protobuf"))
    assert parsed.partial_success.rejected_spans == 2
    assert encode_response(DecodeResult(), "json") == b"{}"
    assert encode_response(DecodeResult(), "protobuf") == b""


# ============================================================================ fuzzing
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
VALID_PB = encode_spans(_sdk_spans()).SerializeToString()


def _decodes_or_refuses(decode: Any, body: bytes) -> DecodeResult | None:
    try:
        result = decode(body)
    except DecodeError:
        return None
    for record in result.spans:
        assert 0 < record.trace_id < 2**128 and 0 < record.span_id < 2**64
        assert record.parent_span_id is None or 0 < record.parent_span_id < 2**64
        assert isinstance(record.name, str) and isinstance(record.attributes, dict)
        assert record.start_time_unix_nano >= 0 and record.end_time_unix_nano >= 0
    return result


@FUZZ
@given(st.binary(max_size=2048))
def test_fuzz_protobuf_random_bytes(body: bytes) -> None:
    _decodes_or_refuses(decode_protobuf, body)


@FUZZ
@given(st.data())
def test_fuzz_protobuf_mutations_of_a_valid_request(data: st.DataObject) -> None:
    body = bytearray(VALID_PB)
    for _ in range(data.draw(st.integers(1, 8))):
        op = data.draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        at = data.draw(st.integers(0, max(0, len(body) - 1)))
        if op == "flip" and body:
            body[at] = data.draw(st.integers(0, 255))
        elif op == "cut":
            del body[at:]
        elif op == "insert":
            body[at:at] = data.draw(st.binary(min_size=1, max_size=16))
        elif op == "delete" and body:
            del body[at : at + data.draw(st.integers(1, 16))]
    _decodes_or_refuses(decode_protobuf, bytes(body))


KEYS = st.sampled_from(
    [
        "resourceSpans", "scopeSpans", "spans", "resource", "scope", "attributes", "key", "value", "traceId",
        "spanId", "parentSpanId", "name", "kind", "startTimeUnixNano", "endTimeUnixNano", "status", "code",
        "message", "events", "timeUnixNano", "stringValue", "intValue", "doubleValue", "boolValue", "bytesValue",
        "arrayValue", "kvlistValue", "values", "version", "trace_id", "span_id", "resource_spans", "x",
    ]
)  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(["0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", "0" * 32, "NaN", "1700000000000000000"]),
)
JSONISH = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=6), max_leaves=60
)


def _otlp_shaped(span: Any) -> dict[str, Any]:
    return {"resourceSpans": [{"resource": span, "scopeSpans": [{"scope": span, "spans": [span, span]}]}]}


@FUZZ
@given(JSONISH)
def test_fuzz_json_structures(doc: Any) -> None:
    for candidate in (doc, _otlp_shaped(doc)):
        body = json.dumps(candidate, allow_nan=True).encode()
        _decodes_or_refuses(decode_json, body)


@FUZZ
@given(st.binary(max_size=1024))
def test_fuzz_json_random_bytes(body: bytes) -> None:
    _decodes_or_refuses(decode_json, body)


@FUZZ
@given(st.binary(max_size=4096), st.integers(0, 200), st.integers(16, 4096))
def test_fuzz_inflater_never_exceeds_its_cap(payload: bytes, cut: int, cap: int) -> None:
    for body in (payload, gzip.compress(payload)[: len(payload) + 30 - cut]):
        inflater = BoundedInflater(GZIP, cap)
        try:
            for i in range(0, len(body), 97):
                inflater.feed(body[i : i + 97])
            out = inflater.finish()
        except (BodyTooLarge, MalformedBody):
            continue
        assert len(out) <= cap
        assert out == zlib.decompress(body, GZIP)[:cap] or len(payload) > cap


def test_spans_that_cannot_matter_are_read_as_ids_only_and_nothing_else_changes() -> None:
    """With the builder's judgement, an ordinary span becomes its ids (and explicit parent); a
    tool span, or one that teaches tool definitions, is read whole — exactly as without it."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("invoke_agent", attributes={EXPLICIT_PARENT_KEY: "fl_42"}):
        with tracer.start_as_current_span("GET /items", attributes={"http.request.method": "GET"}):
            with tracer.start_as_current_span(
                "execute_tool get_weather",
                attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "get_weather"},
            ):
                pass
    provider.shutdown()
    body = encode_spans(memory.get_finished_spans()).SerializeToString()
    builder = Builder(Settings(api_key="k", base_url="http://127.0.0.1:1/v5"))

    whole = decode_protobuf(body).spans
    light = decode_protobuf(body, builder.may_matter, EXPLICIT_PARENT_KEY).spans
    assert [type(span) for span in light] == [SpanRecord, OrdinaryEnd, OrdinaryEnd]  # end order
    assert light[0] == whole[0]
    for record, ids in zip(whole[1:], light[1:], strict=True):
        assert isinstance(record, SpanRecord) and isinstance(ids, OrdinaryEnd)
        assert (ids.trace_id, ids.span_id, ids.parent_span_id) == (
            record.trace_id,
            record.span_id,
            record.parent_span_id,
        )
    assert [getattr(span, "explicit_parent", None) for span in light[1:]] == [None, "fl_42"]

    broken = ExportTraceServiceRequest.FromString(body)
    broken.resource_spans[0].scope_spans[0].spans[1].span_id = b"\0" * 8
    bad = broken.SerializeToString()
    assert decode_protobuf(bad, builder.may_matter, EXPLICIT_PARENT_KEY).rejected == decode_protobuf(bad).rejected
