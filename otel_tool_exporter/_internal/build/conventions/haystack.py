"""Haystack agents (``haystack-ai``'s tracing with an OpenTelemetry tracer): ``haystack.agent.step.tool``.

Haystack writes tool calls in its own namespace only: the span is named
``haystack.agent.step.tool`` and carries ``haystack.tool.name`` and ``haystack.tool.description``;
with content tracing on (``HAYSTACK_CONTENT_TRACING_ENABLED=true``) the arguments are
``haystack.agent.step.tool.input`` (a JSON object) and the return value
``haystack.agent.step.tool.output`` (a string as is, anything else as JSON). A failed call keeps
the span status UNSET: Haystack sets ``haystack.tool.error = true`` and records the output as
``{"error": "<message>"}``, which becomes the Log's error rather than its output.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from otel_tool_exporter._internal.build.conventions._base import AttrReader, ToolCall
from otel_tool_exporter._internal.build.conventions._envelopes import take_decoded
from otel_tool_exporter._internal.build.values import MISSING
from otel_tool_exporter._internal.spans import SpanRecord

SPAN_NAME = "haystack.agent.step.tool"
NAME = "haystack.tool.name"
DESCRIPTION = "haystack.tool.description"
INPUT = "haystack.agent.step.tool.input"
OUTPUT = "haystack.agent.step.tool.output"
ERROR_FLAG = "haystack.tool.error"


def _flag(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


class HaystackToolRecogniser:
    name = "haystack"
    span_names: tuple[str, ...] = (SPAN_NAME,)
    marker_keys: tuple[str, ...] = (NAME,)

    def matches_at_start(self, name: str, attrs: Mapping[str, Any]) -> bool:
        return name == SPAN_NAME or NAME in attrs

    def recognise(self, span: SpanRecord) -> ToolCall | None:
        attrs = span.attributes
        reader = AttrReader(attrs)
        name = reader.text(NAME)
        if not name:
            return None
        arguments = take_decoded(reader, INPUT)
        result = take_decoded(reader, OUTPUT)
        error = None
        if _flag(attrs.get(ERROR_FLAG)):
            reader.mark(ERROR_FLAG)
            # the output of a failed call is Haystack's {"error": message}, not a return value
            if isinstance(result, Mapping) and set(result) == {"error"}:
                error = str(result["error"])
                result = MISSING
            else:
                error = "Haystack reported the tool call as failed (haystack.tool.error)"
        return ToolCall(
            name=name,
            convention=self.name,
            arguments=arguments,
            result=result,
            error=error,
            description=reader.text(DESCRIPTION),
            consumed=reader.frozen(),
        )
