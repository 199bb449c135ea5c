"""LangSmith's OpenTelemetry mode (``LANGSMITH_OTEL_ENABLED``): ``langsmith.span.kind == "tool"``.

Inputs are in ``gen_ai.prompt`` and outputs in ``gen_ai.completion`` wrapped as
``{"output": ...}``; a LangChain tool's output inside is a serialized ``ToolMessage``. Runs before
the GenAI recogniser because these spans may carry ``gen_ai.*`` keys too.
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
from otel_tool_exporter._internal.spans import SpanRecord

KIND = "langsmith.span.kind"
PROMPT = "gen_ai.prompt"
COMPLETION = "gen_ai.completion"


def _is_tool(value: Any) -> bool:
    return isinstance(value, str) and value.lower() == "tool"


class LangSmithToolRecogniser:
    name = "langsmith"
    span_names: tuple[str, ...] = ()
    marker_keys = (KIND,)

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
