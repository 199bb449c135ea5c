"""Envelopes that frameworks wrap around a tool's real arguments and return value.

Each helper recognises one envelope by its exact shape and returns what is inside, or says it did
not match. They are applied only by the conventions whose frameworks produce them: a tool whose
genuine return value happens to look like ``{"result": ...}`` is left alone everywhere else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from otel_tool_exporter._internal.build.conventions._base import AttrReader, clean_call_id
from otel_tool_exporter._internal.build.values import MISSING, decode_json, salvage_json, whole_json

__all__ = [
    "adk_result",
    "content_blocks_text",
    "decoded",
    "genai_function_response",
    "langchain_callback_input",
    "langchain_tool_message",
    "langsmith_output",
    "result_object",
    "strip_call_envelope",
    "take_decoded",
]

_LC_MESSAGE_KEYS = frozenset({"content", "tool_call_id", "name", "status", "type", "id", "artifact"})
_LC_MESSAGE_EXTRA_KEYS = _LC_MESSAGE_KEYS | {"additional_kwargs", "response_metadata"}


def decoded(value: Any) -> tuple[Any, bool]:
    """A JSON-in-a-string value decoded (repeatedly), salvaging cut-off JSON.

    The flag is ``True`` when the value was cut off and only a prefix could be read: callers then
    keep the raw attribute in ``metadata.attributes`` instead of consuming it.
    """
    if value is MISSING:
        return MISSING, False
    return salvage_json(value)


def take_decoded(reader: AttrReader, *keys: str) -> Any:
    """The first present of ``keys``, taken and :func:`decoded`. When it was cut off, the raw
    attribute stays in ``metadata.attributes`` (none of ``keys`` is consumed), so the full text
    the span recorded is not lost behind the salvaged prefix."""
    raw = reader.take(*keys)
    if raw is MISSING:
        return MISSING
    if type(raw) is str:
        whole = whole_json(raw)  # the usual JSON object or array, read as salvage_json reads it
        if whole is not MISSING:
            return whole
    value, cut = salvage_json(raw)  # what decoded() does, one call less on every tool span
    if cut:
        for key in keys:
            reader.release(key)
    return value


def _tool_message_fields(node: Any) -> Mapping[str, Any] | None:
    """The ``data``/``kwargs`` of a serialized LangChain ``ToolMessage`` in either of its shapes."""
    if not isinstance(node, Mapping):
        return None
    # OpenInference: {"type": "tool", "data": {"content": ..., "tool_call_id": ...}}
    data = node.get("data")
    if node.get("type") == "tool" and isinstance(data, Mapping) and "content" in data:
        return data
    # langchain-core dumpd(): {"lc": 1, "type": "constructor", "id": [..., "ToolMessage"], "kwargs": {...}}
    ident = node.get("id")
    kwargs = node.get("kwargs")
    if (
        node.get("type") == "constructor"
        and isinstance(ident, Sequence)
        and not isinstance(ident, str)
        and ident
        and ident[-1] == "ToolMessage"
        and isinstance(kwargs, Mapping)
        and "content" in kwargs
    ):
        return kwargs
    # already-flat message dict: {"content": ..., "tool_call_id": ..., "type": "tool"}
    # (LangSmith's OTel mode writes this one with additional_kwargs and response_metadata)
    if (
        node.get("type") == "tool"
        and "content" in node
        and ("tool_call_id" in node or set(node) <= _LC_MESSAGE_EXTRA_KEYS)
    ):
        return node
    return None


def langchain_tool_message(value: Any) -> tuple[Any, str | None, bool]:
    """Unwrap a LangChain ``ToolMessage`` (also inside OpenLLMetry's ``{"output": ..., "kwargs"}``).

    Returns ``(content, tool_call_id, matched)``. ``content`` is decoded when it is JSON text so
    a dict result reads the same as in every other framework.
    """
    node = value
    if isinstance(node, Mapping) and "output" in node and set(node) <= {"output", "kwargs"}:
        node = decode_json(node["output"])
    fields = _tool_message_fields(node)
    if fields is None:
        return value, None, False
    content = fields.get("content")
    if isinstance(content, list):
        text = content_blocks_text(content)
        content = text if text is not None else content
    return decode_json(content), clean_call_id(fields.get("tool_call_id")), True


_RESULT_OBJECT_KEYS = frozenset({"tool_name", "raw_input", "blocks", "content", "is_error"})


def result_object(value: Any) -> tuple[Any, str | None, bool]:
    """Unwrap a serialized result object that carries the tool's raw return value.

    ``{"raw_output": v, "tool_name", "raw_input", "blocks"/"content", "is_error"}`` (LlamaIndex's
    ``ToolOutput``) gives ``v``, and a tool message object (``{"type": "tool", "content": …,
    "tool_call_id": …}``, LangChain's ``ToolMessage`` in any of its serialized shapes) gives its
    content. Returns ``(value, error, matched)``: ``error`` is the object's text when it says
    ``is_error``. Both shapes are specific enough that no plain return value is mistaken for them.
    """
    if type(value) is not dict and not isinstance(value, Mapping):
        return value, None, False  # text, a number, a list: no result object
    if "type" not in value and "output" not in value and "raw_output" not in value:
        return value, None, False  # every shape below has one of these keys: a plain return value
    if "raw_output" in value and len(_RESULT_OBJECT_KEYS.intersection(value)) >= 2:
        raw = decode_json(value["raw_output"])
        error = None
        if value.get("is_error") is True:
            blocks = value.get("blocks")
            text = content_blocks_text(blocks) if isinstance(blocks, list) else None
            content = value.get("content")
            error = text or (content if isinstance(content, str) and content else None) or str(raw)
        return raw, error, True
    content, _, matched = langchain_tool_message(value)
    return (content, None, True) if matched else (value, None, False)


def langchain_callback_input(value: Any) -> tuple[Any, str | None, bool]:
    """Unwrap the LangChain callback envelope OpenLLMetry records as a tool's input.

    ``{"input_str": "<python repr>", "tags", "metadata", "inputs": {real args}, "kwargs":
    {"tool_call_id", ...}}``. The real arguments are ``inputs``; when the envelope was cut before
    ``inputs``, ``input_str`` is the best that is left.
    """
    if not isinstance(value, Mapping) or "input_str" not in value:
        return value, None, False
    kwargs = value.get("kwargs")
    call_id = clean_call_id(kwargs.get("tool_call_id")) if isinstance(kwargs, Mapping) else None
    inputs = value.get("inputs")
    if isinstance(inputs, Mapping) and inputs:
        return dict(inputs), call_id, True
    return decode_json(value.get("input_str")), call_id, True


def strip_call_envelope(value: Any) -> Any:
    """``{"args": [...], "kwargs": {...}}`` plus bookkeeping keys (smolagents adds
    ``sanitize_inputs_outputs``) reduced to the two keys the mapping stage understands."""
    if isinstance(value, Mapping) and "kwargs" in value and "args" in value:
        extra = set(value) - {"args", "kwargs"}
        if extra <= {"sanitize_inputs_outputs"}:
            return {"args": value["args"], "kwargs": value["kwargs"]}
    return value


def adk_result(value: Any) -> Any:
    """Google ADK wraps a non-dict return value as ``{"result": value}``."""
    if isinstance(value, Mapping) and len(value) == 1 and "result" in value:
        return value["result"]
    return value


_FUNCTION_RESPONSE_KEYS = frozenset({"id", "name", "response", "will_continue", "scheduling", "parts"})


def genai_function_response(value: Any, name: str) -> Any:
    """A Google GenAI ``FunctionResponse`` for the tool ``name`` (``{"id", "name", "response"}``, as
    OpenInference records a Google ADK tool's output) reduced to the tool's own return value, ADK's
    ``{"result": ...}`` wrapper included."""
    if (
        isinstance(value, Mapping)
        and "response" in value
        and value.get("name") == name
        and set(value) <= _FUNCTION_RESPONSE_KEYS
    ):
        return adk_result(value["response"])
    return value


def langsmith_output(value: Any) -> Any:
    """LangSmith records outputs as ``{"output": value}``."""
    if isinstance(value, Mapping) and len(value) == 1 and "output" in value:
        return decode_json(value["output"])
    return value


def content_blocks_text(value: Any) -> str | None:
    """Bedrock/Strands/MCP content blocks ``[{"text": ...}, ...]`` as one text, else ``None``.

    Only lists made of text blocks qualify (``{"text"}`` or ``{"type": "text", "text"}``), so a
    tool that returns a list of records is never flattened.
    """
    if not isinstance(value, list) or not value:
        return None
    parts: list[str] = []
    for block in value:
        if not isinstance(block, Mapping) or not isinstance(block.get("text"), str):
            return None
        if not set(block) <= {"text", "type"} or block.get("type", "text") != "text":
            return None
        parts.append(block["text"])
    return "\n".join(parts)
