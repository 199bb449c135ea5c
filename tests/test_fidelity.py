"""Text is never turned into different data; nothing on the span is lost.

Values: JSON is read, Python literals are read as the data they spell, JSON known to be cut is
salvaged (raw text kept), anything else stays exactly the text it was (property-tested).
Errors read ``{type}: {message}`` with the traceback kept apart. Links and resource attributes
land in ``metadata.otel``, from every span reader.
"""

from __future__ import annotations

import json
from typing import Any

import pydantic_core
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otel_tool_exporter import SpanRecord
from otel_tool_exporter._internal.build.conventions import ConventionRegistry
from otel_tool_exporter._internal.build.mapping import map_tool_span
from otel_tool_exporter._internal.build.values import dumps_compact, is_cut_json, python_literal
from otel_tool_exporter._internal.spans import EventRecord, LinkRecord

TRACE = 0x0AF7651916CD43DD8448EB211C80319C


def _span(attributes: dict[str, Any], name: str = "execute_tool get_weather", **extra: Any) -> SpanRecord:
    return SpanRecord(trace_id=TRACE, span_id=2, parent_span_id=None, name=name, attributes=attributes, **extra)


def _log(span: SpanRecord) -> dict[str, Any]:
    call = ConventionRegistry().recognise(span)
    assert call is not None
    return map_tool_span(span, call).request.to_dict()


def _genai(arguments: Any = None, result: Any = None) -> dict[str, Any]:
    attrs: dict[str, Any] = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "get_weather"}
    if arguments is not None:
        attrs["gen_ai.tool.call.arguments"] = arguments
    if result is not None:
        attrs["gen_ai.tool.call.result"] = result
    return attrs


# ------------------------------------------------------------------------------------ literals, text
@pytest.mark.parametrize(
    ("text", "output", "inputs"),
    [
        ("{'id': 42, 'name': 'Ada'}", '{"id":42,"name":"Ada"}', {"id": 42, "name": "Ada"}),
        ("[INFO] done", "[INFO] done", {"input": "[INFO] done"}),
        ("[1, 2, 3", "[1, 2, 3", {"input": "[1, 2, 3"}),
        ("{'when': datetime.now()}", "{'when': datetime.now()}", {"input": "{'when': datetime.now()}"}),
        ("('a', None, True)", '["a",null,true]', {"input": ["a", None, True]}),
        ("{not json}", "{not json}", {"input": "{not json}"}),
    ],
)
def test_text_is_kept_or_read_as_the_literal_it_is(text: str, output: str, inputs: dict[str, Any]) -> None:
    log = _log(_span(_genai(arguments=text, result=text)))
    assert log["output"] == output
    assert log["inputs"] == inputs


def test_literals_are_bounded_and_never_evaluated() -> None:
    assert python_literal("[" * 40 + "]" * 40) is MISSING_OR_NONE()
    assert python_literal("[" + "1," * 60_000 + "]") is MISSING_OR_NONE()  # too long to parse
    assert python_literal("{'a': __import__('os').getcwd()}") is MISSING_OR_NONE()
    assert python_literal("[1, 2]") == [1, 2]


def MISSING_OR_NONE() -> Any:  # noqa: N802 - reads as a constant in the asserts above
    from otel_tool_exporter._internal.build.values import MISSING

    return MISSING


def test_cut_json_is_salvaged_only_when_known_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    whole = json.dumps({"city": "Paris", "note": "a long note about the weather"})
    mid_string = whole[:-10]
    log = _log(_span(_genai(arguments=mid_string)))
    assert log["inputs"]["city"] == "Paris" and log["inputs"]["note"].endswith("…")
    assert log["metadata"]["attributes"]["gen_ai.tool.call.arguments"] == mid_string  # raw text kept
    # ends after a whole value: could be deliberate text, kept as it is ...
    at_boundary = '[{"id": 1}, {"id": 2}'
    assert not is_cut_json(at_boundary)
    assert _log(_span(_genai(arguments=at_boundary)))["inputs"] == {"input": at_boundary}
    # ... unless it is exactly as long as the SDK's attribute length limit
    from otel_tool_exporter._internal.build import values

    monkeypatch.setenv("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", str(len(at_boundary)))
    values._length_limits.cache_clear()
    try:
        assert is_cut_json(at_boundary)
        assert _log(_span(_genai(arguments=at_boundary)))["inputs"] == {"input": [{"id": 1}, {"id": 2}]}
    finally:
        monkeypatch.delenv("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT")
        values._length_limits.cache_clear()


def _is_json_prefix(text: str) -> bool:
    try:
        pydantic_core.from_json(text.strip(), allow_partial=True)
    except ValueError:
        return False
    return True


