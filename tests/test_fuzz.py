"""Property-based tests: no attribute map can make recognition, schema learning or mapping raise,
and every request that comes out validates (SPEC §2, §3 "no value can make mapping raise").

Spans are built from every OTel attribute value type, huge strings, broken and cut-off JSON,
NaN/±Infinity, bytes, deep nesting and odd unicode (lone surrogates, NUL, RTL marks), with keys
drawn mostly from the keys the conventions read, so the recognisers' own paths are exercised.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from otel_tool_exporter._internal.build.conventions import ConventionRegistry, default_recognisers
from otel_tool_exporter._internal.build.mapping import map_tool_span
from otel_tool_exporter._internal.build.redaction import Redactor
from otel_tool_exporter._internal.build.schemas import SchemaMemory
from otel_tool_exporter._internal.build.values import salvage_json
from otel_tool_exporter._internal.limits import cap_request
from otel_tool_exporter._internal.spans import EventRecord, SpanRecord
from otel_tool_exporter.models import ToolLogRequest

CONVENTION_KEYS = [
    "gen_ai.operation.name",
    "gen_ai.tool.name",
    "gen_ai.tool.call.arguments",
    "gen_ai.tool.call.result",
    "gen_ai.tool.call.id",
    "gen_ai.tool.description",
    "gen_ai.tool.json_schema",
    "gen_ai.tool.definitions",
    "gen_ai.output.messages",
    "gen_ai.system",
    "gen_ai.prompt",
    "gen_ai.completion",
    "gcp.vertex.agent.tool_call_args",
    "gcp.vertex.agent.tool_response",
    "gcp.vertex.agent.llm_request",
    "gcp.vertex.agent.llm_response",
    "tool_arguments",
    "tool_response",
    "logfire.msg",
    "openinference.span.kind",
    "tool.name",
    "tool.description",
    "tool.parameters",
    "tool.id",
    "input.value",
    "input.mime_type",
    "output.value",
    "output.mime_type",
    "llm.tools.0.tool.json_schema",
    "llm.tools.1.tool.json_schema",
    "llm.output_messages.0.message.role",
    "llm.output_messages.0.message.tool_calls.0.tool_call.id",
    "llm.output_messages.0.message.tool_calls.0.tool_call.function.name",
    "traceloop.span.kind",
    "traceloop.entity.name",
    "traceloop.entity.input",
    "traceloop.entity.output",
    "ai.operationId",
    "ai.toolCall.name",
    "ai.toolCall.args",
    "ai.toolCall.result",
    "ai.toolCall.id",
    "ai.prompt.tools",
    "ai.response.toolCalls",
    "langfuse.observation.type",
    "langfuse.observation.input",
    "langfuse.observation.output",
    "langfuse.observation.level",
    "langfuse.observation.status_message",
    "mlflow.spanType",
    "mlflow.spanInputs",
    "mlflow.spanOutputs",
    "langsmith.span.kind",
    "agentops.span.kind",
    "agentops.entity.input",
    "braintrust.span_attributes",
    "braintrust.span_attributes.type",
    "braintrust.input_json",
    "humanloop.file.type",
    "humanloop.file.path",
    "humanloop.file.function.name",
    "humanloop.file.function.parameters.type",
    "humanloop.log.inputs",
    "humanloop.log.inputs.city",
    "humanloop.log.output",
    "humanloop.log.error",
    "humanloop.log.trace_parent_id",
    "humanloop.log.save",
    "humanloop.log.provider_request",
    "humanloop.version_id",
    "user.id",
    "error.type",
]
MARKER_VALUES = ["execute_tool", "TOOL", "tool", '"TOOL"', "ai.toolCall", '{"type": "tool"}', "LLM", "chat"]
SPAN_NAMES = [
    "execute_tool get_weather",
    "execute_tool (merged)",
    "execute_tool ",
    "execute_tool",
    "running tool",
    "ai.toolCall",
    "humanloop.tool",
    "get_weather.tool",
    "",
]

odd_text = st.text(alphabet=st.characters(blacklist_categories=()), max_size=40)
huge_text = st.builds(lambda s, n: s * n, st.text(min_size=1, max_size=4), st.integers(2_000, 60_000))
json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | odd_text,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            odd_text
            | st.sampled_from(
                [
                    "args",
                    "kwargs",
                    "content",
                    "result",
                    "output",
                    "type",
                    "data",
                    "text",
                    "input_str",
                    "inputs",
                    "tool_call_id",
                    "id",
                    "name",
                    "function",
                    "arguments",
                ]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=20,
)


@st.composite
def json_text(draw: st.DrawFn) -> str:
    """JSON documents as instrumentations write them: whole, cut off, quoted twice, or deep."""
    doc = json.dumps(draw(json_like))
    kind = draw(st.sampled_from(["whole", "cut", "twice", "deep", "broken"]))
    if kind == "cut":
        return doc[: draw(st.integers(0, len(doc)))]
    if kind == "twice":
        return json.dumps(doc)
    if kind == "deep":
        depth = draw(st.integers(50, 3000))
        return "[" * depth + doc + "]" * draw(st.integers(0, depth))
    if kind == "broken":
        return doc.replace('"', "", 1) + draw(st.sampled_from(["}", "]", ",", ":", "\\", '"']))
    return doc


scalar = (
    odd_text
    | huge_text
    | json_text()
    | st.sampled_from(MARKER_VALUES)
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.integers()  # beyond int64, as a buggy producer might hand over
    | st.floats()  # NaN and ±Infinity included
    | st.binary(max_size=30)
)
attr_value = scalar | st.lists(scalar, max_size=4).map(tuple)
attr_key = st.sampled_from(CONVENTION_KEYS) | odd_text
attributes = st.dictionaries(attr_key, attr_value, max_size=12)
events = st.lists(
    st.builds(
        EventRecord,
        name=st.sampled_from(
            ["gen_ai.tool.message", "gen_ai.choice", "exception", "gen_ai.client.inference.operation.details", "log"]
        )
        | odd_text,
        time_unix_nano=st.integers(0, 2**64),
        attributes=st.dictionaries(
            st.sampled_from(
                [
                    "content",
                    "message",
                    "id",
                    "exception.type",
                    "exception.message",
                    "gen_ai.input.messages",
                    "gen_ai.output.messages",
                ]
            )
            | odd_text,
            attr_value,
            max_size=4,
        ),
    ),
    max_size=4,
).map(tuple)


# one real marker per convention, so every recogniser's content paths are reached
MARKERS: list[tuple[str | None, dict[str, Any]]] = [
    (None, {"gen_ai.operation.name": "execute_tool"}),
    ("running tool", {"gen_ai.tool.name": "t"}),
    (None, {"openinference.span.kind": "TOOL"}),
    (None, {"traceloop.span.kind": "tool"}),
    ("ai.toolCall", {"ai.toolCall.name": "t"}),
    (None, {"langfuse.observation.type": "tool"}),
    (None, {"mlflow.spanType": '"TOOL"'}),
    (None, {"langsmith.span.kind": "tool"}),
    (None, {"agentops.span.kind": "tool"}),
    (None, {"braintrust.span_attributes": '{"type": "tool"}'}),
    ("humanloop.tool", {}),
    (None, {}),
]


@st.composite
def spans(draw: st.DrawFn) -> SpanRecord:
    start = draw(st.integers(0, 2**64))
    seed_name, seed_attrs = draw(st.sampled_from(MARKERS))
    attrs = {**draw(attributes), **seed_attrs} if draw(st.booleans()) else {**seed_attrs, **draw(attributes)}
    return SpanRecord(
        trace_id=draw(st.integers(1, 2**128 - 1)),
        span_id=draw(st.integers(1, 2**64 - 1)),
        parent_span_id=draw(st.none() | st.integers(1, 2**64 - 1)),
        name=seed_name if seed_name is not None else draw(st.sampled_from(SPAN_NAMES) | odd_text),
        kind=draw(st.sampled_from(["INTERNAL", "CLIENT", "SERVER"])),
        start_time_unix_nano=start,
        end_time_unix_nano=draw(st.integers(0, 2**64)),
        status_code=draw(st.sampled_from(["UNSET", "OK", "ERROR"])),
        status_description=draw(st.none() | odd_text),
        attributes=attrs,
        events=draw(events),
        resource_attributes=draw(
            st.dictionaries(
                st.sampled_from(["service.name", "deployment.environment"]) | odd_text, attr_value, max_size=3
            )
        ),
        scope_name=draw(st.none() | st.sampled_from(["gcp.vertex.agent", "strands.telemetry.tracer"]) | odd_text),
        scope_version=draw(st.none() | odd_text),
    )


def _check_request(request: ToolLogRequest) -> None:
    body = request.to_dict()
    json.dumps(body, allow_nan=False)  # sendable JSON: no NaN, no unencodable text
    json.dumps(body, ensure_ascii=False).encode("utf-8")
    ToolLogRequest.model_validate(body)
    assert body["tool"]["function"]["name"]


FUZZ = settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


@pytest.mark.slow
@FUZZ
@given(span=spans())
def test_recognisers_and_mapping_never_raise_and_requests_validate(span: SpanRecord) -> None:
    memory = SchemaMemory()
    memory.learn(span)  # never raises, whatever the span
    for recogniser in default_recognisers():  # each one directly: the registry would hide a raise
        call = recogniser.recognise(span)
        recogniser.matches_at_start(span.name, span.attributes)  # type: ignore[attr-defined]
        if call is None:
            continue
        assert isinstance(call.name, str)  # may be empty: mapping then names the Tool "unnamed_tool"
        assert call.consumed <= set(span.attributes)
        assert all(0 <= i < len(span.events) for i in call.consumed_events)
        memory.call_id_for(span.trace_id, call.name, call.arguments)
        mapped = map_tool_span(span, call, path_prefix="fuzz/", schema_hint=memory.lookup(span.trace_id, call.name))
        _check_request(mapped.request)
        Redactor(["api_key", "token", "password"]).apply(mapped.request)
        _check_request(mapped.request)
        cap_request(mapped.request, 2048)
        _check_request(mapped.request)


@pytest.mark.slow
@FUZZ
@given(span=spans())
def test_registry_recognises_every_span_without_raising(span: SpanRecord) -> None:
    registry = ConventionRegistry(is_tool_span=lambda s: bool(s.attributes.get("user.id")))
    registry.looks_like_tool(span.name, span.attributes)
    call = registry.recognise(span)
    if call is not None:
        _check_request(map_tool_span(span, call).request)


def test_pseudo_tool_and_placeholder_ids_under_any_attributes() -> None:
    """The named traps stay handled whatever else the span carries."""
    registry = ConventionRegistry()
    merged = SpanRecord(
        trace_id=1,
        span_id=2,
        parent_span_id=None,
        name="execute_tool (merged)",
        attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "(merged tools)"},
    )
    assert registry.recognise(merged) is None
    assert not registry.looks_like_tool(merged.name, merged.attributes)
    placeholder = SpanRecord(
        trace_id=1,
        span_id=3,
        parent_span_id=None,
        name="execute_tool t",
        attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.call.id": "<not specified>"},
    )
    call = registry.recognise(placeholder)
    assert call is not None and call.name == "t" and call.call_id is None


@settings(max_examples=300, deadline=None)
@given(doc=json_like, cut=st.integers(min_value=0))
def test_salvaged_json_is_a_prefix_of_the_original(doc: Any, cut: int) -> None:
    text = json.dumps(doc)
    value, salvaged = salvage_json(text[: cut % (len(text) + 1)])
    if not salvaged:
        return
    assert isinstance(value, (dict, list))
    _assert_prefix(value, doc)


def _assert_prefix(part: Any, whole: Any) -> None:
    """Every salvaged container holds a prefix of the original's members, values intact or cut."""
    if isinstance(part, dict):
        assert isinstance(whole, dict)
        assert list(part) == list(whole)[: len(part)]
        for key, value in part.items():
            _assert_prefix(value, whole[key])
    elif isinstance(part, list):
        assert isinstance(whole, list) and len(part) <= len(whole)
        for a, b in zip(part, whole, strict=False):
            _assert_prefix(a, b)
    elif isinstance(part, float) and math.isnan(part):
        pass
    elif isinstance(part, str) and part.endswith("…") and part != whole:
        assert isinstance(whole, str) and whole.startswith(part[:-1])  # a string cut at the limit
    else:
        assert part == whole
