"""Braintrust's OTel attributes: ``braintrust.span_attributes`` with ``type == "tool"``.

``braintrust.span_attributes`` is a JSON object (``{"type": "tool", "name": ...}``); some
emitters flatten it to ``braintrust.span_attributes.type``. Input and output are
``braintrust.input_json`` / ``braintrust.output_json`` (JSON text) or ``braintrust.input`` /
``braintrust.output``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from otel_tool_exporter._internal.build.conventions._base import AttrReader, ToolCall, json_object
from otel_tool_exporter._internal.build.conventions._envelopes import take_decoded
from otel_tool_exporter._internal.spans import SpanRecord

SPAN_ATTRS = "braintrust.span_attributes"
SPAN_TYPE = "braintrust.span_attributes.type"
SPAN_NAME = "braintrust.span_attributes.name"


def _span_attributes(attrs: Mapping[str, Any]) -> dict[str, Any]:
    found = json_object(attrs.get(SPAN_ATTRS)) or {}
    if SPAN_TYPE in attrs:
        found.setdefault("type", attrs[SPAN_TYPE])
    if SPAN_NAME in attrs:
        found.setdefault("name", attrs[SPAN_NAME])
    return found


class BraintrustToolRecogniser:
    name = "braintrust"
    span_names: tuple[str, ...] = ()
    marker_keys: tuple[str, ...] = (SPAN_ATTRS, SPAN_TYPE)

    def matches_at_start(self, name: str, attrs: Mapping[str, Any]) -> bool:
        return _span_attributes(attrs).get("type") == "tool"

    def recognise(self, span: SpanRecord) -> ToolCall | None:
        attrs = span.attributes
        info = _span_attributes(attrs)
        if info.get("type") != "tool":
            return None
        reader = AttrReader(attrs)
        reader.mark(SPAN_ATTRS, SPAN_TYPE, SPAN_NAME)
        name = info.get("name") if isinstance(info.get("name"), str) and info.get("name") else span.name
        if not name:
            return None
        arguments = take_decoded(reader, "braintrust.input_json", "braintrust.input")
        result = take_decoded(reader, "braintrust.output_json", "braintrust.output")
        return ToolCall(
            name=name,
            convention=self.name,
            arguments=arguments,
            result=result,
            consumed=reader.frozen(),
        )
