"""Recognisers on shapes their captured fixture does not show (LangSmith's ``@traceable`` tools,
AgentOps' older ``agentops.entity.*`` names; Braintrust, not captured, on its documented
attributes), and the registry's rules: fixed order, user recognisers first, the predicate, and the
traps that need a hand-made span (cut-off JSON, placeholder ids)."""

from __future__ import annotations

import json
from typing import Any

from otel_tool_exporter._internal.build.conventions import ConventionRegistry, ToolCall
from otel_tool_exporter._internal.build.mapping import map_tool_span
from otel_tool_exporter._internal.spans import SpanRecord


def _span(name: str, attributes: dict[str, Any], **extra: Any) -> SpanRecord:
    return SpanRecord(trace_id=1, span_id=2, parent_span_id=None, name=name, attributes=attributes, **extra)


def _log(span: SpanRecord, registry: ConventionRegistry | None = None) -> dict[str, Any]:
    call = (registry or ConventionRegistry()).recognise(span)
    assert call is not None
    return map_tool_span(span, call).request.to_dict()


def test_langsmith_otel_mode() -> None:
    log = _log(
        _span(
            "get_weather",
            {
                "langsmith.span.kind": "tool",
                "gen_ai.prompt": json.dumps({"city": "Paris"}),
                "gen_ai.completion": json.dumps({"output": "Sunny"}),
                "gen_ai.tool.call.id": "call_1",
            },
        )
    )
    assert log["tool"]["function"]["name"] == "get_weather"
    assert log["inputs"] == {"city": "Paris"}
    assert log["output"] == "Sunny"
    assert log["metadata"]["otel"]["call_id"] == "call_1"
    assert log["metadata"]["otel"]["convention"] == "langsmith"


def test_langsmith_failed_run_has_no_output() -> None:
    """The SDK writes a failed run's outputs as ``{}``: no output, not an empty object; a successful
    tool that really returned ``{}`` keeps it."""
    attrs = {"langsmith.span.kind": "tool", "gen_ai.prompt": '{"reason": "disk full"}', "gen_ai.completion": "{}"}
    failed = _log(_span("fail_tool", attrs, status_code="ERROR", status_description="boom"))
    assert "output" not in failed
    assert failed["error"] == "boom"
    assert _log(_span("empty", attrs))["output"] == "{}"


def test_agentops_older_entity_attributes() -> None:
    """Before 0.4.21 the decorator wrote ``agentops.entity.*`` (the fixture has ``agentops.tool.*``)."""
    log = _log(
        _span(
            "lookup_user.tool",
            {
                "agentops.span.kind": "tool",
                "agentops.entity.name": "lookup_user",
                "agentops.entity.input": json.dumps({"args": [], "kwargs": {"user_id": 42}}),
                "agentops.entity.output": json.dumps({"id": 42}),
            },
        )
    )
    assert log["tool"]["function"]["name"] == "lookup_user"
    assert log["inputs"] == {"user_id": 42}
    assert json.loads(log["output"]) == {"id": 42}


def test_braintrust_span_attributes_object_and_flattened() -> None:
    for marker in (
        {"braintrust.span_attributes": json.dumps({"type": "tool", "name": "search_web"})},
        {"braintrust.span_attributes.type": "tool", "braintrust.span_attributes.name": "search_web"},
    ):
        log = _log(
            _span(
                "span",
                {**marker, "braintrust.input_json": '{"query": "otel"}', "braintrust.output_json": '"3 results"'},
            )
        )
        assert log["tool"]["function"]["name"] == "search_web"
        assert log["inputs"] == {"query": "otel"}
        assert log["output"] == "3 results"
    assert ConventionRegistry().recognise(_span("llm", {"braintrust.span_attributes": '{"type": "llm"}'})) is None


def test_openllmetry_envelope_cut_at_the_length_limit() -> None:
    """OpenLLMetry cuts values at OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: read what is there, keep the
    raw text in metadata."""
    whole = json.dumps(
        {"input_str": "{'city': 'Paris'}", "inputs": {"city": "Paris"}, "kwargs": {"tool_call_id": "call_weather"}}
    )
    cut = whole[: whole.index("call_weather") + 4]
    span = _span(
        "execute_tool get_weather",
        {"traceloop.span.kind": "tool", "traceloop.entity.name": "get_weather", "traceloop.entity.input": cut},
    )
    log = _log(span)
    assert log["inputs"] == {"city": "Paris"}
    assert log["metadata"]["attributes"]["traceloop.entity.input"] == cut


