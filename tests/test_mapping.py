"""SPEC §3: one finished tool span → one Log request, row by row, plus hostile input.

Spans go through the real recogniser registry and then ``map_tool_span``, exactly as the
pipeline does, so each test shows what a user would find in the Log.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import pytest

from otel_tool_exporter._internal.build.conventions import ConventionRegistry, ToolCall, ToolSchemaHint
from otel_tool_exporter._internal.build.mapping import MappedLog, map_tool_span
from otel_tool_exporter._internal.spans import EventRecord, SpanRecord
from otel_tool_exporter.models import ToolLogRequest

START = 1_700_000_000_123_456_000  # 2023-11-14T22:13:20.123456Z
END = START + 1_500_000_000  # 1.5 s later
TRACE = 0x0AF7651916CD43DD8448EB211C80319C
SPAN = 0xB7AD6B7169203331
PARENT = 0x00F067AA0BA902B7


def genai_attrs(name: str = "get_weather", **extra: Any) -> dict[str, Any]:
    return {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name, **extra}


def make_span(
    attributes: Mapping[str, Any] | None = None,
    *,
    name: str = "execute_tool get_weather",
    status: str = "UNSET",
    description: str | None = None,
    events: tuple[EventRecord, ...] = (),
    resource: Mapping[str, Any] | None = None,
    scope: str | None = "my.agent",
    start: int = START,
    end: int = END,
) -> SpanRecord:
    return SpanRecord(
        trace_id=TRACE,
        span_id=SPAN,
        parent_span_id=PARENT,
        name=name,
        kind="INTERNAL",
        start_time_unix_nano=start,
        end_time_unix_nano=end,
        status_code=status,
        status_description=description,
        attributes=genai_attrs() if attributes is None else attributes,
        events=events,
        resource_attributes={"service.name": "svc"} if resource is None else resource,
        scope_name=scope,
        scope_version="1.2.3" if scope else None,
    )


def mapped(span: SpanRecord, **kwargs: Any) -> MappedLog:
    call = ConventionRegistry().recognise(span)
    assert call is not None, "test span must be recognised as a tool span"
    result = map_tool_span(span, call, **kwargs)
    # whatever mapping produced must be a body the API accepts
    ToolLogRequest.model_validate(result.request.to_dict())
    json.loads(result.request.to_json_bytes())
    return result


def body(span: SpanRecord, **kwargs: Any) -> dict[str, Any]:
    return mapped(span, **kwargs).request.to_dict()


# ---------------------------------------------------------------------------------------- path
def test_path_is_prefix_plus_tool_name() -> None:
    assert body(make_span(), path_prefix="agents/")["path"] == "agents/get_weather"
    assert body(make_span())["path"] == "get_weather"


def test_path_from_humanloop_file_path_wins_and_is_consumed() -> None:
    out = body(make_span(genai_attrs(**{"humanloop.file.path": "tools/weather"})), path_prefix="agents/")
    assert out["path"] == "tools/weather"
    assert "humanloop.file.path" not in out["metadata"]["attributes"]


# ---------------------------------------------------------------------------------------- tool
SCHEMA = {"properties": {"city": {"type": "string"}}, "type": "object", "required": ["city"]}


def test_tool_kernel_with_description_and_schema_from_sibling_hint() -> None:
    span = make_span(genai_attrs(**{"gen_ai.tool.description": "Weather for a city."}))
    hint = ToolSchemaHint(name="get_weather", description="other", parameters=SCHEMA)
    tool = body(span, schema_hint=hint)["tool"]
    assert tool == {
        "function": {
            "name": "get_weather",
            "description": "Weather for a city.",  # the span's own description wins over the hint
            "parameters": {"properties": {"city": {"type": "string"}}, "required": ["city"], "type": "object"},
        }
    }


def test_tool_kernel_keys_are_canonically_ordered() -> None:
    """Identical tools must serialise identically, whatever order the schema arrived in."""
    reordered = {"required": ["city"], "type": "object", "properties": {"city": {"type": "string"}}}
    a = mapped(make_span(), schema_hint=ToolSchemaHint("get_weather", None, SCHEMA)).request
    b = mapped(make_span(), schema_hint=ToolSchemaHint("get_weather", None, reordered)).request
    dump_a = json.dumps(a.to_dict()["tool"])
    assert dump_a == json.dumps(b.to_dict()["tool"])
    assert list(a.to_dict()["tool"]["function"]["parameters"]) == ["properties", "required", "type"]


def test_tool_schema_from_span_attribute() -> None:
    span = make_span(genai_attrs(**{"gen_ai.tool.json_schema": json.dumps(SCHEMA)}))
    out = body(span)
    assert out["tool"]["function"]["parameters"]["type"] == "object"
    assert "gen_ai.tool.json_schema" not in out["metadata"]["attributes"]


@pytest.mark.parametrize("schema", [{"type": "string"}, {"anyOf": []}, {}])
def test_tool_parameters_only_for_a_json_schema_object(schema: dict[str, Any]) -> None:
    tool = body(make_span(), schema_hint=ToolSchemaHint("get_weather", None, schema))["tool"]
    assert tool == {"function": {"name": "get_weather"}}


def test_tool_without_anything_known_is_just_the_name() -> None:
    assert body(make_span())["tool"] == {"function": {"name": "get_weather"}}


# -------------------------------------------------------------------------------------- inputs
@pytest.mark.parametrize(
    ("arguments", "inputs"),
    [
        ('{"city": "Paris", "days": 3}', {"city": "Paris", "days": 3}),
        ({"already": "decoded"}, {"already": "decoded"}),
        ('{"args": [], "kwargs": {"city": "Paris"}}', {"city": "Paris"}),
        ('{"args": ["Paris", 3], "kwargs": {"unit": "C"}}', {"unit": "C", "args": ["Paris", 3]}),
        ('{"args": [1], "kwargs": {}, "other": 2}', {"args": [1], "kwargs": {}, "other": 2}),
        ("Paris", {"input": "Paris"}),
        ("[1, 2]", {"input": [1, 2]}),
        ("42", {"input": 42}),
        ("", {"input": ""}),
        (("a", "b"), {"input": ["a", "b"]}),  # an OTel sequence attribute
    ],
)
def test_inputs_rules(arguments: Any, inputs: dict[str, Any]) -> None:
    out = body(make_span(genai_attrs(**{"gen_ai.tool.call.arguments": arguments})))
    assert out["inputs"] == inputs
    assert "gen_ai.tool.call.arguments" not in out["metadata"]["attributes"]


def test_truncated_json_arguments_are_not_lost() -> None:
    """Cut-off JSON (OpenLLMetry cuts at the attribute length limit) may be salvaged, but the raw
    text must survive somewhere a user can find it."""
    raw = '{"city": "Paris", "note": "cut he'
    out = body(make_span(genai_attrs(**{"gen_ai.tool.call.arguments": raw})))
    assert isinstance(out["inputs"], dict)
    assert out["inputs"] == {"input": raw} or out["metadata"]["attributes"].get("gen_ai.tool.call.arguments") == raw


def test_inputs_omitted_when_arguments_not_recorded() -> None:
    assert "inputs" not in body(make_span())


# -------------------------------------------------------------------------------------- output
@pytest.mark.parametrize(
    ("result", "output"),
    [
        ("Sunny, 21C", "Sunny, 21C"),
        ('"quoted string"', "quoted string"),  # JSON-quoted text is unquoted, never re-quoted
        ('{"temp": 21, "unit": "C"}', '{"temp":21,"unit":"C"}'),
        ({"b": [1, 2]}, '{"b":[1,2]}'),
        ("[1, 2, 3]", "[1,2,3]"),
        ("42", "42"),
        ("true", "true"),
        ("ünïcødé ✓", "ünïcødé ✓"),
        ('{"text": "ünï"}', '{"text":"ünï"}'),  # non-ASCII stays readable
    ],
)
def test_output_is_text_as_is_or_compact_json(result: Any, output: str) -> None:
    out = body(make_span(genai_attrs(**{"gen_ai.tool.call.result": result})))
    assert out["output"] == output
    assert "gen_ai.tool.call.result" not in out["metadata"]["attributes"]


def test_output_omitted_when_failed_without_result() -> None:
    out = body(make_span(status="ERROR", description="boom"))
    assert "output" not in out
    assert out["error"] == "boom"


def test_output_kept_when_failed_with_a_result() -> None:
    out = body(make_span(genai_attrs(**{"gen_ai.tool.call.result": "partial"}), status="ERROR", description="x"))
    assert out["output"] == "partial"
    assert out["error"] == "x"


# --------------------------------------------------------------------------------------- error
def exception_event(etype: str | None, message: str | None, time: int = START + 10) -> EventRecord:
    attrs: dict[str, Any] = {"exception.stacktrace": "Traceback ..."}
    if etype is not None:
        attrs["exception.type"] = etype
    if message is not None:
        attrs["exception.message"] = message
    return EventRecord("exception", time, attrs)


def test_error_explicit_attribute_wins_over_everything() -> None:
    span = make_span(
        genai_attrs(**{"humanloop.log.error": "explicit", "error.type": "E"}),
        status="ERROR",
        description="desc",
        events=(exception_event("ValueError", "bad"),),
    )
    out = body(span)
    assert out["error"] == "explicit"
    assert "humanloop.log.error" not in out["metadata"]["attributes"]


def test_error_status_description_second() -> None:
    span = make_span(status="ERROR", description="desc", events=(exception_event("ValueError", "bad"),))
    assert body(span)["error"] == "desc"


def test_error_from_first_exception_event_when_no_description() -> None:
    events = (exception_event("ValueError", "bad city"), exception_event("KeyError", "later"))
    assert body(make_span(status="ERROR", events=events))["error"] == "ValueError: bad city"


def test_error_from_exception_event_with_only_a_type() -> None:
    assert body(make_span(status="ERROR", events=(exception_event("TimeoutError", None),)))["error"] == "TimeoutError"


def test_error_from_error_type_attribute() -> None:
    assert body(make_span(genai_attrs(**{"error.type": "timeout"}), status="ERROR"))["error"] == "timeout"


def test_error_status_without_any_description_is_never_empty() -> None:
    out = body(make_span(status="ERROR"))
    assert isinstance(out.get("error"), str) and out["error"].strip()


def test_no_error_for_ok_or_unset_status() -> None:
    """An exception that was caught and recorded does not make the call a failure."""
    assert "error" not in body(make_span(status="OK", events=(exception_event("ValueError", "handled"),)))
    assert "error" not in body(make_span(genai_attrs(**{"error.type": "x"})))


# ------------------------------------------------------------------------------------- timing
def test_times_created_at_and_latency() -> None:
    out = body(make_span())
    assert out["start_time"] == "2023-11-14T22:13:20.123456Z"
    assert out["end_time"] == "2023-11-14T22:13:21.623456Z"
    assert out["created_at"] == out["end_time"]
    assert out["provider_latency"] == pytest.approx(1.5)
    assert isinstance(out["provider_latency"], float)


def test_microseconds_are_exact_for_every_value() -> None:
    """Float rounding must not shift a timestamp by a microsecond."""
    for micros in (0, 1, 499_999, 500_000, 999_999, 123_457):
        start = 1_760_000_000_000_000_000 + micros * 1000 + 999  # sub-microsecond part is dropped
        out = body(make_span(start=start, end=start))
        assert out["start_time"].endswith(f".{micros:06d}Z"), (micros, out["start_time"])


def test_latency_never_negative_on_clock_skew() -> None:
    assert body(make_span(start=END, end=START))["provider_latency"] == 0.0


# ------------------------------------------------------------------------------------- stdout
def test_stdout_from_non_exception_events_only() -> None:
    events = (
        EventRecord("cache miss", START + 1_000, {"key": "paris", "n": 2}),
        exception_event("ValueError", "x"),
        EventRecord("retrying", START + 2_000, {}),
    )
    out = body(make_span(events=events))
    assert out["stdout"].splitlines() == [
        '2023-11-14T22:13:20.123457Z cache miss {"key":"paris","n":2}',
        "2023-11-14T22:13:20.123458Z retrying {}",
    ]


def test_stdout_omitted_without_events() -> None:
    assert "stdout" not in body(make_span(events=(exception_event("E", "m"),)))


def test_stdout_skips_events_consumed_for_arguments() -> None:
    span = make_span(events=(EventRecord("gen_ai.tool.message", START, {"content": "{}"}),))
    call = ToolCall(name="get_weather", convention="genai", arguments={}, consumed_events=frozenset({0}))
    assert map_tool_span(span, call).request.stdout is None


# ----------------------------------------------------------------------------------- metadata
def test_metadata_otel_ids_and_unconsumed_attributes() -> None:
    attrs = genai_attrs(
        **{
            "gen_ai.tool.call.id": "call_1",
            "gen_ai.tool.call.arguments": "{}",
            "custom.flag": True,
            "custom.list": (1, 2),
            "http.status": 200,
        }
    )
    out = body(make_span(attrs))
    otel = out["metadata"]["otel"]
    assert otel["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
    assert otel["span_id"] == "b7ad6b7169203331"
    assert otel["parent_span_id"] == "00f067aa0ba902b7"
    assert otel["span_name"] == "execute_tool get_weather"
    assert otel["span_kind"] == "INTERNAL"
    assert otel["status_code"] == "UNSET"
    assert otel["scope"] == "my.agent"
    assert otel["service_name"] == "svc"
    assert otel["call_id"] == "call_1"
    assert out["metadata"]["attributes"] == {"custom.flag": True, "custom.list": [1, 2], "http.status": 200}


def test_nothing_on_the_span_is_lost() -> None:
    """Every attribute is either mapped to a field or kept in metadata.attributes."""
    attrs = genai_attrs(
        **{
            "gen_ai.tool.call.arguments": '{"a": 1}',
            "gen_ai.tool.call.result": "r",
            "humanloop.log.user": "u",
            "humanloop.log.batch_id": "b",
            "unrelated": "kept",
        }
    )
    out = body(make_span(attrs))
    assert out["metadata"]["attributes"] == {"unrelated": "kept"}
    assert out["user"] == "u" and out["batch_id"] == "b" and out["output"] == "r"


def test_root_span_has_null_parent_and_no_call_id() -> None:
    span = make_span()
    span.parent_span_id = None
    otel = body(span)["metadata"]["otel"]
    assert otel["parent_span_id"] is None
    assert "call_id" not in otel


# ------------------------------------------------------------------------------------- source
def test_source_is_scope_name_else_opentelemetry() -> None:
    assert body(make_span())["source"] == "my.agent"
    assert body(make_span(scope=None))["source"] == "opentelemetry"


# --------------------------------------------------------------------------------------- user
@pytest.mark.parametrize(
    ("present", "expected"),
    [
        (["humanloop.log.user", "user.id", "enduser.id", "langfuse.user.id"], "humanloop.log.user"),
        (["user.id", "enduser.id", "langfuse.user.id"], "user.id"),
        (["enduser.id", "langfuse.user.id"], "enduser.id"),
        (["langfuse.user.id"], "langfuse.user.id"),
    ],
)
def test_user_precedence(present: list[str], expected: str) -> None:
    out = body(make_span(genai_attrs(**{key: f"from {key}" for key in present})))
    assert out["user"] == f"from {expected}"
    assert expected not in out["metadata"]["attributes"]


def test_user_omitted_when_unknown() -> None:
    assert "user" not in body(make_span())


# -------------------------------------------------------------------------------- environment
def test_environment_from_attribute_first() -> None:
    span = make_span(
        genai_attrs(**{"humanloop.log.environment": "staging"}), resource={"deployment.environment.name": "prod"}
    )
    assert body(span)["environment"] == "staging"


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ({"deployment.environment.name": "prod", "deployment.environment": "old"}, "prod"),
        ({"deployment.environment": "old"}, "old"),
        ({}, None),
    ],
)
def test_environment_from_resource(resource: dict[str, Any], expected: str | None) -> None:
    assert body(make_span(resource=resource)).get("environment") == expected


# ------------------------------------------------------------------------ humanloop.log.* fields
def test_humanloop_log_fields() -> None:
    attrs = genai_attrs(
        **{
            "humanloop.log.source_datapoint_id": "dp_1",
            "humanloop.log.batch_id": "batch_1",
            "humanloop.log.provider_request": '{"model": "m"}',
            "humanloop.log.provider_response": '{"choices": []}',
            "humanloop.log.save": False,
        }
    )
    out = body(make_span(attrs))
    assert out["source_datapoint_id"] == "dp_1"
    assert out["batch_id"] == "batch_1"
    assert out["provider_request"] == {"model": "m"}
    assert out["provider_response"] == {"choices": []}
    assert out["save"] is False
    assert out["metadata"]["attributes"] == {}


def test_provider_payload_that_is_not_an_object_is_wrapped() -> None:
    out = body(make_span(genai_attrs(**{"humanloop.log.provider_request": "raw text"})))
    assert out["provider_request"] == {"value": "raw text"}


@pytest.mark.parametrize(
    ("config", "attribute", "expected"),
    [
        (None, None, None),
        (True, None, True),
        (False, None, False),
        (True, "false", False),  # the span's own attribute overrides configuration
        (None, True, True),
        (False, "1", True),
    ],
)
def test_save_from_config_and_attribute(config: bool | None, attribute: Any, expected: bool | None) -> None:
    attrs = genai_attrs() if attribute is None else genai_attrs(**{"humanloop.log.save": attribute})
    assert body(make_span(attrs), save=config).get("save") == expected


# ------------------------------------------------------------------------------ query params
def test_query_version_and_environment_from_configuration() -> None:
    result = mapped(make_span(), version_id="tv_cfg", environment="prod")
    assert (result.version_id, result.environment) == ("tv_cfg", "prod")
    assert "environment" not in result.request.to_dict()  # the query environment is not the body's


def test_query_overrides_per_span() -> None:
    attrs = genai_attrs(**{"humanloop.version_id": "tv_span", "humanloop.environment": "staging"})
    result = mapped(make_span(attrs), version_id="tv_cfg", environment="prod")
    assert (result.version_id, result.environment) == ("tv_span", "staging")
    assert result.request.to_dict()["metadata"]["attributes"] == {}


def test_query_params_unset_by_default() -> None:
    result = mapped(make_span())
    assert (result.version_id, result.environment) == (None, None)


def test_explicit_trace_parent_is_carried_for_ordering() -> None:
    result = mapped(make_span(genai_attrs(**{"humanloop.log.trace_parent_id": "log_abc"})))
    assert result.explicit_parent == "log_abc"
    assert "trace_parent_id" not in result.request.to_dict()  # set only by the ordering stage


# ---------------------------------------------------------------------------------- bad input
EVERY_OTEL_TYPE: dict[str, Any] = {
    "s": "text",
    "b": True,
    "i": -(2**63),
    "f": 1.5,
    "nan": math.nan,
    "inf": math.inf,
    "ninf": -math.inf,
    "seq_s": ("a", "b"),
    "seq_b": (True, False),
    "seq_i": (1, 2**62),
    "seq_f": (1.0, math.nan, math.inf),
    "empty_seq": (),
    "bytes": b"\xff\xfe raw",
    "surrogate": "bad \udc80 text",
    "\udcffkey": "surrogate in a key",
}


def _all_strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_all_strings(k), *_all_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _all_strings(v)]
    return []


def test_attributes_of_every_otel_type_map_and_validate() -> None:
    out = body(make_span(genai_attrs(**EVERY_OTEL_TYPE)))
    attributes = out["metadata"]["attributes"]
    assert attributes["i"] == -(2**63)
    assert attributes["seq_i"] == [1, 2**62]
    assert isinstance(attributes["nan"], str) and isinstance(attributes["inf"], str)
    assert attributes["seq_f"][0] == 1.0 and all(isinstance(v, str) for v in attributes["seq_f"][1:])
    assert isinstance(attributes["bytes"], str)
    for text in _all_strings(out):
        text.encode("utf-8")  # no lone surrogates survive


@pytest.mark.parametrize(
    "value",
    [
        '{"a": NaN, "b": Infinity, "c": -Infinity}',
        '{"broken": ',
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]",
        "[" * 5000 + "]" * 5000,
        '"\\ud800 lone escaped surrogate"',
        '"\ud800 lone surrogate inside JSON text"',
        '{"a": "\udc80"}',
        "\udc80",
        b"\x00\xff bytes",
        math.nan,
        math.inf,
        (math.nan, b"x"),
        "x" * 3_000_000,
        '"' + "\\\\" * 1000 + '"',
        "null",
        '""',
        "   ",
    ],
)
def test_hostile_arguments_and_results_never_break_mapping(value: Any) -> None:
    span = make_span(
        genai_attrs(**{"gen_ai.tool.call.arguments": value, "gen_ai.tool.call.result": value, "x": value}),
        status="ERROR",
        description=value if isinstance(value, str) else None,
        events=(EventRecord("note", START, {"v": value}), exception_event(None, None)),
    )
    out = body(span)
    assert isinstance(out["inputs"], dict)
    assert out["error"]
    for text in _all_strings(out):
        text.encode("utf-8")


def test_output_from_non_json_values_is_not_json_quoted() -> None:
    """bytes, NaN and friends become text; that text is the output, not a JSON string literal."""
    assert body(make_span(genai_attrs(**{"gen_ai.tool.call.result": b"raw bytes"})))["output"] == "raw bytes"
    assert body(make_span(genai_attrs(**{"gen_ai.tool.call.result": math.nan})))["output"] == "nan"


@pytest.mark.parametrize("name", ["", "\udc80bad", "x" * 10_000])
def test_odd_tool_names_never_break_mapping(name: str) -> None:
    """A user predicate may accept a span with an empty or odd name; the Log must still validate."""
    span = make_span({}, name=name)
    call = ToolCall(name=name, convention="predicate")
    request = map_tool_span(span, call).request
    ToolLogRequest.model_validate(request.to_dict())
    assert request.path and request.tool is not None and request.tool.function is not None
    assert request.tool.function.name


@pytest.mark.parametrize("start,end", [(0, 0), (0, 2**64 - 1), (2**63, 2**63 + 5)])
def test_extreme_timestamps_never_break_mapping(start: int, end: int) -> None:
    out = body(make_span(start=start, end=end))
    assert out["start_time"].endswith("Z")
    assert out["provider_latency"] >= 0.0


def test_mapping_is_total_for_odd_tool_call_contents() -> None:
    """The ToolCall seam is filled by many conventions: odd values there must not raise either."""
    span = make_span()
    call = ToolCall(
        name="t",
        convention="x",
        arguments={1: {2, 3}, "b": b"\xff", "n": math.nan},
        result=object(),
        error="",
        description="\udc80",
        schema={"type": "object", "properties": {"x": {"default": math.inf}}},
        call_id="\udc80",
        extra_inputs={"e": (1, math.nan)},
    )
    request = map_tool_span(span, call).request
    ToolLogRequest.model_validate(request.to_dict())
    json.loads(request.to_json_bytes())


def test_the_resource_is_read_once_per_provider_and_every_log_gets_its_own_copy() -> None:
    """Spans of one SDK provider share one view of its resource, whose metadata the mapping works
    out once; a Log's copy can be changed (a redact hook may) without touching the next Log's,
    and attributes that are not an SDK resource's are read afresh every time."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

    from otel_tool_exporter._internal.spans.sdk import is_shared_resource, record_from_readable

    ended: list[Any] = []

    class Keep(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            ended.extend(spans)
            return SpanExportResult.SUCCESS

    provider = TracerProvider(resource=Resource({"service.name": "svc", "host.name": "h1", "k8s.pod": "p"}))
    provider.add_span_processor(SimpleSpanProcessor(Keep()))
    for _ in range(2):
        provider.get_tracer("t").start_span("execute_tool get_weather", attributes=genai_attrs()).end()
    first, second = (record_from_readable(span) for span in ended)
    assert first.resource_attributes is second.resource_attributes
    assert is_shared_resource(first.resource_attributes)
    log = mapped(first).request
    assert log.metadata["otel"]["resource"] == {"host.name": "h1", "k8s.pod": "p"}
    log.metadata["otel"]["resource"]["host.name"] = "[changed by a hook]"
    assert mapped(second).request.metadata["otel"]["resource"] == {"host.name": "h1", "k8s.pod": "p"}

    environments = TracerProvider(resource=Resource({"service.name": ["a", "b"], "deployment.environment": "prod"}))
    environments.add_span_processor(SimpleSpanProcessor(Keep()))
    ended.clear()
    for _ in range(2):
        environments.get_tracer("t").start_span("execute_tool get_weather", attributes=genai_attrs()).end()
    first, second = (record_from_readable(span) for span in ended)
    log = mapped(first).request
    assert log.environment == "prod"
    assert log.metadata["otel"]["service_name"] == ["a", "b"]
    log.metadata["otel"]["service_name"].append("[changed by a hook]")
    again = mapped(second).request
    assert again.environment == "prod"
    assert again.metadata["otel"]["service_name"] == ["a", "b"]

    resource = {"service.name": "svc", "host.name": "h1"}
    assert not is_shared_resource(resource)
    assert mapped(make_span(resource=resource)).request.metadata["otel"]["resource"] == {"host.name": "h1"}
    resource["host.name"] = "h2"
    assert mapped(make_span(resource=resource)).request.metadata["otel"]["resource"] == {"host.name": "h2"}


@pytest.mark.parametrize(
    "result",
    [
        '{"a": NaN, "b": Infinity, "c": -Infinity}',
        '{"Name": "Ivy", "v": [1.5, NaN]}',  # the letters N and I also in ordinary text
        '{"Name": "NaN", "Infinity": "I"}',  # the words as text: kept as written
        '[Infinity, {"NY": "Ithaca"}]',
    ],
)
def test_an_output_with_non_finite_numbers_is_still_strict_json(result: str) -> None:
    """JSON has no NaN or Infinity: such numbers in a result become text, and the output stays
    JSON any parser reads."""
    from otel_tool_exporter._internal.build.values import json_safe

    def refuse(constant: str) -> Any:
        raise AssertionError(f"{constant} is not JSON")

    output = body(make_span(genai_attrs(**{"gen_ai.tool.call.result": result})))["output"]
    assert json.loads(output, parse_constant=refuse) == json_safe(json.loads(result))  # nan, inf as text
