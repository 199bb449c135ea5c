"""OpenTelemetry GenAI semantic conventions: ``gen_ai.operation.name == "execute_tool"``.

Used as-is by pydantic-ai (v3+ instrumentation), Google ADK, Strands, Logfire and others.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..spans import SpanRecord
from ..values import MISSING, decode_json
from ._base import ToolCall, clean_call_id, json_object

OPERATION = "gen_ai.operation.name"
TOOL_NAME = "gen_ai.tool.name"
ARGUMENTS = "gen_ai.tool.call.arguments"
RESULT = "gen_ai.tool.call.result"
DESCRIPTION = "gen_ai.tool.description"
CALL_ID = "gen_ai.tool.call.id"
JSON_SCHEMA = "gen_ai.tool.json_schema"

PSEUDO_TOOL_NAMES = frozenset({"(merged tools)"})


class GenAIToolRecogniser:
    name = "genai"
    span_names: tuple[str, ...] = ()
    marker_keys = (OPERATION,)

    def matches_at_start(self, name: str, attrs: Mapping[str, Any]) -> bool:
        return attrs.get(OPERATION) == "execute_tool" and attrs.get(TOOL_NAME) not in PSEUDO_TOOL_NAMES

    def recognise(self, span: SpanRecord) -> ToolCall | None:
        attrs = span.attributes
        if attrs.get(OPERATION) != "execute_tool":
            return None
        tool_name = attrs.get(TOOL_NAME)
        if not tool_name:
            prefix = "execute_tool "
            tool_name = span.name[len(prefix) :] if span.name.startswith(prefix) else None
        if not tool_name or tool_name in PSEUDO_TOOL_NAMES:
            return None
        consumed = {OPERATION, TOOL_NAME}
        arguments = result = MISSING
        if ARGUMENTS in attrs:
            arguments = decode_json(attrs[ARGUMENTS])
            consumed.add(ARGUMENTS)
        if RESULT in attrs:
            result = decode_json(attrs[RESULT])
            consumed.add(RESULT)
        description = attrs.get(DESCRIPTION)
        if description is not None:
            consumed.add(DESCRIPTION)
        schema = json_object(attrs.get(JSON_SCHEMA)) if JSON_SCHEMA in attrs else None
        if schema is not None:
            consumed.add(JSON_SCHEMA)
        call_id = clean_call_id(attrs.get(CALL_ID))
        if CALL_ID in attrs:
            consumed.add(CALL_ID)
        return ToolCall(
            name=str(tool_name),
            convention=self.name,
            arguments=arguments,
            result=result,
            description=str(description) if description is not None else None,
            schema=schema,
            call_id=call_id,
            consumed=frozenset(consumed),
        )
