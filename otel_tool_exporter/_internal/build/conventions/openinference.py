"""OpenInference (Arize Phoenix): ``openinference.span.kind == "TOOL"``.

One convention, many frameworks: LangChain/LangGraph, OpenAI Agents, smolagents, LlamaIndex,
CrewAI… Their traps:

* ``input.value`` is whatever the framework handed over: a JSON object, the bare value of a
  single-argument LangChain tool (``"Paris"``, no mime type), or smolagents' call envelope
  ``{"args", "sanitize_inputs_outputs", "kwargs"}``;
* ``output.value`` may be a serialized LangChain ``ToolMessage``
  (``{"type": "tool", "data": {"content", "tool_call_id", ...}}``), whose ``content`` is the real
  result and whose ``tool_call_id`` is the only call id on the span;
* ``tool.parameters`` is a JSON Schema for OpenAI Agents, but smolagents writes its own inputs
  dict ``{arg: {"type", "description", "nullable"?}}``: that is converted to the JSON Schema
  smolagents itself sends to the model (``any`` → ``string``), so the Tool version matches the
  schema on the LLM span; Agno and AutoGen write the call's arguments there instead (then it is
  just a copy of the inputs);
* Google ADK's instrumentation records the output as the model-facing ``FunctionResponse``
  (``{"id", "name", "response": {"result": ...}}``), unwrapped to the tool's own return value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from otel_tool_exporter._internal.build.conventions._base import AttrReader, ToolCall, clean_call_id
from otel_tool_exporter._internal.build.conventions._envelopes import (
    decoded,
    genai_function_response,
    langchain_tool_message,
    strip_call_envelope,
)
from otel_tool_exporter._internal.build.values import MISSING, decode_json
from otel_tool_exporter._internal.spans import SpanRecord

KIND = "openinference.span.kind"
TOOL_NAME = "tool.name"
DESCRIPTION = "tool.description"
PARAMETERS = "tool.parameters"
INPUT = "input.value"
INPUT_MIME = "input.mime_type"
OUTPUT = "output.value"
OUTPUT_MIME = "output.mime_type"
CALL_ID_KEYS = ("tool.id", "tool_call.id")
ADK_SCOPE = "openinference.instrumentation.google_adk"  # records the FunctionResponse as the output

_SMOLAGENTS_TYPES = {"any": "string", "image": "string", "audio": "string"}


def _is_kind_tool(value: Any) -> bool:
    return isinstance(value, str) and value.upper() == "TOOL"


def _value(raw: Any, mime: Any) -> tuple[Any, bool]:
    """A ``text/plain`` value stays text unless the whole text is an object or a list (JSON, or
    the Python ``repr`` CrewAI and Agno record for a dict result): ``"42"`` stays the text
    ``"42"``. Anything else is decoded."""
    if raw is MISSING:
        return MISSING, False
    if isinstance(mime, str) and mime.lower().startswith("text/"):
        value = decode_json(raw)
        return (value if isinstance(value, (dict, list)) else raw), False
    return decoded(raw)


def smolagents_inputs_to_schema(inputs: Mapping[str, Any]) -> dict[str, Any] | None:
    """smolagents' ``Tool.inputs`` → the JSON Schema smolagents sends to models, else ``None``."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for arg, spec in inputs.items():
        if not isinstance(spec, Mapping) or not isinstance(spec.get("type"), (str, list)):
            return None
        prop = dict(spec)
        kind = prop["type"]
        if isinstance(kind, str):
            prop["type"] = _SMOLAGENTS_TYPES.get(kind, kind)
        else:
            prop["type"] = [_SMOLAGENTS_TYPES.get(k, k) if isinstance(k, str) else k for k in kind]
        properties[str(arg)] = prop
        if not prop.get("nullable"):
            required.append(str(arg))
    return {"type": "object", "properties": properties, "required": required}


def tool_schema(raw: Any) -> dict[str, Any] | None:
    """``tool.parameters`` as a JSON Schema object: as recorded, converted, or ``None``."""
    value = decode_json(raw)
    if not isinstance(value, Mapping) or not value:
        return None
    if value.get("type") == "object" or "properties" in value:
        return dict(value)
    function = value.get("function")
    if isinstance(function, Mapping) and isinstance(function.get("parameters"), Mapping):
        return dict(function["parameters"])  # a whole OpenAI tool definition
    return smolagents_inputs_to_schema(value)


class OpenInferenceToolRecogniser:
    name = "openinference"
    span_names: tuple[str, ...] = ()
    marker_keys: tuple[str, ...] = (KIND,)

    def matches_at_start(self, name: str, attrs: Mapping[str, Any]) -> bool:
        return _is_kind_tool(attrs.get(KIND))

    def recognise(self, span: SpanRecord) -> ToolCall | None:
        attrs = span.attributes
        if not _is_kind_tool(attrs.get(KIND)):
            return None
        reader = AttrReader(attrs)
        reader.mark(KIND)
        name = reader.text(TOOL_NAME, "tool_call.function.name") or span.name
        if not name:
            return None

        arguments, cut_args = _value(reader.take(INPUT), attrs.get(INPUT_MIME))
        if cut_args:
            reader.release(INPUT)
        elif INPUT in attrs:
            reader.mark(INPUT_MIME)
        arguments = strip_call_envelope(arguments)
        if arguments is MISSING and "tool_call.function.arguments" in attrs:
            arguments = decode_json(reader.take("tool_call.function.arguments"))

        result, cut_result = _value(reader.take(OUTPUT), attrs.get(OUTPUT_MIME))
        envelope_call_id = None
        if cut_result:
            reader.release(OUTPUT)
        elif OUTPUT in attrs:
            reader.mark(OUTPUT_MIME)
            result, envelope_call_id, _ = langchain_tool_message(result)
            if span.scope_name == ADK_SCOPE:
                result = genai_function_response(result, name)

        schema = None
        if PARAMETERS in attrs:
            schema = tool_schema(attrs[PARAMETERS])
            if schema is not None:  # an unusable one stays in metadata, never sent as a schema
                reader.mark(PARAMETERS)
            elif arguments is not MISSING and decode_json(attrs[PARAMETERS]) == arguments:
                reader.mark(PARAMETERS)  # Agno writes the call's arguments here: already the inputs
        call_id = clean_call_id(reader.take(*CALL_ID_KEYS)) or envelope_call_id
        return ToolCall(
            name=name,
            convention=self.name,
            arguments=arguments,
            result=result,
            description=reader.text(DESCRIPTION),
            schema=schema,
            call_id=call_id,
            consumed=reader.frozen(),
        )
