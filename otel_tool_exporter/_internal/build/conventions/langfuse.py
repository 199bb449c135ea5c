"""Langfuse (v3 SDK, OTel-based): ``langfuse.observation.type == "tool"``.

The tool name is the span name. ``langfuse.observation.input`` is the ``@observe`` decorator's
``{"args": [...], "kwargs": {...}}`` envelope (JSON text); the output is stored raw for a string
and as JSON text for anything else. A failed observation may carry only
``langfuse.observation.level = "ERROR"`` + ``status_message``, which becomes the error when the
span status says nothing.

Langfuse's LangChain integration (``langfuse.langchain.CallbackHandler``) records a tool's input as
the arguments object, its output as the serialized ``ToolMessage`` (unwrapped to its content here),
and the call id as ``langfuse.observation.metadata.tool_call_id`` (JSON text, like every metadata
value).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from otel_tool_exporter._internal.build.conventions._base import AttrReader, ToolCall, clean_call_id
from otel_tool_exporter._internal.build.conventions._envelopes import langchain_tool_message, take_decoded
from otel_tool_exporter._internal.build.values import decode_json
from otel_tool_exporter._internal.spans import SpanRecord

TYPE = "langfuse.observation.type"
INPUT = "langfuse.observation.input"
OUTPUT = "langfuse.observation.output"
LEVEL = "langfuse.observation.level"
STATUS_MESSAGE = "langfuse.observation.status_message"
CALL_ID = "langfuse.observation.metadata.tool_call_id"


class LangfuseToolRecogniser:
    name = "langfuse"
    span_names: tuple[str, ...] = ()
    marker_keys: tuple[str, ...] = (TYPE,)

    def matches_at_start(self, name: str, attrs: Mapping[str, Any]) -> bool:
        return attrs.get(TYPE) == "tool"

    def recognise(self, span: SpanRecord) -> ToolCall | None:
        attrs = span.attributes
        if attrs.get(TYPE) != "tool" or not span.name:
            return None
        reader = AttrReader(attrs)
        reader.mark(TYPE)
        arguments = take_decoded(reader, INPUT)
        result = take_decoded(reader, OUTPUT)
        result, envelope_call_id, _ = langchain_tool_message(result)
        error = None
        if attrs.get(LEVEL) == "ERROR":
            error = reader.text(STATUS_MESSAGE) or "Langfuse observation level ERROR"
        return ToolCall(
            name=span.name,
            convention=self.name,
            arguments=arguments,
            result=result,
            error=error,
            call_id=clean_call_id(decode_json(reader.take(CALL_ID))) or envelope_call_id,
            consumed=reader.frozen(),
        )
