"""Logfire's OpenAI Agents SDK integration (``logfire.instrument_openai_agents()``): ``Function: {name}``.

Logfire names a span after its message template, so every tool call is a span named
``Function: {name}`` (``logfire.msg_template`` says the same) with un-namespaced attributes:
``name`` (the tool), ``input`` (the arguments, JSON), ``output`` (a string as is, anything else as
JSON) and, for a failed call, ``error`` (JSON ``{"message", "data": {"tool_name", "error"}}``)
with the status ERROR and no description.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from otel_tool_exporter._internal.build.conventions._base import AttrReader, ToolCall, json_object
from otel_tool_exporter._internal.build.conventions._envelopes import take_decoded
from otel_tool_exporter._internal.spans import SpanRecord

SPAN_NAME = "Function: {name}"
TEMPLATE = "logfire.msg_template"


def _error_text(value: Any) -> str | None:
    """``{"message": m, "data": {"error": e}}`` as ``"m: e"``; other text as it is."""
    error = json_object(value)
    if error is None:
        return None if value in (None, "") else str(value)
    message = error.get("message")
    data = error.get("data")
    detail = data.get("error") if isinstance(data, Mapping) else None
    parts = [str(part) for part in (message, detail) if part not in (None, "")]
    return ": ".join(parts) if parts else str(value)


class LogfireToolRecogniser:
    name = "logfire"
    span_names: tuple[str, ...] = (SPAN_NAME,)
    marker_keys: tuple[str, ...] = ()

    def matches_at_start(self, name: str, attrs: Mapping[str, Any]) -> bool:
        return name == SPAN_NAME

    def recognise(self, span: SpanRecord) -> ToolCall | None:
        attrs = span.attributes
        if span.name != SPAN_NAME and attrs.get(TEMPLATE) != SPAN_NAME:
            return None
        reader = AttrReader(attrs)
        name = reader.text("name")
        if not name:
            return None
        reader.mark(TEMPLATE)
        arguments = take_decoded(reader, "input")
        result = take_decoded(reader, "output")
        error = _error_text(reader.take("error")) if "error" in attrs else None
        return ToolCall(
            name=name,
            convention=self.name,
            arguments=arguments,
            result=result,
            error=error,
            consumed=reader.frozen(),
        )
