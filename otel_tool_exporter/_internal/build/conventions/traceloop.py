"""OpenLLMetry / Traceloop: ``traceloop.span.kind == "tool"``.

Two producers share the marker:

* the ``@tool`` decorator (traceloop-sdk): ``traceloop.entity.input`` is
  ``{"args": [...], "kwargs": {...}}`` and ``traceloop.entity.output`` is ``json.dumps(result)``,
  so a string result arrives JSON-quoted;
* the LangChain instrumentation: ``gen_ai.tool.call.arguments`` (= ``traceloop.entity.input``)
  is LangChain's callback envelope ``{"input_str", "tags", "metadata", "inputs", "kwargs":
  {"tool_call_id"}}`` and the result is ``{"output": <serialized ToolMessage>, "kwargs"}``.

Both may be cut at the attribute length limit; what can be read is used and the raw text kept in
metadata. Runs before the GenAI recogniser because the LangChain spans also carry
``gen_ai.operation.name = "execute_tool"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from otel_tool_exporter._internal.build.conventions._base import AttrReader, ToolCall, clean_call_id
from otel_tool_exporter._internal.build.conventions._envelopes import (
    decoded,
    langchain_callback_input,
    langchain_tool_message,
)
from otel_tool_exporter._internal.build.values import MISSING
from otel_tool_exporter._internal.spans import SpanRecord

KIND = "traceloop.span.kind"
ENTITY_NAME = "traceloop.entity.name"
ENTITY_INPUT = "traceloop.entity.input"
ENTITY_OUTPUT = "traceloop.entity.output"
GENAI_ARGS = "gen_ai.tool.call.arguments"
GENAI_RESULT = "gen_ai.tool.call.result"


def _read_pair(reader: AttrReader, primary: str, mirror: str) -> tuple[Any, bool]:
    """Read ``primary`` (else ``mirror``); consume the mirror too when it holds the same text."""
    attrs = reader.attrs
    key = primary if primary in attrs else mirror if mirror in attrs else None
    if key is None:
        return MISSING, False
    raw = reader.take(key)
    other = mirror if key == primary else primary
    if other in attrs and attrs[other] == raw:
        reader.mark(other)
    value, cut = decoded(raw)
    if cut:
        reader.release(key)
        reader.release(other)
    return value, cut


class TraceloopToolRecogniser:
    name = "traceloop"
    span_names: tuple[str, ...] = ()
    marker_keys: tuple[str, ...] = (KIND,)

    def matches_at_start(self, name: str, attrs: Mapping[str, Any]) -> bool:
        return attrs.get(KIND) == "tool"

    def recognise(self, span: SpanRecord) -> ToolCall | None:
        attrs = span.attributes
        if attrs.get(KIND) != "tool":
            return None
        reader = AttrReader(attrs)
        reader.mark(KIND)
        if attrs.get("gen_ai.operation.name") == "execute_tool":
            reader.mark("gen_ai.operation.name")
        name = reader.text(ENTITY_NAME, "gen_ai.tool.name")
        if name is None and span.name.endswith(".tool"):
            name = span.name[: -len(".tool")] or None
        name = name or span.name
        if name == attrs.get("gen_ai.tool.name"):
            reader.mark("gen_ai.tool.name")

        arguments, _ = _read_pair(reader, GENAI_ARGS, ENTITY_INPUT)
        arguments, input_call_id, _ = langchain_callback_input(arguments)
        result, _ = _read_pair(reader, GENAI_RESULT, ENTITY_OUTPUT)
        result, output_call_id, _ = langchain_tool_message(result)

        call_id = clean_call_id(reader.take("gen_ai.tool.call.id")) or input_call_id or output_call_id
        return ToolCall(
            name=name,
            convention=self.name,
            arguments=arguments,
            result=result,
            description=reader.text("gen_ai.tool.description"),
            call_id=call_id,
            consumed=reader.frozen(),
        )
