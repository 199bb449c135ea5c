"""The general recogniser: tool calls in namespaces no convention knows, and none of the rest.

Spans are invented (several made-up namespaces, and a span shaped like Haystack's from the
attribute names its tracer writes), go through the real registry and mapping, and are checked
as the Log a user would see. The zero-false-positive check runs over every captured fixture.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from otel_tool_exporter import SpanRecord, ToolLogExporter
from otel_tool_exporter._internal.build.conventions import ConventionRegistry
from otel_tool_exporter._internal.build.conventions.generic import GenericToolRecogniser
from otel_tool_exporter._internal.build.mapping import map_tool_span
from otel_tool_exporter.stub import StubServer

from .conftest import FIXTURES, load_fixture


def _span(name: str, attributes: dict[str, Any], **extra: Any) -> SpanRecord:
    return SpanRecord(trace_id=1, span_id=2, parent_span_id=None, name=name, attributes=attributes, **extra)


def _log(span: SpanRecord, registry: ConventionRegistry | None = None) -> dict[str, Any] | None:
    call = (registry or ConventionRegistry()).recognise(span)
    return None if call is None else map_tool_span(span, call).request.to_dict()


def _generic_only() -> ConventionRegistry:
    """The general recogniser behind the named ones, without a named recogniser for ``haystack.*``."""
    return ConventionRegistry([r for r in ConventionRegistry().recognisers if r.name != "haystack"])


@pytest.mark.parametrize(
    ("span_name", "attributes"),
    [
        (
            "acme step",
            {"acme.tool.name": "get_weather", "acme.tool.input": '{"city": "Paris"}', "acme.tool.output": "Sunny"},
        ),
        ("foo.call", {"foo.tool_name": "get_weather", "foo.arguments": '{"city": "Paris"}', "foo.result": "Sunny"}),
        (
            "invoke",
            {"zeta.tool.name": "get_weather", "zeta.tool.arguments": {"city": "Paris"}, "zeta.tool.result": "Sunny"},
        ),
        (
            "x",
            {
                "myco.agent.toolName": "get_weather",
                "myco.agent.toolInput": '{"city":"Paris"}',
                "myco.agent.toolOutput": "Sunny",
            },
        ),
        ("get_weather.__call__", {"orbit.tool.input": '{"city": "Paris"}', "orbit.tool.output": '"Sunny"'}),
    ],
    ids=["dotted", "underscore-siblings", "arguments-result", "camelCase", "name-from-span"],
)
def test_tool_calls_in_unknown_namespaces_are_logged(span_name: str, attributes: dict[str, Any]) -> None:
    log = _log(_span(span_name, attributes))
    assert log is not None
    assert log["tool"]["function"]["name"] == "get_weather"
    assert log["path"] == "get_weather"
    assert log["inputs"] == {"city": "Paris"}
    assert log["output"] == "Sunny"
    assert log["metadata"]["otel"]["convention"] == "generic"
    assert "error" not in log
    assert log["metadata"]["attributes"] == {}  # every key was read into a Log field


@pytest.mark.parametrize("generic_only", [True, False], ids=["general-recogniser", "with-haystack-recogniser"])
def test_haystack_shaped_span_with_error_flag_and_unset_status(generic_only: bool) -> None:
    """Haystack's agent marks a tool call with span name ``haystack.agent.step.tool``; a failure
    is only ``haystack.tool.error`` (the status stays UNSET) and an ``{"error": …}`` output. The
    general recogniser alone gets it right (Haystack has its own recogniser too: both are asked)."""
    registry = _generic_only() if generic_only else ConventionRegistry()
    ok = _log(
        _span(
            "haystack.agent.step.tool",
            {
                "haystack.tool.name": "lookup_user",
                "haystack.tool.description": "Look up a user by id.",
                "haystack.agent.step.tool.input": '{"user_id": 42}',
                "haystack.agent.step.tool.output": "{'id': 42, 'name': 'Ada'}",
                "haystack.tool.error": False,
            },
        ),
        registry,
    )
    assert ok is not None
    assert ok["metadata"]["otel"]["convention"] == ("generic" if generic_only else "haystack")
    assert ok["tool"]["function"] == {"name": "lookup_user", "description": "Look up a user by id."}
    assert ok["inputs"] == {"user_id": 42}
    assert json.loads(ok["output"]) == {"id": 42, "name": "Ada"}  # a Python repr read as the dict
    assert "error" not in ok
    failed = _log(
        _span(
            "haystack.agent.step.tool",
            {
                "haystack.tool.name": "fail_tool",
                "haystack.agent.step.tool.input": '{"reason": "disk full"}',
                "haystack.tool.error": True,
                "haystack.agent.step.tool.output": json.dumps({"error": "Failed to invoke Tool: boom: disk full"}),
            },
        ),
        registry,
    )
    assert failed is not None
    assert failed["error"] == "Failed to invoke Tool: boom: disk full"
    assert "output" not in failed  # the failure report is not a return value
    assert failed["inputs"] == {"reason": "disk full"}


def test_error_attribute_with_a_message_and_unset_status() -> None:
    log = _log(
        _span("acme.tool", {"acme.tool.name": "t", "acme.tool.input": "{}", "acme.tool.error": "ValueError('nope')"})
    )
    assert log is not None and log["error"] == "ValueError: nope"


def test_span_name_ending_in_tool_names_the_tool() -> None:
    log = _log(_span("get_weather.tool", {"kit.input": '{"city": "Paris"}'}))
    assert log is not None and log["tool"]["function"]["name"] == "get_weather"


def test_result_objects_are_unwrapped() -> None:
    tool_output = {
        "blocks": [{"block_type": "text", "text": "Sunny"}],
        "tool_name": "get_weather",
        "raw_input": {"city": "Paris"},
        "raw_output": {"temp": 21},
        "is_error": False,
    }
    message = {"content": "Sunny", "type": "tool", "tool_call_id": "c1", "response_metadata": {}, "status": "success"}
    for result, want in ((tool_output, '{"temp":21}'), (message, "Sunny"), ({"result": [1, 2]}, "[1,2]")):
        log = _log(_span("s", {"acme.tool.name": "get_weather", "acme.tool.output": json.dumps(result)}))
        assert log is not None and log["output"] == want, result


@pytest.mark.parametrize(
    ("span_name", "attributes"),
    [
        # tool DEFINITIONS on model spans: lists and schemas of tools, never a call
        ("chat model", {"llm.tools.0.tool.name": "get_weather", "llm.tools.0.tool.json_schema": "{}"}),
        ("chat model", {"gen_ai.tool.definitions": '[{"name": "get_weather"}]', "acme.input": "hi"}),
        (
            "generate",
            {
                "llm.output_messages.0.message.tool_calls.0.tool_call.function.name": "get_weather",
                "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments": '{"city": "Paris"}',
            },
        ),
        ("llm", {"ai.prompt.tools": '["{}"]', "ai.prompt.toolChoice": '{"type":"auto"}'}),
        # agent spans that merely mention tools
        ("agent run", {"acme.agent.tool_name": "get_weather"}),
        ("acme.agent", {"acme.agent.tools": '["get_weather"]', "acme.agent.input": "hi", "acme.agent.output": "ok"}),
        ("invoke_agent main", {"acme.tool_name": "get_weather", "acme.input": "what is the weather?"}),
        ("tools", {"langgraph.node": "tools"}),
        ("invoke_agent main", {"acme.agent.tool_result": "3 results", "acme.agent.input": "hi"}),
        ("chat gpt", {"acme.llm.tool_output": "Sunny"}),
        # a named convention said "not a tool"
        ("chain", {"openinference.span.kind": "CHAIN", "acme.tool.input": "{}"}),
    ],
)
def test_not_tool_calls(span_name: str, attributes: dict[str, Any]) -> None:
    assert _log(_span(span_name, attributes)) is None


def _all_fixture_spans() -> list[tuple[str, dict[str, Any]]]:
    return [(path.stem, span) for path in sorted(FIXTURES.glob("*.json")) for span in load_fixture(path.stem)["spans"]]


def test_no_false_positive_on_any_captured_fixture() -> None:
    """Every captured span the named conventions leave alone stays alone (and doctor does not
    call it tool-looking), and the general recogniser never claims a span a named convention
    claims."""
    registry = ConventionRegistry()
    generic = GenericToolRecogniser()
    checked = 0
    for fixture, doc in _all_fixture_spans():
        span = SpanRecord.from_fixture(doc)
        call = registry.recognise(span)
        if call is None:
            assert generic.recognise(span) is None, (fixture, span.name)
            assert registry.unclaimed_tool_hint(span) is None, (fixture, span.name)  # doctor stays quiet
            checked += 1
        else:
            assert call.convention != "generic", (fixture, span.name)
    assert checked > 50


def test_the_pre_filter_lets_ordinary_spans_through_with_one_set_test() -> None:
    generic = GenericToolRecogniser()
    attrs = {"http.method": "GET", "http.url": "http://x", "db.system": "postgres"}
    assert not generic.might_claim("GET /users", attrs)
    assert generic._plain >= set(attrs)  # remembered: the next span with these keys is one set test
    assert not generic.might_claim("GET /users", attrs)
    assert generic.might_claim("GET /users", {**attrs, "acme.tool.input": "{}"})
    assert generic.might_claim("get_weather.tool", {})
    assert not generic.might_claim("chat", {"gen_ai.tool.definitions": "[]", "llm.tools.0.tool.name": "x"})


def test_a_user_recogniser_still_wins_and_order_is_last() -> None:
    names = [r.name for r in ConventionRegistry().recognisers]
    assert names[-1] == "generic"


def test_unknown_framework_end_to_end_with_nesting(stub: StubServer) -> None:
    """Through the real exporter: an agent-as-tool span in an unknown namespace is a Log, and the
    tool its sub-agent calls is nested under it."""
    from opentelemetry.sdk.trace import TracerProvider

    from otel_tool_exporter import ToolSpanProcessor

    exporter = ToolLogExporter(base_url=stub.base_url, api_key="k")
    provider = TracerProvider()
    provider.add_span_processor(ToolSpanProcessor(exporter))
    tracer = provider.get_tracer("acme.agents")
    try:
        with tracer.start_as_current_span("acme.agent.run", attributes={"acme.agent.name": "main"}):
            with tracer.start_as_current_span(
                "acme.step.tool", attributes={"acme.tool.name": "research", "acme.tool.input": '{"topic": "otel"}'}
            ) as research:
                with tracer.start_as_current_span("chat", attributes={"acme.llm.tools": '["search_web"]'}):
                    pass
                with tracer.start_as_current_span(
                    "acme.step.tool",
                    attributes={"acme.tool.name": "search_web", "acme.tool.input": '{"query": "otel"}'},
                ) as search:
                    search.set_attribute("acme.tool.output", "3 results")
                research.set_attribute("acme.tool.output", "summary")
        assert exporter.force_flush(10_000)
    finally:
        provider.shutdown()
    logs = {log["tool"]["function"]["name"]: log for log in stub.store.list(size=100)[0]}
    assert set(logs) == {"research", "search_web"}
    assert logs["search_web"]["trace_parent_id"] == logs["research"]["id"]
    assert logs["search_web"]["output"] == "3 results" and logs["research"]["inputs"] == {"topic": "otel"}


def test_exporter_says_once_per_span_name_at_debug_why_a_tool_looking_span_was_not_logged(
    stub: StubServer, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    exporter = ToolLogExporter(base_url=stub.base_url, api_key="k")
    try:
        with caplog.at_level(logging.DEBUG, logger="otel_tool_exporter"):
            for span_id in (10, 11):
                span = SpanRecord(
                    trace_id=5,
                    span_id=span_id,
                    parent_span_id=None,
                    name="step",
                    attributes={"myapp.tool": "lookup_user", "myapp.args": '{"user_id": 42}'},
                )
                exporter.export([span])
            exporter.export([SpanRecord(trace_id=5, span_id=12, parent_span_id=None, name="GET /", attributes={})])
            assert exporter.force_flush(10_000)
    finally:
        exporter.shutdown()
    lines = [r.getMessage() for r in caplog.records if "span not logged" in r.getMessage()]
    assert len(lines) == 1
    assert "'step' looks like a tool call" in lines[0] and "myapp.args" in lines[0] and "is_tool_span=" in lines[0]
    assert stub.store.list(size=10)[0] == []


def test_named_conventions_get_what_they_left_unread_from_tool_keys() -> None:
    """An ``execute_tool`` span whose instrumentation spells arguments and result its own way
    (``gen_ai.tool.input`` / ``gen_ai.tool.output``) and flags an error while the status stays
    UNSET: the GenAI convention claims it, the general key reading fills the gaps."""
    log = _log(
        _span(
            "execute_tool get_weather",
            {
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": "get_weather",
                "gen_ai.tool.input": '{"city": "Paris"}',
                "gen_ai.tool.output": "Sunny",
                "acme.tool.description": "Get the weather.",
            },
        )
    )
    assert log is not None and log["metadata"]["otel"]["convention"] == "genai"
    assert log["inputs"] == {"city": "Paris"} and log["output"] == "Sunny"
    assert log["tool"]["function"]["description"] == "Get the weather."
    assert log["metadata"]["attributes"] == {}
    failed = _log(
        _span(
            "execute_tool t",
            {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "t", "gen_ai.tool.error": "boom"},
        )
    )
    assert failed is not None and failed["error"] == "boom"


def test_arguments_flattened_into_one_key_per_member_are_folded_back() -> None:
    log = _log(
        _span(
            "step",
            {
                "acme.tool.input.city": "Paris",
                "acme.tool.input.days": "3",
                "acme.tool.input.filters": '{"rain": false}',
                "acme.tool.output": "Sunny",
            },
        )
    )
    assert log is not None
    assert log["inputs"] == {"city": "Paris", "days": "3", "filters": {"rain": False}}  # "3" stays text
    assert log["output"] == "Sunny" and log["metadata"]["attributes"] == {}
    assert GenericToolRecogniser().might_claim("step", {"acme.tool.input.city": "Paris"})


def test_a_key_that_names_the_tool_outright() -> None:
    log = _log(_span("step", {"acme.tool": "get_weather", "acme.tool.input": '{"city": "Paris"}'}))
    assert log is not None and log["tool"]["function"]["name"] == "get_weather"
    assert log["metadata"]["attributes"] == {}


def test_the_registry_remembers_ordinary_spans_without_missing_a_tool() -> None:
    """An ordinary span's name and keys are remembered, so the next one costs a set test; a new
    key, a marker, or a recogniser added later still gets its span looked at."""
    registry = ConventionRegistry()
    plain = {"http.method": "GET", "http.route": "/users"}
    assert not registry.may_claim("GET /users", plain)
    assert not registry.may_claim("GET /users", plain)  # remembered
    assert registry.may_claim("GET /users", {**plain, "acme.tool.input": "{}"})
    assert registry.may_claim("GET /users", {**plain, "gen_ai.operation.name": "execute_tool"})
    assert registry.may_claim("get_weather.tool", plain)

    class Mine:
        name = "mine"
        span_names = ("GET /users",)
        marker_keys: tuple[str, ...] = ()

        def recognise(self, span: SpanRecord) -> None:
            return None

    registry.add(Mine(), first=True)
    assert registry.may_claim("GET /users", plain)  # what was remembered is forgotten on add

    class ByValue:
        """A marker-less recogniser whose pre-filter reads values: nothing may be remembered."""

        name = "by_value"
        span_names: tuple[str, ...] = ()
        marker_keys: tuple[str, ...] = ()

        def might_claim(self, name: Any, attrs: Any) -> bool:
            return attrs.get("http.route") == "/tool"

        def recognise(self, span: SpanRecord) -> None:
            return None

    custom = ConventionRegistry([ByValue()])
    assert not custom.may_claim("GET", {"http.route": "/users"})
    assert custom.may_claim("GET", {"http.route": "/tool"})
