"""Tool descriptions, JSON Schemas and call ids learned from sibling spans.

LLM/chat spans often carry the definitions of the tools offered to the model, while the tool
span itself carries only the name. This memory keeps the latest definition per (trace, tool name)
and per tool name, both bounded, so the tool's Log can still say what the tool is.

Some instrumentations record a tool call's id only on the LLM span that requested it (OpenAI
Agents, smolagents and LangGraph via OpenInference, Langfuse, MLflow). The memory also keeps
those requests per trace, bounded, so the tool span that carries out the call can be given its id.

Extractors run on every non-tool span, so each one first checks for its attribute key and does
nothing else when it is absent.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from otel_tool_exporter._internal.build.conventions import ToolSchemaHint
from otel_tool_exporter._internal.build.values import MISSING, canonical, decode_json, dumps_compact
from otel_tool_exporter._internal.spans import SpanRecord

__all__ = [
    "DEFAULT_EXTRACTORS",
    "SchemaExtractor",
    "SchemaMemory",
    "adk_v1_function_declarations",
    "genai_tool_definitions",
    "openinference_llm_tools",
    "requested_tool_calls",
    "vercel_prompt_tools",
]

SchemaExtractor = Callable[[SpanRecord], Iterable[ToolSchemaHint]]


def _hint_from_definition(item: Any) -> ToolSchemaHint | None:
    """Read one OpenAI-style (or flat) tool definition."""
    if not isinstance(item, dict):
        return None
    nested = item.get("function")
    function: dict[str, Any] = nested if isinstance(nested, dict) else item
    name = function.get("name")
    if not isinstance(name, str) or not name:
        return None
    parameters = function.get("parameters", function.get("parameters_json_schema", function.get("inputSchema")))
    if parameters is None:
        parameters = function.get("input_schema")
    parameters = decode_json(parameters)
    description = function.get("description")
    return ToolSchemaHint(
        name=name,
        description=description if isinstance(description, str) else None,
        parameters=parameters if isinstance(parameters, dict) else None,
    )


def genai_tool_definitions(span: SpanRecord) -> Iterable[ToolSchemaHint]:
    """``gen_ai.tool.definitions`` (GenAI semconv) on chat spans, MLflow's ``mlflow.chat.tools`` (the
    same list of OpenAI definitions, on CHAT_MODEL spans); pydantic-ai's
    ``model_request_parameters.function_tools`` too."""
    attrs = span.attributes
    for key in ("gen_ai.tool.definitions", "mlflow.chat.tools"):
        raw = attrs.get(key)
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


def openinference_llm_tools(span: SpanRecord) -> Iterable[ToolSchemaHint]:
    """OpenInference ``llm.tools.N.tool.json_schema`` on LLM spans (LangChain, smolagents, …)."""
    attrs = span.attributes
    if "llm.tools.0.tool.json_schema" not in attrs:
        return
    for index in range(1024):
        raw = attrs.get(f"llm.tools.{index}.tool.json_schema")
        if raw is None:
            return
        hint = _hint_from_definition(decode_json(raw))
        if hint is not None:
            yield hint


def vercel_prompt_tools(span: SpanRecord) -> Iterable[ToolSchemaHint]:
    """Vercel AI SDK ``ai.prompt.tools`` on ``ai.generateText.doGenerate`` / ``ai.streamText.doStream``:
    an array of JSON strings ``{"type": "function", "name", "description", "inputSchema"}``."""
    raw = span.attributes.get("ai.prompt.tools")
    if raw is None:
        return
    items = decode_json(raw)
    if isinstance(items, (list, tuple)):
        for item in items:
            hint = _hint_from_definition(decode_json(item))
            if hint is not None:
                yield hint


_GEMINI_TYPES = {"STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT", "NULL"}


def _gemini_to_json_schema(value: Any, depth: int = 0) -> Any:
    """Gemini ``Schema`` (upper-case ``type`` names) → JSON Schema (lower-case)."""
    if depth > 32:
        return value
    if isinstance(value, dict):
        out = {k: _gemini_to_json_schema(v, depth + 1) for k, v in value.items() if v is not None}
        kind = out.get("type")
        if isinstance(kind, str) and kind.upper() in _GEMINI_TYPES:
            out["type"] = kind.lower()
        return out
    if isinstance(value, list):
        return [_gemini_to_json_schema(v, depth + 1) for v in value]
    return value


def adk_v1_function_declarations(span: SpanRecord) -> Iterable[ToolSchemaHint]:
    """Google ADK 1.x: ``gcp.vertex.agent.llm_request`` → ``config.tools[].function_declarations``."""
    raw = span.attributes.get("gcp.vertex.agent.llm_request")
    if not isinstance(raw, str) or "function_declarations" not in raw:
        return
    request = decode_json(raw)
    config = request.get("config") if isinstance(request, dict) else None
    tools = config.get("tools") if isinstance(config, dict) else None
    for tool in tools if isinstance(tools, list) else ():
        declarations = tool.get("function_declarations") if isinstance(tool, dict) else None
        for item in declarations if isinstance(declarations, list) else ():
            if isinstance(item, dict):
                item = dict(item)
                if "parameters" in item:
                    item["parameters"] = _gemini_to_json_schema(item["parameters"])
                hint = _hint_from_definition(item)
                if hint is not None:
                    yield hint


DEFAULT_EXTRACTORS: tuple[SchemaExtractor, ...] = (
    genai_tool_definitions,
    openinference_llm_tools,
    vercel_prompt_tools,
    adk_v1_function_declarations,
)

# ------------------------------------------------------------------ tool calls requested by LLMs

_CALL_SOURCES = (
    "gen_ai.output.messages",  # GenAI semconv: parts {"type": "tool_call", "id", "name", "arguments"}
    "output.value",  # OpenInference: OpenAI Agents function_call items, smolagents ChatMessage
    "ai.response.toolCalls",  # Vercel: [{"toolCallId", "toolName", "input"}]
    "langfuse.observation.output",  # Langfuse generation: {"tool_calls": [{"id", "name", "arguments"}]}
    "mlflow.spanOutputs",  # MLflow CHAT_MODEL: OpenAI chat completion
    "gcp.vertex.agent.llm_response",  # ADK 1.x: content.parts[].function_call {"id", "name", "args"}
    "output",  # Logfire (OpenAI Agents) chat completion: the choices' messages with OpenAI tool_calls
)
_MAX_SOURCE_CHARS = 256 * 1024

# every attribute key the default extractors and requested_tool_calls read first: a span with none
# of them holds neither tool definitions nor requested calls
_TRIGGER_KEYS = frozenset(
    {
        "gen_ai.tool.definitions",
        "mlflow.chat.tools",
        "model_request_parameters",
        "llm.tools.0.tool.json_schema",
        "ai.prompt.tools",
        "gcp.vertex.agent.llm_request",
        "llm.output_messages.0.message.role",
        *_CALL_SOURCES,
    }
)
_MAX_CALLS_PER_SPAN = 256


def _as_call(node: Mapping[str, Any]) -> tuple[str, Any, str] | None:
    """``(name, arguments, call_id)`` when ``node`` is one tool call in a known spelling."""
    function = node.get("function")
    if isinstance(function, Mapping) and isinstance(function.get("name"), str):
        name, args, call_id = function["name"], function.get("arguments", MISSING), node.get("id")
    elif isinstance(node.get("toolName"), str):
        name, args, call_id = node["toolName"], node.get("input", node.get("args", MISSING)), node.get("toolCallId")
    elif (
        isinstance(node.get("name"), str)
        and ("call_id" in node or "toolUseId" in node or "id" in node)
        and ("arguments" in node or "args" in node or "input" in node)
    ):
        name = node["name"]
        args = node.get("arguments", node.get("args", node.get("input", MISSING)))
        call_id = node.get("call_id", node.get("toolUseId", node.get("id")))
        if node.get("type") not in (None, "function_call", "tool_call", "function", "tool_use"):
            return None
    else:
        return None
    if not isinstance(call_id, str) or not call_id or not name:
        return None
    return name, decode_json(args), call_id


def _walk_calls(value: Any, depth: int = 0) -> Iterator[tuple[str, Any, str]]:
    if depth > 8:
        return
    if isinstance(value, Mapping):
        call = _as_call(value)
        if call is not None:
            yield call
            return
        for key in ("function_call", "toolUse"):
            inner = value.get(key)
            if isinstance(inner, Mapping):
                call = _as_call(inner)
                if call is not None:
                    yield call
                    return
        for child in value.values():
            if isinstance(child, (Mapping, list, tuple)):
                yield from _walk_calls(child, depth + 1)
    elif isinstance(value, (list, tuple)):
        for child in value:
            if isinstance(child, (Mapping, list, tuple)):
                yield from _walk_calls(child, depth + 1)


def _openinference_output_calls(attrs: Mapping[str, Any]) -> Iterator[tuple[str, Any, str]]:
    """``llm.output_messages.I.message.tool_calls.J.tool_call.{id,function.name,function.arguments}``."""
    for i in range(16):
        prefix = f"llm.output_messages.{i}.message"
        if f"{prefix}.role" not in attrs:
            return
        for j in range(64):
            base = f"{prefix}.tool_calls.{j}.tool_call"
            name = attrs.get(f"{base}.function.name")
            if name is None:
                break
            call_id = attrs.get(f"{base}.id")
            if isinstance(name, str) and isinstance(call_id, str) and call_id:
                yield name, decode_json(attrs.get(f"{base}.function.arguments", MISSING)), call_id


def requested_tool_calls(span: SpanRecord) -> list[tuple[str, Any, str]]:
    """Tool calls an LLM span says the model asked for, as ``(name, arguments, call_id)``."""
    attrs = span.attributes
    found: list[tuple[str, Any, str]] = []
    for key in _CALL_SOURCES:
        raw = attrs.get(key)
        if raw is None or (isinstance(raw, str) and (len(raw) > _MAX_SOURCE_CHARS or '"' not in raw)):
            continue
        for call in _walk_calls(decode_json(raw)):
            found.append(call)
            if len(found) >= _MAX_CALLS_PER_SPAN:
                return found
    if "llm.output_messages.0.message.role" in attrs:
        found.extend(_openinference_output_calls(attrs))
    return found[:_MAX_CALLS_PER_SPAN]


def _arguments_key(arguments: Any) -> str | None:
    """Arguments compared by content: JSON objects canonically, call envelopes by their kwargs
    (``{"args": [], "kwargs": {...}}``, or ``{"kwargs": {...}}`` alone as LlamaIndex records it)."""
    value = decode_json(arguments)
    if (
        isinstance(value, Mapping)
        and "kwargs" in value
        and ("args" in value or len(value) == 1)
        and not value.get("args")
    ):
        value = value["kwargs"]
    if value is MISSING:
        return None
    return dumps_compact(canonical(value))


def _bare_key(arguments: Any) -> str | None:
    """The key of a one-argument call's only value: LangChain records ``"Paris"`` for ``{"city": "Paris"}``."""
    value = decode_json(arguments)
    if isinstance(value, Mapping) and len(value) == 1:
        return dumps_compact(canonical(next(iter(value.values()))))
    return None