def _is_literal(text: str) -> bool:
    return python_literal(text) is not MISSING_OR_NONE()


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(st.text(), st.text(alphabet="{}[]()'\",:;=#-_ aZ019.\\nIN", max_size=40)))
def test_text_that_is_no_json_nor_literal_comes_out_unchanged(text: str) -> None:
    """Mapping never invents structure: text that is not JSON (whole or a JSON prefix that
    could be cut) and not a Python literal is sent exactly as written, as output and input."""
    try:
        json.loads(text)
        return
    except ValueError:
        pass
    if _is_json_prefix(text) or _is_literal(text) or not text.strip():
        return
    log = _log(_span(_genai(arguments=text, result=text)))
    assert log["output"] == text
    assert log["inputs"] == {"input": text}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**9), 10**9) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(value=st.dictionaries(st.text(max_size=8), json_values, min_size=1, max_size=5))
def test_json_objects_come_out_equal(value: dict[str, Any]) -> None:
    text = json.dumps(value)
    log = _log(_span(_genai(arguments=text, result=text)))
    assert log["inputs"] == value or set(value) <= {"args", "kwargs"}  # the call envelope is unwrapped
    assert json.loads(log["output"]) == value


@settings(max_examples=200, deadline=None)
@given(value=st.lists(json_values, max_size=5))
def test_python_reprs_come_out_as_the_data(value: list[Any]) -> None:
    log = _log(_span(_genai(result=repr(value), arguments=repr({"v": value}))))
    assert json.loads(log["output"]) == value
    assert log["inputs"] == {"v": value}


# ------------------------------------------------------------------------------------ names
@pytest.mark.parametrize("suffix", [".__call__", ".call", ".acall", ".run", ".arun", ".invoke", ".ainvoke"])
def test_method_call_suffixes_are_not_part_of_the_tool_name(suffix: str) -> None:
    log = _log(_span({"openinference.span.kind": "TOOL", "input.value": "{}"}, name=f"get_weather{suffix}"))
    assert log["tool"]["function"]["name"] == "get_weather"
    assert log["path"] == "get_weather"
    assert log["metadata"]["otel"]["span_name"] == f"get_weather{suffix}"  # the span's own name is kept


def test_a_name_attribute_is_never_shortened() -> None:
    log = _log(_span({"openinference.span.kind": "TOOL", "tool.name": "runner.run"}, name="x"))
    assert log["tool"]["function"]["name"] == "runner.run"


# ------------------------------------------------------------------------------------ errors
TRACEBACK = 'Traceback (most recent call last):\n  File "/home/me/app/tools.py", line 3, in fail\n    raise ValueError("boom")\nValueError: boom\n'


def test_repr_and_traceback_become_type_message_with_the_traceback_apart() -> None:
    span = _span(
        {"openinference.span.kind": "TOOL", "tool.name": "fail_tool", "input.value": "x"},
        status_code="ERROR",
        status_description="ValueError('boom: disk full')" + TRACEBACK,
    )
    log = _log(span)
    assert log["error"] == "ValueError: boom: disk full"
    assert log["metadata"]["otel"]["error_stacktrace"] == TRACEBACK
    assert "/home/me" not in log["error"]


def test_exception_event_gives_type_and_message_and_keeps_its_stacktrace() -> None:
    event = EventRecord(
        "exception",
        5,
        {"exception.type": "KeyError", "exception.message": "'city'", "exception.stacktrace": TRACEBACK},
    )
    log = _log(_span(_genai(), status_code="ERROR", status_description="'city'", events=(event,)))
    assert log["error"] == "KeyError: 'city'"
    assert log["metadata"]["otel"]["error_stacktrace"] == TRACEBACK
    wrapped = EventRecord(
        "exception", 5, {"exception.type": "Exception", "exception.message": "ValueError('boom')" + TRACEBACK}
    )
    assert _log(_span(_genai(), status_code="ERROR", events=(wrapped,)))["error"] == "ValueError: boom"


def test_a_bare_traceback_gives_its_last_line_and_custom_descriptions_stay() -> None:
    assert _log(_span(_genai(), status_code="ERROR", status_description=TRACEBACK))["error"] == "ValueError: boom"
    custom = _log(_span(_genai(), status_code="ERROR", status_description="upstream timed out after 3 tries"))
    assert custom["error"] == "upstream timed out after 3 tries"
    assert "error_stacktrace" not in custom["metadata"]["otel"]


# ------------------------------------------------------------------------------------ links, resource
def test_links_and_resource_attributes_are_kept_in_metadata() -> None:
    link = LinkRecord(0x1234, 0x56, {"link.kind": "follows_from"})
    span = _span(
        _genai(),
        links=(link, LinkRecord(0xABC, 0xDEF)),
        resource_attributes={"service.name": "svc", "host.name": "box", "deployment.environment.name": "prod"},
        scope_name="acme.agents",
    )
    log = _log(span)
    otel = log["metadata"]["otel"]
    assert otel["links"] == [
        {
            "trace_id": format(0x1234, "032x"),
            "span_id": format(0x56, "016x"),
            "attributes": {"link.kind": "follows_from"},
        },
        {"trace_id": format(0xABC, "032x"), "span_id": format(0xDEF, "016x")},
    ]
    assert otel["resource"] == {"host.name": "box", "deployment.environment.name": "prod"}
    assert otel["service_name"] == "svc"
    assert log["source"] == "acme.agents"
    assert "links" not in _log(_span(_genai()))["metadata"]["otel"]


