"""MLflow tracing (``@mlflow.trace(span_type="TOOL")``) exported over OTLP.

Every ``mlflow.*`` attribute value is JSON-encoded, plain strings included: the marker is
``mlflow.spanType == '"TOOL"'``, inputs are ``mlflow.spanInputs`` (a JSON object of the bound
parameters) and the result ``mlflow.spanOutputs`` (a string result arrives JSON-quoted). The tool
name is the span name; ``mlflow.spanFunctionName`` (the Python function) may differ.

MLflow's LangChain autologging (``mlflow.langchain.autolog()``) records a tool's output as the
serialized ``ToolMessage`` (unwrapped to its content here) and the call id in ``tool_call_id``
(JSON-encoded, like every value MLflow writes).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from otel_tool_exporter._internal.build.conventions._base import AttrReader, ToolCall, clean_call_id
from otel_tool_exporter._internal.build.conventions._envelopes import langchain_tool_message, take_decoded
from otel_tool_exporter._internal.build.values import decode_json
from otel_tool_exporter._internal.spans import SpanRecord

SPAN_TYPE = "mlflow.spanType"
INPUTS = "mlflow.spanInputs"
OUTPUTS = "mlflow.spanOutputs"
CALL_ID = "tool_call_id"  # LangChain autologging: the callback's tool_call_id, as an attribute


def _is_tool(value: Any) -> bool:
    decoded_value = decode_json(value)
    return isinstance(decoded_value, str) and decoded_value.upper() == "TOOL"


class MLflowToolRecogniser:
    name = "mlflow"
    span_names: tuple[str, ...] = ()
    marker_keys: tuple[str, ...] = (SPAN_TYPE,)

    def matches_at_start(self, name: str, attrs: Mapping[str, Any]) -> bool:
        return _is_tool(attrs.get(SPAN_TYPE))

    def recognise(self, span: SpanRecord) -> ToolCall | None:
        attrs = span.attributes
        if not _is_tool(attrs.get(SPAN_TYPE)):
            return None
        reader = AttrReader(attrs)
        reader.mark(SPAN_TYPE)
        name = span.name or decode_json(attrs.get("mlflow.spanFunctionName"))
        if not isinstance(name, str) or not name:
            return None
        arguments = take_decoded(reader, INPUTS)
        result = take_decoded(reader, OUTPUTS)
        result, envelope_call_id, _ = langchain_tool_message(result)
        return ToolCall(
            name=name,
            convention=self.name,
            arguments=arguments,
            result=result,
            call_id=clean_call_id(decode_json(reader.take(CALL_ID))) or envelope_call_id,
            consumed=reader.frozen(),
        )