class SchemaMemory:
    """What sibling spans taught about tools: definitions and requested call ids, all bounded.

    Definitions are kept per (trace, tool name) and per tool name, ``max_entries`` each (LRU).
    Requested calls are kept for the ``max_traces`` most recent traces, ``max_calls_per_trace``
    each; a call id is handed out once (the first pending request with the same name and the
    same arguments), so repeated calls of one tool in a trace get their own ids in order.
    """

    def __init__(
        self,
        extractors: Iterable[SchemaExtractor] | None = None,
        *,
        max_entries: int = 10_000,
        max_traces: int = 10_000,
        max_calls_per_trace: int = 512,
    ) -> None:
        self.extractors: list[SchemaExtractor] = list(extractors if extractors is not None else DEFAULT_EXTRACTORS)
        self._custom = extractors is not None and tuple(extractors) != DEFAULT_EXTRACTORS
        self._by_trace: OrderedDict[tuple[int, str], ToolSchemaHint] = OrderedDict()
        self._by_name: OrderedDict[str, ToolSchemaHint] = OrderedDict()
        self._calls: OrderedDict[int, list[tuple[str, str | None, str | None, str]]] = OrderedDict()
        self._max = max_entries
        self._max_traces = max_traces
        self._max_calls = max_calls_per_trace

    def wants(self, attrs: Mapping[str, Any]) -> bool:
        """Whether :meth:`learn` could find anything on a span with these attributes (a set test
        over its keys); ordinary spans skip the extractors entirely."""
        if self._custom:
            return True
        triggers = _TRIGGER_KEYS
        if len(attrs) <= 2 * len(triggers):
            return not triggers.isdisjoint(attrs)
        return any(key in attrs for key in triggers)

    def learn(self, span: SpanRecord) -> None:
        """Read a non-tool span for tool definitions and requested calls. Never raises."""
        for extract in self.extractors:
            try:
                hints = list(extract(span))
            except Exception:
                continue
            for hint in hints:
                self._put(self._by_trace, (span.trace_id, hint.name), hint)
                self._put(self._by_name, hint.name, hint)
        try:
            calls = requested_tool_calls(span)
        except Exception:
            return
        if calls:
            pending = self._calls.get(span.trace_id)
            if pending is None:
                pending = self._calls[span.trace_id] = []
                while len(self._calls) > self._max_traces:
                    self._calls.popitem(last=False)
            else:
                self._calls.move_to_end(span.trace_id)
            known = {entry[3] for entry in pending}
            for name, arguments, call_id in calls:
                if call_id not in known and len(pending) < self._max_calls:
                    known.add(call_id)
                    pending.append((name, _arguments_key(arguments), _bare_key(arguments), call_id))

    def _put(self, table: OrderedDict[Any, ToolSchemaHint], key: Any, hint: ToolSchemaHint) -> None:
        old = table.get(key)
        if old is not None and (hint.parameters is None or hint.description is None):
            # a definition without a schema (content capture off) must not erase a known one
            hint = ToolSchemaHint(
                name=hint.name,
                description=hint.description if hint.description is not None else old.description,
                parameters=hint.parameters if hint.parameters is not None else old.parameters,
            )
        table[key] = hint
        table.move_to_end(key)
        while len(table) > self._max:
            table.popitem(last=False)

    def lookup(self, trace_id: int, name: str) -> ToolSchemaHint | None:
        return self._by_trace.get((trace_id, name)) or self._by_name.get(name)

    def call_id_for(self, trace_id: int, name: str, arguments: Any) -> str | None:
        """The id of the call an LLM span of this trace requested with this name and arguments
        (``MISSING`` arguments match the first pending call of that name). Hands it out once."""
        pending = self._calls.get(trace_id)
        if not pending:
            return None
        try:
            key = None if arguments is MISSING else _arguments_key(arguments)
        except Exception:
            key = None
        chosen = None
        for index, (entry_name, entry_key, entry_bare, _) in enumerate(pending):
            if entry_name != name:
                continue
            if arguments is MISSING or key == entry_key or (key is not None and key == entry_bare):
                chosen = index
                break
        if chosen is None:
            return None
        return pending.pop(chosen)[3]
