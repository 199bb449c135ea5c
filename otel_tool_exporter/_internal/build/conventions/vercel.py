"""Vercel AI SDK (``ai`` on npm, ``experimental_telemetry``): spans named ``ai.toolCall``.

They usually arrive over OTLP from a Node process. ``ai.toolCall.args`` / ``ai.toolCall.result``
are ``JSON.stringify`` output, so a string result is JSON-quoted (``'"Sunny"'``) and is unquoted
here. Newer SDK versions spell them ``ai.toolCall.input`` / ``ai.toolCall.output``. Schemas and
descriptions live on the sibling ``ai.generateText.doGenerate`` span (``ai.prompt.tools``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from otel_tool_exporter._internal.build.conventions._base import AttrReader, ToolCall, clean_call_id
from otel_tool_exporter._internal.build.conventions._envelopes import take_decoded
from otel_tool_exporter._internal.spans import SpanRecord

SPAN_NAME = "ai.toolCall"
OPERATION_ID = "ai.operationId"


class VercelToolRecogniser:
    name = "vercel"
    span_names: tuple[str, ...] = (SPAN_NAME,)
    marker_keys: tuple[str, ...] = (OPERATION_ID,)

    def matches_at_start(self, name: str, attrs: Mapping[str, Any]) -> bool:
        return name == SPAN_NAME or attrs.get(OPERATION_ID) == SPAN_NAME

    def recognise(self, span: SpanRecord) -> ToolCall | None:
        attrs = span.attributes
        if span.name != SPAN_NAME and attrs.get(OPERATION_ID) != SPAN_NAME:
            return None
        reader = AttrReader(attrs)
        reader.mark(OPERATION_ID)
        name = reader.text("ai.toolCall.name")
        if not name:
            return None
        arguments = take_decoded(reader, "ai.toolCall.args", "ai.toolCall.input")
        result = take_decoded(reader, "ai.toolCall.result", "ai.toolCall.output")
        return ToolCall(
            name=name,
            convention=self.name,
            arguments=arguments,
            result=result,
            call_id=clean_call_id(reader.take("ai.toolCall.id")),
            consumed=reader.frozen(),
        )
