"""Tool descriptions and JSON Schemas learned from sibling spans (SPEC §3 ``tool`` row).

LLM/chat spans often carry the definitions of the tools offered to the model, while the tool
span itself carries only the name. This memory keeps the latest definition per (trace, tool name)
and per tool name, both bounded, so the tool's Log can still say what the tool is.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from .conventions import ToolSchemaHint
from .spans import SpanRecord
from .values import decode_json

__all__ = ["SchemaExtractor", "SchemaMemory", "genai_tool_definitions"]

SchemaExtractor = Callable[[SpanRecord], Iterable[ToolSchemaHint]]


def _hint_from_definition(item: Any) -> ToolSchemaHint | None:
    """Read one OpenAI-style (or flat) tool definition."""
    if not isinstance(item, dict):
        return None
    function = item.get("function") if isinstance(item.get("function"), dict) else item
    name = function.get("name")
    if not isinstance(name, str) or not name:
        return None
    parameters = function.get("parameters", function.get("parameters_json_schema", function.get("inputSchema")))
    parameters = decode_json(parameters)
    description = function.get("description")
    return ToolSchemaHint(
        name=name,
        description=description if isinstance(description, str) else None,
        parameters=parameters if isinstance(parameters, dict) else None,
    )


def genai_tool_definitions(span: SpanRecord) -> Iterable[ToolSchemaHint]:
    """``gen_ai.tool.definitions`` (GenAI semconv) on chat spans; pydantic-ai's
    ``model_request_parameters.function_tools`` too."""
    attrs = span.attributes
    raw = attrs.get("gen_ai.tool.definitions")
    if raw is not None:
        decoded = decode_json(raw)
        if isinstance(decoded, list):
            for item in decoded:
                hint = _hint_from_definition(item)
                if hint is not None:
                    yield hint
    raw = attrs.get("model_request_parameters")
    if raw is not None:
        decoded = decode_json(raw)
        if isinstance(decoded, dict):
            for item in decoded.get("function_tools") or ():
                hint = _hint_from_definition(item)
                if hint is not None:
                    yield hint


class SchemaMemory:
    def __init__(self, extractors: Iterable[SchemaExtractor] | None = None, *, max_entries: int = 10_000) -> None:
        self.extractors: list[SchemaExtractor] = list(extractors or [genai_tool_definitions])
        self._by_trace: OrderedDict[tuple[int, str], ToolSchemaHint] = OrderedDict()
        self._by_name: OrderedDict[str, ToolSchemaHint] = OrderedDict()
        self._max = max_entries

    def learn(self, span: SpanRecord) -> None:
        for extract in self.extractors:
            try:
                hints = list(extract(span))
            except Exception:
                continue
            for hint in hints:
                self._put(self._by_trace, (span.trace_id, hint.name), hint)
                self._put(self._by_name, hint.name, hint)

    def _put(self, table: OrderedDict[Any, ToolSchemaHint], key: Any, hint: ToolSchemaHint) -> None:
        table[key] = hint
        table.move_to_end(key)
        while len(table) > self._max:
            table.popitem(last=False)

    def lookup(self, trace_id: int, name: str) -> ToolSchemaHint | None:
        return self._by_trace.get((trace_id, name)) or self._by_name.get(name)