def test_cut_off_arguments_keep_their_raw_text_whichever_key_held_them() -> None:
    """A recogniser reading arguments from a fallback key (LangSmith's gen_ai.tool.call.arguments
    when gen_ai.prompt is absent) keeps the cut-off raw text in metadata, as for its own key."""
    cut = json.dumps({"city": "Paris", "units": "metric"})[:-12]
    for key in ("gen_ai.prompt", "gen_ai.tool.call.arguments"):
        log = _log(_span("get_weather", {"langsmith.span.kind": "tool", key: cut}))
        assert log["inputs"] == {"city": "Paris"}
        assert log["metadata"]["attributes"][key] == cut


def test_more_specific_convention_wins_over_genai() -> None:
    """pydantic-ai v2 and OpenLLMetry spans also say execute_tool; their own reader must win."""
    v2 = _span(
        "running tool",
        {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "t", "tool_arguments": '{"a": 1}'},
    )
    call = ConventionRegistry().recognise(v2)
    assert call is not None and call.convention == "pydantic_ai_v2" and call.arguments == {"a": 1}


def test_user_recogniser_runs_first_and_predicate_catches_the_rest() -> None:
    class Mine:
        name = "mine"
        span_names = ("do_thing",)
        marker_keys: tuple[str, ...] = ()

        def recognise(self, span: SpanRecord) -> ToolCall | None:
            return ToolCall(name="thing", convention=self.name, arguments={"x": 1})

    registry = ConventionRegistry(is_tool_span=lambda s: s.name == "custom")
    registry.add(Mine(), first=True)
    assert registry.recognise(_span("do_thing", {})).convention == "mine"  # type: ignore[union-attr]
    fallback = registry.recognise(_span("custom", {}))
    assert fallback is not None and fallback.convention == "predicate" and fallback.name == "custom"
    assert registry.recognise(_span("other", {})) is None


def test_a_raising_predicate_or_recogniser_never_escapes() -> None:
    class Broken:
        name = "broken"
        span_names = ("x",)
        marker_keys: tuple[str, ...] = ()

        def recognise(self, span: SpanRecord) -> ToolCall | None:
            raise RuntimeError("bug")

    def predicate(span: SpanRecord) -> bool:
        raise RuntimeError("bug")

    registry = ConventionRegistry([Broken()], is_tool_span=predicate)
    assert registry.recognise(_span("x", {})) is None


