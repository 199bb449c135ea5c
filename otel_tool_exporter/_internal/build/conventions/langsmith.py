"""LangSmith's OpenTelemetry mode (``LANGSMITH_OTEL_ENABLED``): ``langsmith.span.kind == "tool"``.

As the SDK writes them (captured in a LangGraph run): ``gen_ai.operation.name = "execute_tool"``,
``gen_ai.tool.name``, ``gen_ai.tool.call.id``; the run's inputs (the arguments) in
``gen_ai.prompt`` and its outputs in ``gen_ai.completion`` as ``{"output": ...}``, where a LangChain
tool's output is the serialized ``ToolMessage`` (``{"content", "type": "tool", "tool_call_id",
"additional_kwargs", "response_metadata", ...}``). A failed run has status ERROR, an ``exception``
event, and outputs ``{}``: that is "no output", not an empty object. No description on the tool
span; the definitions are in ``gen_ai.tool.definitions`` of the sibling chat span. Runs before the
GenAI recogniser because these spans carry ``gen_ai.*`` keys too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from otel_tool_exporter._internal.build.conventions._base import AttrReader, ToolCall, clean_call_id
from otel_tool_exporter._internal.build.conventions._envelopes import (
    langchain_tool_message,
    langsmith_output,
    take_decoded,
)
from otel_tool_exporter._internal.build.values import MISSING
from otel_tool_exporter._internal.spans import SpanRecord

KIND = "langsmith.span.kind"
PROMPT = "gen_ai.prompt"
COMPLETION = "gen_ai.completion"


def _is_tool(value: Any) -> bool:
    return isinstance(value, str) and value.lower() == "tool"


class LangSmithToolRecogniser:
    name = "langsmith"
    span_names: tuple[str, ...] = ()
    marker_keys: tuple[str, ...] = (KIND,)

    def matches_at_start(self, name: str, attrs: Mapping[str, Any]) -> bool:
        return _is_tool(attrs.get(KIND))

    def recognise(self, span: SpanRecord) -> ToolCall | None:
        attrs = span.attributes
        if not _is_tool(attrs.get(KIND)):
            return None
        reader = AttrReader(attrs)
        reader.mark(KIND)
        if attrs.get("gen_ai.operation.name") == "execute_tool":
            reader.mark("gen_ai.operation.name")
        name = reader.text("gen_ai.tool.name", "langsmith.span.name") or span.name
        if not name:
            return None
        arguments = take_decoded(reader, PROMPT, "gen_ai.tool.call.arguments")
        result = take_decoded(reader, COMPLETION, "gen_ai.tool.call.result")
        if result == {} and span.status_code == "ERROR":
            result = MISSING  # the failed run's empty outputs
        result = langsmith_output(result)
        result, envelope_call_id, _ = langchain_tool_message(result)
        return ToolCall(
            name=name,
            convention=self.name,
            arguments=arguments,
            result=result,
            description=reader.text("gen_ai.tool.description"),
            call_id=clean_call_id(reader.take("gen_ai.tool.call.id")) or envelope_call_id,
            consumed=reader.frozen(),
        )