def test_every_reader_fills_links() -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import Link, SpanContext, TraceFlags

    from otel_tool_exporter._internal.spans.otlp import decode_json, decode_protobuf

    target = SpanContext(trace_id=0xAB, span_id=0xCD, is_remote=True, trace_flags=TraceFlags(1))
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    with provider.get_tracer("t").start_as_current_span("s", links=[Link(target, {"why": "batch"})]):
        pass
    readable = memory.get_finished_spans()[0]
    want = (LinkRecord(0xAB, 0xCD, {"why": "batch"}),)
    sdk = SpanRecord.from_readable(readable)
    assert [(lk.trace_id, lk.span_id, dict(lk.attributes)) for lk in sdk.links] == [(0xAB, 0xCD, {"why": "batch"})]

    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    message = encode_spans([readable])
    from_pb = decode_protobuf(message.SerializeToString()).spans[0]
    assert from_pb.links == want
    otlp_json = {  # OTLP/JSON spells ids in hex
        "resourceSpans": [
            {
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": "0" * 31 + "1",
                                "spanId": "0" * 15 + "2",
                                "name": "s",
                                "links": [
                                    {
                                        "traceId": format(0xAB, "032x"),
                                        "spanId": format(0xCD, "016x"),
                                        "attributes": [{"key": "why", "value": {"stringValue": "batch"}}],
                                    },
                                    {"traceId": "zz", "spanId": "00"},  # malformed: left out, span kept
                                ],
                            }
                        ]
                    }
                ]
            }
        ]
    }
    from_json = decode_json(json.dumps(otlp_json).encode()).spans[0]
    assert from_json.links == want

    fixture = SpanRecord.from_fixture(
        {
            "trace_id": "0" * 31 + "1",
            "span_id": "0" * 15 + "2",
            "name": "s",
            "links": [
                {"trace_id": format(0xAB, "032x"), "span_id": format(0xCD, "016x"), "attributes": {"why": "batch"}}
            ],
        }
    )
    assert fixture.links == want


def test_text_plain_values_are_read_only_when_the_whole_text_is_an_object_or_list() -> None:
    """CrewAI and Agno (via OpenInference) record a dict result as its Python repr, marked
    text/plain: it is the dict. A text/plain scalar stays text."""
    attrs = {
        "openinference.span.kind": "TOOL",
        "tool.name": "lookup_user",
        "input.value": '{"user_id": 42}',
        "input.mime_type": "text/plain",
        "output.value": "{'id': 42, 'name': 'Ada', 'tags': ['admin', 'beta']}",
        "output.mime_type": "text/plain",
    }
    log = _log(_span(attrs, name="lookup_user"))
    assert json.loads(log["output"]) == {"id": 42, "name": "Ada", "tags": ["admin", "beta"]}
    assert log["inputs"] == {"user_id": 42}
    scalar = _log(_span({**attrs, "output.value": '"42"'}, name="lookup_user"))
    assert scalar["output"] == '"42"'


def test_only_exception_reprs_are_reduced() -> None:
    from otel_tool_exporter._internal.build.mapping import split_error

    assert split_error("ValueError('boom')")[0] == "ValueError: boom"
    assert split_error("mypkg.errors.QuotaExceeded('x')" + TRACEBACK)[0] == "mypkg.errors.QuotaExceeded: x"
    assert split_error("Point(1, 2)")[0] == "Point(1, 2)"  # not an exception, no traceback: kept
    assert split_error("TimeoutError()")[0] == "TimeoutError"


@settings(max_examples=300, deadline=None)
@given(text=st.from_regex(r"\A-?(0|[1-9][0-9]{0,25})(\.[0-9]{1,12})?([eE][+-]?[0-9]{1,4})?\Z"))
def test_a_number_written_as_text_comes_out_as_written(text: str) -> None:
    """``"1.50"``, ``"1e5"`` or ``"1e999"`` are not re-spelt as ``1.5``, ``100000.0`` or ``inf``."""
    log = _log(_span(_genai(arguments=text, result=text)))
    assert log["output"] == text
    value = log["inputs"]["input"]
    # read as a number only where the wire writes it back as it was (pydantic's writer, not json's:
    # "0.00001" is written 0.00001 on the wire, though json.dumps would say 1e-05)
    assert value == text or dumps_compact(value) == text
