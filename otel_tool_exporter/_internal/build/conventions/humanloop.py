"""Spans written by Humanloop's own SDK (``humanloop.tool``), and the ``humanloop.*`` overrides.

The SDK flattens nested values into dotted attribute keys (``humanloop.log.inputs.city``), so they
are folded back into objects here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from otel_tool_exporter._internal.build.conventions._base import ToolCall
from otel_tool_exporter._internal.build.values import MISSING, decode_json
from otel_tool_exporter._internal.spans import SpanRecord

FILE_TYPE = "humanloop.file.type"
FUNCTION_PREFIX = "humanloop.file.function."
INPUTS_PREFIX = "humanloop.log.inputs."
INPUTS = "humanloop.log.inputs"
OUTPUT = "humanloop.log.output"


def unflatten(attrs: Mapping[str, Any], prefix: str) -> tuple[dict[str, Any], set[str]]:
    """Fold ``prefix.a.b = v`` keys into ``{"a": {"b": v}}``; numeric segments stay dict keys
    unless a whole level is ``0..n-1``, in which case it becomes a list."""
    out: dict[str, Any] = {}
    made = {id(out)}  # the levels made here; a span's own dict value is copied before it is added to
    used: set[str] = set()
    start = len(prefix)
    for key, value in attrs.items():
        if not key.startswith(prefix):
            continue
        used.add(key)
        *path, last = key[start:].split(".")
        node = out
        for part in path:
            child = node.get(part)
            if not isinstance(child, dict) or id(child) not in made:
                child = node[part] = dict(child) if isinstance(child, dict) else {}
                made.add(id(child))
            node = child
        node[last] = value
    return _listify(out), used


def _listify(value: Any) -> Any:
    """A copy of the folded tree in which every level keyed ``0..n-1`` is a list (the span's own
    values are never changed: the tree may hold them)."""
    if not isinstance(value, dict):
        return value
    value = {k: _listify(v) if isinstance(v, dict) else v for k, v in value.items()}
    # the first key settles most levels: a name (``type``, ``city``) is no index
    if value and next(iter(value)).isdigit() and _is_index_level(value):
        return [value[str(i)] for i in range(len(value))]
    return value


def _is_index_level(level: dict[str, Any]) -> bool:
    return all(k.isdigit() for k in level) and sorted(int(k) for k in level) == list(range(len(level)))


class HumanloopSDKRecogniser:
    name = "humanloop"
    span_names: tuple[str, ...] = ("humanloop.tool",)
    marker_keys: tuple[str, ...] = (FILE_TYPE,)

    def matches_at_start(self, name: str, attrs: Mapping[str, Any]) -> bool:
        return name == "humanloop.tool" or attrs.get(FILE_TYPE) == "tool"

    def recognise(self, span: SpanRecord) -> ToolCall | None:
        attrs = span.attributes
        if span.name != "humanloop.tool" and attrs.get(FILE_TYPE) != "tool":
            return None
        function, consumed = unflatten(attrs, FUNCTION_PREFIX)
        name = function.get("name") or attrs.get("humanloop.file.path") or span.name
        arguments: Any = MISSING
        if INPUTS in attrs:
            arguments = decode_json(attrs[INPUTS])
            consumed.add(INPUTS)
        else:
            inputs, used = unflatten(attrs, INPUTS_PREFIX)
            if used:
                arguments = inputs
                consumed |= used
        result: Any = MISSING
        if OUTPUT in attrs:
            result = decode_json(attrs[OUTPUT])
            consumed.add(OUTPUT)
        parameters = function.get("parameters")
        consumed.add(FILE_TYPE)
        return ToolCall(
            name=str(name),
            convention=self.name,
            arguments=arguments,
            result=result,
            description=function.get("description") if isinstance(function.get("description"), str) else None,
            schema=parameters if isinstance(parameters, dict) else None,
            consumed=frozenset(consumed).intersection(attrs),
        )
