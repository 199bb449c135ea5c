"""AgentOps (v0.4+, OTel-based): ``agentops.span.kind == "tool"``.

As the SDK's ``@tool`` decorator writes it (captured from agentops 0.4.21): span ``{name}.tool``,
``operation.name`` (the tool), ``agentops.tool.input`` (the decorator's ``{"args", "kwargs"}``
envelope as JSON) and ``agentops.tool.output`` (a string as is, anything else as JSON); a failure
sets the status and exception events. Older releases spelled these ``agentops.entity.name`` /
``.input`` / ``.output``, and AgentOps' tool attributes add ``tool.name``, ``tool.parameters`` (the
call's *arguments*, unlike OpenInference where it is a schema) and ``tool.result``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from otel_tool_exporter._internal.build.conventions._base import AttrReader, ToolCall, clean_call_id
from otel_tool_exporter._internal.build.conventions._envelopes import take_decoded
from otel_tool_exporter._internal.spans import SpanRecord

KIND = "agentops.span.kind"


class AgentOpsToolRecogniser:
    name = "agentops"
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
        name = reader.text("tool.name", "operation.name", "agentops.entity.name")
        if name is None and span.name.endswith(".tool"):
            name = span.name[: -len(".tool")] or None
        name = name or span.name
        if not name:
            return None
        arguments = take_decoded(reader, "agentops.tool.input", "agentops.entity.input", "tool.parameters")
        result = take_decoded(reader, "agentops.tool.output", "agentops.entity.output", "tool.result")
        return ToolCall(
            name=name,
            convention=self.name,
            arguments=arguments,
            result=result,
            description=reader.text("tool.description"),
            call_id=clean_call_id(reader.take("tool.id", "tool.call_id")),
            consumed=reader.frozen(),
        )
