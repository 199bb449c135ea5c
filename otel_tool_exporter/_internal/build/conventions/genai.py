"""OpenTelemetry GenAI semantic conventions: ``gen_ai.operation.name == "execute_tool"``.

Used as-is by pydantic-ai (v3+ instrumentation), Google ADK (v1 and v2), Strands (default and
latest semconv), Logfire and others. The framework-specific traps handled here:

* content only in span events (Strands default: ``gen_ai.tool.message`` / ``gen_ai.choice``;
  Strands latest also repeats it in ``gen_ai.client.inference.operation.details``);
* Google ADK v1 keys (``gcp.vertex.agent.tool_call_args`` / ``tool_response``), ADK's
  ``{"result": ...}`` wrapper around non-dict returns, and ADK v1's failing-tool span that has no
  attributes at all (the tool name is only in the span name ``execute_tool <name>``);
* Strands content blocks ``[{"text": ...}]`` around results;
* ADK's pseudo-tool span ``execute_tool (merged)`` for parallel calls: not a tool call, no Log;
* placeholder call ids (``<not specified>``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from otel_tool_exporter._internal.build.conventions._base import AttrReader, ToolCall, clean_call_id, json_object
from otel_tool_exporter._internal.build.conventions._envelopes import adk_result, content_blocks_text, take_decoded
from otel_tool_exporter._internal.build.values import MISSING, decode_json
from otel_tool_exporter._internal.spans import SpanRecord

OPERATION = "gen_ai.operation.name"
TOOL_NAME = "gen_ai.tool.name"
ARGUMENTS = "gen_ai.tool.call.arguments"
RESULT = "gen_ai.tool.call.result"
DESCRIPTION = "gen_ai.tool.description"
CALL_ID = "gen_ai.tool.call.id"
JSON_SCHEMA = "gen_ai.tool.json_schema"
ADK_ARGS = "gcp.vertex.agent.tool_call_args"
ADK_RESPONSE = "gcp.vertex.agent.tool_response"
SPAN_PREFIX = "execute_tool"

PSEUDO_TOOL_NAMES = frozenset({"(merged tools)", "(merged)"})

_EV_TOOL_MESSAGE = "gen_ai.tool.message"
_EV_CHOICE = "gen_ai.choice"
_EV_DETAILS = "gen_ai.client.inference.operation.details"


def _name_from_span(span_name: str) -> str | None:
    prefix = SPAN_PREFIX + " "
    return span_name[len(prefix) :].strip() or None if span_name.startswith(prefix) else None


def _is_pseudo(name: str) -> bool:
    return name in PSEUDO_TOOL_NAMES or name.startswith("(merged")


def _is_adk(span: SpanRecord) -> bool:
    return span.scope_name == "gcp.vertex.agent" or span.attributes.get("gen_ai.system") == "gcp.vertex.agent"


def _is_strands(span: SpanRecord) -> bool:
    attrs = span.attributes
    return (
        (span.scope_name or "").startswith("strands")
        or attrs.get("gen_ai.system") == "strands-agents"
        or attrs.get("gen_ai.provider.name") == "strands-agents"
    )


def _tool_parts(messages: Any, part_type: str) -> list[Mapping[str, Any]]:
    found: list[Mapping[str, Any]] = []
    messages = decode_json(messages)
    for message in messages if isinstance(messages, list) else ():
        if not isinstance(message, Mapping) or not isinstance(message.get("parts"), list):
            continue
        found.extend(p for p in message["parts"] if isinstance(p, Mapping) and p.get("type") == part_type)
    return found


class _EventContent:
    """Arguments, result and call id recorded in span events rather than attributes."""

    __slots__ = ("arguments", "call_id", "indices", "result")

    def __init__(self, span: SpanRecord) -> None:
        self.arguments: Any = MISSING
        self.result: Any = MISSING
        self.call_id: str | None = None
        self.indices: set[int] = set()
        for index, event in enumerate(span.events):
            attrs = event.attributes
            if event.name == _EV_TOOL_MESSAGE and "content" in attrs:
                self.arguments = decode_json(attrs["content"])
                self.call_id = self.call_id or clean_call_id(attrs.get("id"))
                self.indices.add(index)
            elif event.name == _EV_CHOICE and "message" in attrs:
                self.result = decode_json(attrs["message"])
                self.call_id = self.call_id or clean_call_id(attrs.get("id"))
                self.indices.add(index)
            elif event.name == _EV_DETAILS:
                calls = _tool_parts(attrs.get("gen_ai.input.messages"), "tool_call")
                responses = _tool_parts(attrs.get("gen_ai.output.messages"), "tool_call_response")
                if calls:
                    self.arguments = decode_json(calls[0].get("arguments", MISSING))
                    self.call_id = self.call_id or clean_call_id(calls[0].get("id"))
                    self.indices.add(index)
                if responses:
                    self.result = decode_json(responses[0].get("response", MISSING))
                    self.call_id = self.call_id or clean_call_id(responses[0].get("id"))
                    self.indices.add(index)


class GenAIToolRecogniser:
    """``execute_tool`` spans of the OTel GenAI semantic conventions (last in the default order:
    the most generic marker, which several more specific conventions also carry)."""

    name = "genai"
    span_names: tuple[str, ...] = ()
    span_name_prefixes: tuple[str, ...] = (SPAN_PREFIX,)
    marker_keys: tuple[str, ...] = (OPERATION,)

    def matches_at_start(self, name: str, attrs: Mapping[str, Any]) -> bool:
        operation = attrs.get(OPERATION)
        if operation is not None and operation != "execute_tool":
            return False
        tool_name = attrs.get(TOOL_NAME) or _name_from_span(name)
        return bool(tool_name) and not _is_pseudo(str(tool_name))

    def recognise(self, span: SpanRecord) -> ToolCall | None:
        attrs = span.attributes
        operation = attrs.get(OPERATION)
        if operation is None:
            # ADK v1's failing tool: no attributes, the name only in ``execute_tool <name>``
            if not span.name.startswith(SPAN_PREFIX + " "):
                return None
        elif operation != "execute_tool":
            return None
        reader = AttrReader(attrs)
        reader.mark(OPERATION)
        tool_name = reader.text(TOOL_NAME) or _name_from_span(span.name)
        if not tool_name or _is_pseudo(tool_name) or _is_pseudo(span.name[len(SPAN_PREFIX) + 1 :]):
            return None

        arguments = take_decoded(reader, ARGUMENTS, ADK_ARGS)
        result = take_decoded(reader, RESULT, ADK_RESPONSE)

        events = _EventContent(span) if span.events else None
        if events is not None:
            if arguments is MISSING:
                arguments = events.arguments
            if result is MISSING:
                result = events.result

        if _is_adk(span) and result is not MISSING:
            result = adk_result(result)
        if _is_strands(span) and result is not MISSING:
            text = content_blocks_text(result)
            if text is not None:
                result = decode_json(text)

        schema = None
        if JSON_SCHEMA in attrs:
            schema = json_object(attrs[JSON_SCHEMA])
            if schema is not None:
                reader.mark(JSON_SCHEMA)
        call_id = clean_call_id(reader.take(CALL_ID))
        if call_id is None and events is not None:
            call_id = events.call_id
        return ToolCall(
            name=tool_name,
            convention=self.name,
            arguments=arguments,
            result=result,
            description=reader.text(DESCRIPTION),
            schema=schema,
            call_id=call_id,
            consumed=reader.frozen(),
            consumed_events=frozenset(events.indices) if events is not None else frozenset(),
        )
