"""pydantic-ai's legacy instrumentation (``InstrumentationSettings(version=2)``).

Every tool span is named ``running tool``; the call lives in ``tool_arguments`` /
``tool_response``. These spans also carry ``gen_ai.operation.name = "execute_tool"``, so this
recogniser runs before the GenAI one, which would miss the arguments and result.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from otel_tool_exporter._internal.build.conventions._base import AttrReader, ToolCall, clean_call_id
from otel_tool_exporter._internal.build.conventions._envelopes import take_decoded
from otel_tool_exporter._internal.spans import SpanRecord

SPAN_NAME = "running tool"
ARGUMENTS = "tool_arguments"
RESULT = "tool_response"
_MSG_PREFIX = "running tool: "


class PydanticAIV2Recogniser:
    name = "pydantic_ai_v2"
    span_names: tuple[str, ...] = (SPAN_NAME,)
    marker_keys: tuple[str, ...] = ()

    def matches_at_start(self, name: str, attrs: Mapping[str, Any]) -> bool:
        return name == SPAN_NAME

    def recognise(self, span: SpanRecord) -> ToolCall | None:
        if span.name != SPAN_NAME:
            return None
        attrs = span.attributes
        reader = AttrReader(attrs)
        name = reader.text("gen_ai.tool.name")
        if name is None:
            message = attrs.get("logfire.msg")
            if isinstance(message, str) and message.startswith(_MSG_PREFIX):
                name = message[len(_MSG_PREFIX) :].strip() or None
        if not name:
            return None
        if attrs.get("gen_ai.operation.name") == "execute_tool":
            reader.mark("gen_ai.operation.name")
        arguments = take_decoded(reader, ARGUMENTS)
        result = take_decoded(reader, RESULT)
        return ToolCall(
            name=name,
            convention=self.name,
            arguments=arguments,
            result=result,
            description=reader.text("gen_ai.tool.description"),
            call_id=clean_call_id(reader.take("gen_ai.tool.call.id")),
            consumed=reader.frozen(),
        )