def test_a_claimed_call_survives_a_failing_clean_up_step(monkeypatch: Any) -> None:
    """After a convention claims a span, the shared clean-up (reading what it left, unwrapping a
    result object) may meet input it cannot handle: the call is kept as the convention gave it."""
    from otel_tool_exporter._internal.build.conventions import registry as registry_module

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("odd input")

    monkeypatch.setattr(registry_module, "complete_call", broken)
    monkeypatch.setattr(registry_module, "result_object", broken)
    span = _span(
        "execute_tool lookup",
        {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup", "gen_ai.tool.call.result": "ok"},
    )
    call = ConventionRegistry().recognise(span)
    assert call is not None and call.name == "lookup" and call.result == "ok"


def test_adk_placeholder_call_id_and_merged_pseudo_tool() -> None:
    registry = ConventionRegistry()
    call = registry.recognise(
        _span(
            "execute_tool fail_tool",
            {
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": "fail_tool",
                "gen_ai.tool.call.id": "<not specified>",
            },
        )
    )
    assert call is not None and call.call_id is None
    merged = _span(
        "execute_tool (merged)", {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "(merged tools)"}
    )
    assert registry.recognise(merged) is None
    assert not registry.looks_like_tool(merged.name, merged.attributes)


def test_haystack_failed_call_without_the_error_object() -> None:
    """Haystack flags a failed call with ``haystack.tool.error`` (status stays UNSET); when the
    output is not its ``{"error": message}`` object, the call is still an error and the output is kept."""
    flagged = {
        "haystack.tool.name": "fail_tool",
        "haystack.agent.step.tool.input": json.dumps({"reason": "disk full"}),
        "haystack.tool.error": "true",
    }
    log = _log(_span("haystack.agent.step.tool", {**flagged, "haystack.agent.step.tool.output": "partial"}))
    assert log["inputs"] == {"reason": "disk full"}
    assert log["output"] == "partial"
    assert "haystack.tool.error" in log["error"]
    log = _log(_span("haystack.agent.step.tool", {**flagged, "haystack.agent.step.tool.output": '{"error": "boom"}'}))
    assert log["error"] == "boom"
    assert "output" not in log
    assert "haystack.tool.error" not in log["metadata"].get("attributes", {})
    # the span name alone is not a tool call: Haystack always names the tool
    assert ConventionRegistry().recognise(_span("haystack.agent.step.tool", {})) is None


def test_google_adk_function_response_is_unwrapped_only_for_its_own_tool() -> None:
    """OpenInference's ADK instrumentation records ``{"id", "name", "response"}``; a tool that
    really returns such an object for another name, or from another instrumentation, keeps it."""
    response = json.dumps({"id": "call_1", "name": "get_weather", "response": {"result": "Sunny"}})
    attrs = {"openinference.span.kind": "TOOL", "tool.name": "get_weather", "output.value": response}
    adk = _span("execute_tool get_weather", attrs, scope_name="openinference.instrumentation.google_adk")
    assert _log(adk)["output"] == "Sunny"
    other = _span("execute_tool other", {**attrs, "tool.name": "other"}, scope_name=adk.scope_name)
    assert json.loads(_log(other)["output"]) == json.loads(response)
    assert json.loads(_log(_span("get_weather", attrs))["output"]) == json.loads(response)


def test_logfire_function_span_error_and_plain_text() -> None:
    """Logfire's ``error`` attribute is JSON ``{"message", "data": {"error"}}`` on a failed call; any
    other text is the error as written; a span with the template but no tool name is no tool call."""
    attrs = {"logfire.msg_template": "Function: {name}", "name": "fail_tool", "input": '{"reason": "disk full"}'}
    error = json.dumps({"message": "Error running tool", "data": {"tool_name": "fail_tool", "error": "boom"}})
    log = _log(_span("Function: {name}", {**attrs, "error": error}))
    assert log["error"] == "Error running tool: boom"
    assert log["inputs"] == {"reason": "disk full"}
    assert _log(_span("Function: {name}", {**attrs, "error": "disk on fire"}))["error"] == "disk on fire"
    assert ConventionRegistry().recognise(_span("Function: {name}", {"input": "{}"})) is None


def test_a_remembered_span_kind_gets_the_candidates_a_fresh_registry_finds() -> None:
    """The registry remembers which recognisers a span's name and keys call for: the same name
    and keys with other values are judged anew by the recognisers (the candidates never decide
    on values), and a recogniser added later is asked about kinds remembered before it came."""
    registry = ConventionRegistry()
    tool = _span("execute_tool get_weather", {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "w"})
    chat = _span("execute_tool get_weather", {"gen_ai.operation.name": "chat", "gen_ai.tool.name": "w"})
    for span in (tool, chat, tool, chat):
        assert [r.name for r in registry.candidates(span)] == [r.name for r in ConventionRegistry().candidates(span)]
        assert (registry.recognise(span) is None) is (span is chat)

    class Mine:
        name = "mine"
        span_names: tuple[str, ...] = ()
        marker_keys = ("gen_ai.tool.name",)

        def recognise(self, span: SpanRecord) -> ToolCall | None:
            return ToolCall(name="mine", convention=self.name)

    registry.add(Mine(), first=True)
    call = registry.recognise(chat)
    assert call is not None and call.convention == "mine"
    assert [r.name for r in registry.candidates(tool)][:1] == ["mine"]


def test_a_user_recogniser_may_list_its_consumed_keys_in_any_collection() -> None:
    """``consumed`` is a frozenset by its type, but a recogniser written against the extension API
    may hand back a list or a set: the call is still completed and logged."""

    class Listing:
        name = "listing"
        span_names = ("lookup",)
        marker_keys: tuple[str, ...] = ()

        def __init__(self, consumed: Any) -> None:
            self.consumed = consumed

        def recognise(self, span: SpanRecord) -> ToolCall | None:
            return ToolCall(name="lookup", convention=self.name, consumed=self.consumed)

    span = _span("lookup", {"app.tool.input": '{"q": 1}', "app.note": "n"})
    for consumed in (["app.note"], {"app.note"}, ("app.note", "app.tool.input"), frozenset({"app.note"})):
        log = _log(span, ConventionRegistry([Listing(consumed)]))
        assert log["tool"]["function"]["name"] == "lookup"
