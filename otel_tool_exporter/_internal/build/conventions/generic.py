"""Tool calls in any namespace: the recogniser tried after every named convention.

Frameworks without a convention of their own still say "tool call" in their attribute keys or
span name, whatever their prefix: ``acme.tool.name`` with ``acme.tool.input``/``acme.tool.output``,
``foo.tool_name`` with ``foo.arguments`` beside it, ``*.tool.arguments``/``*.tool.result``, a span
named ``….tool``, an error flag ``*.tool.error``. This recogniser reads such keys by their shape:

* a key is *tool-scoped* when the segment before its last one is ``tool`` (``x.tool.input``,
  ``haystack.agent.step.tool.output``) or its last segment starts with ``tool_`` (``x.tool_name``,
  ``tool_arguments``); ``gen_ai.tool.call.arguments``-style keys (``tool.call.<field>``) and
  ``tool_call.function.<field>`` too; camelCase reads as snake_case (``toolName``); arguments
  flattened one key per member (``x.tool.input.city``) are folded back into an object;
* keys that describe lists — tool *definitions* offered to a model (``llm.tools.0.tool.name``,
  ``gen_ai.tool.definitions``) or tool calls a model *requested* (``…tool_calls.0.tool_call.…``) —
  never count: a segment that is a number, or names a plural (``tools``, ``tool_calls``,
  ``definitions``, ``*messages``), rules a key out;
* a span is claimed when it has a tool-scoped name key and arguments or a result (tool-scoped, or
  beside the name key in its namespace), tool-scoped arguments or result on their own, a name
  ending in ``.tool``, or a tool-scoped error next to a tool name; a span named like an agent,
  LLM, chat or chain step (and not like a tool) needs the tool's name as well;
* a span that carries a named convention's kind marker (``openinference.span.kind``,
  ``gen_ai.operation.name``, …) belongs to that convention: when it declined, so does this one.

The registry asks this recogniser only when no named convention's marker, span name or name
prefix matched, and then through :meth:`GenericToolRecogniser.might_claim`: span names and keys
already seen to be unrelated are remembered (bounded), so an ordinary span costs one set look-up
and one set test. After a named convention claims a span, :func:`complete_call` reads what it left
unread; :func:`unclaimed_tool_hint` tells ``doctor`` (and the exporter's DEBUG log) about spans
that look like tool calls but that nothing claims.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from otel_tool_exporter._internal.build.conventions._base import AttrReader, ToolCall, clean_call_id, name_from_span
from otel_tool_exporter._internal.build.conventions._envelopes import (
    content_blocks_text,
    result_object,
    strip_call_envelope,
    take_decoded,
)
from otel_tool_exporter._internal.build.conventions.humanloop import unflatten
from otel_tool_exporter._internal.build.values import MISSING, decode_json
from otel_tool_exporter._internal.spans import SpanRecord

__all__ = ["GenericToolRecogniser", "ToolKeys", "complete_call", "tool_keys", "unclaimed_tool_hint"]

NAME_FIELDS = ("name",)
ARG_FIELDS = ("arguments", "args", "input", "inputs", "call_args", "params", "kwargs", "parameters_value")
RESULT_FIELDS = ("result", "output", "outputs", "response", "return_value", "results", "return")
ERROR_FIELDS = ("error", "error_message", "exception")
DESCRIPTION_FIELDS = ("description",)
CALL_ID_FIELDS = ("call_id", "id")
# keys beside a ``*.tool_name`` key that hold the call (``foo.tool_name`` + ``foo.arguments``)
SIBLING_ARG_FIELDS = ("tool_arguments", "tool_args", "tool_input", "arguments", "args", "input", "inputs", "kwargs")
SIBLING_RESULT_FIELDS = ("tool_result", "tool_output", "tool_response", "result", "output", "response", "return_value")

# a named convention's own kind marker: a span carrying one is that convention's to claim
KIND_MARKERS = (
    "openinference.span.kind",
    "traceloop.span.kind",
    "langsmith.span.kind",
    "langfuse.observation.type",
    "mlflow.spanType",
    "agentops.span.kind",
    "braintrust.span_attributes",
    "braintrust.span_attributes.type",
    "gen_ai.operation.name",
    "ai.operationId",
    "humanloop.file.type",
)

_PLURAL_SEGMENTS = frozenset({"tools", "tool_calls", "toolcalls", "definitions", "tool_definitions", "messages"})
_NOT_A_CALL = re.compile(r"(?<![a-z])(agent|llm|chat|chain|workflow|model|completion|generation)(?![a-z])")
_MAX_PLAIN_KEYS = 4096
_FLAGGED = "the tool reported an error"


class ToolKeys:
    """The tool-call keys of one span, by what they hold (each a list of attribute keys)."""

    __slots__ = ("args", "call_id", "description", "error", "flat", "name", "result", "siblings")

    def __init__(self) -> None:
        self.name: list[str] = []
        self.args: list[str] = []
        self.result: list[str] = []
        self.error: list[str] = []
        self.description: list[str] = []
        self.call_id: list[str] = []
        self.siblings: tuple[list[str], list[str]] = ([], [])  # (arguments, result) beside a name key
        # arguments / result flattened into one key per member: ``acme.tool.input.city`` → prefix
        # ``acme.tool.input.``
        self.flat: tuple[list[str], list[str]] = ([], [])


def _snake(segment: str) -> str:
    return _CAMEL.sub("_", segment).lower() if not segment.islower() else segment


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def _field(key: str) -> str | None:
    """What a tool-scoped key holds (``"name"``, ``"input"``, …), or ``None`` if the key is not
    tool-scoped or describes a list. camelCase reads as snake_case (``toolName`` = ``tool_name``)."""
    segments = [_snake(segment) for segment in key.split(".")]
    for segment in segments:
        if segment.isdigit() or segment in _PLURAL_SEGMENTS or segment.endswith("messages"):
            return None
    last = segments[-1]
    if len(segments) >= 2 and segments[-2] in ("tool", "tool_call"):
        return last
    if len(segments) >= 3 and segments[-3] == "tool" and segments[-2] == "call":
        return "call_" + last if last == "id" else last  # tool.call.arguments / tool.call.id
    if len(segments) >= 3 and segments[-3] in ("tool", "tool_call") and segments[-2] == "function":
        return last  # tool_call.function.name / .arguments
    if last.startswith("tool_") and len(last) > 5:
        return last[5:]
    return None


_CALL_FIELDS = frozenset((*NAME_FIELDS, *ARG_FIELDS, *RESULT_FIELDS, *ERROR_FIELDS, *CALL_ID_FIELDS))


def is_tool_call_key(key: str) -> bool:
    """Whether a key may hold part of one tool call (its name, arguments, result, error or id),
    or names the tool outright (``myapp.tool``). Tool definitions and lists never do."""
    if _field(key) in _CALL_FIELDS:
        return True
    flat: tuple[list[str], list[str]] = ([], [])
    _flat_member(key, flat)
    if flat[0] or flat[1]:
        return True
    return _snake(key.rsplit(".", 1)[-1]) in ("tool", "tool_call") and _field(key + ".name") is not None


def tool_keys(attrs: Iterable[str]) -> ToolKeys:
    """Sort a span's attribute keys into the parts of a tool call they hold."""
    found = ToolKeys()
    keys = list(attrs)
    for key in keys:
        if "ool" not in key:  # a tool-scoped key says "tool" (or "Tool"): the rest are skipped cheaply
            continue
        field = _field(key)
        if field is None:
            _flat_member(key, found.flat)
            continue
        if field in NAME_FIELDS:
            found.name.append(key)
        elif field in ARG_FIELDS:
            found.args.append(key)
        elif field in RESULT_FIELDS:
            found.result.append(key)
        elif field in ERROR_FIELDS:
            found.error.append(key)
        elif field in DESCRIPTION_FIELDS:
            found.description.append(key)
        elif field in CALL_ID_FIELDS:
            found.call_id.append(key)
    for name_key in found.name:
        prefix = name_key[: name_key.rfind(".") + 1]  # "foo." of foo.tool_name, "acme.tool." of acme.tool.name
        if not prefix:
            continue
        present = {
            key[len(prefix) :].lower(): key for key in keys if key.startswith(prefix) and "." not in key[len(prefix) :]
        }
        for fields, into in ((SIBLING_ARG_FIELDS, found.siblings[0]), (SIBLING_RESULT_FIELDS, found.siblings[1])):
            for field in fields:
                sibling = present.get(field)
                if (
                    sibling is not None
                    and sibling not in found.args
                    and sibling not in found.result
                    and sibling not in into
                ):
                    into.append(sibling)
    return found


def _flat_member(key: str, flat: tuple[list[str], list[str]]) -> None:
    """Note the prefix of a key that is one member of flattened arguments or result
    (``acme.tool.input.city``; no list indices)."""
    parts = key.split(".")
    segments = [_snake(part) for part in parts]
    for index in range(len(segments) - 2):
        if segments[index] != "tool":
            continue
        field = segments[index + 1]
        into = flat[0] if field in ARG_FIELDS else flat[1] if field in RESULT_FIELDS else None
        if into is not None and _field(".".join(parts[: index + 2])) is not None:
            prefix = ".".join(parts[: index + 2]) + "."
            if prefix not in into:
                into.append(prefix)
        return


def _by_field(keys: list[str], order: tuple[str, ...]) -> list[str]:
    """Keys in the order of preference of the fields they hold."""
    rank = {field: index for index, field in enumerate(order)}
    return sorted(keys, key=lambda key: rank.get(_field(key) or key.rsplit(".", 1)[-1].lower(), len(order)))


def _error_text(value: Any) -> str | None:
    """An error attribute as text: a flag (``True``/``"true"``) says only that the call failed."""
    if value is None or value is MISSING or value is False or value == "":
        return None
    if isinstance(value, str) and value.strip().lower() in ("false", "0", "none", "null"):
        return None
    if value is True or (isinstance(value, str) and value.strip().lower() == "true"):
        return _FLAGGED
    return value if isinstance(value, str) else str(value)


def _unflattened(reader: AttrReader, prefix: str) -> dict[str, Any]:
    """Members flattened under ``prefix`` folded back into one object (and consumed)."""
    members, used = unflatten(reader.attrs, prefix)
    reader.mark(*used)
    return {key: _container_or_text(value) for key, value in members.items()}


def _container_or_text(value: Any) -> Any:
    """A member's value: JSON/literal text of an object or list is read, other text stays text."""
    decoded = decode_json(value) if isinstance(value, str) else value
    return decoded if isinstance(decoded, (dict, list)) else value


def unwrap_generic_result(value: Any) -> tuple[Any, str | None]:
    """A result from an unknown framework without the wrappers frameworks put around return
    values: a result object with a raw value, a tool message's content, ``{"result": …}`` /
    ``{"output": …}`` single-key envelopes, text content blocks."""
    value, error, matched = result_object(value)
    if not matched and isinstance(value, Mapping) and len(value) == 1:
        only = next(iter(value))
        if only in ("result", "output", "return_value"):
            value = decode_json(value[only])
    text = content_blocks_text(value)
    if text is not None:
        value = decode_json(text)
    return value, error


class GenericToolRecogniser:
    """Tool calls of frameworks that have no recogniser of their own (tried last)."""

    name = "generic"
    span_names: tuple[str, ...] = ()
    marker_keys: tuple[str, ...] = ()

    def __init__(self) -> None:
        self._plain: set[str] = set()  # keys seen not to be tool-call keys
        self._plain_names: set[str] = set()  # span names seen not to speak of a tool

    def might_claim(self, name: Any, attrs: Mapping[str, Any]) -> bool:
        """Cheap pre-filter: ``False`` means this span is certainly not a tool call by this
        recogniser's rules (nor one ``doctor`` would point out). For an ordinary span, whose name
        and keys were seen before, that is one set test and one set look-up."""
        if name in self._plain_names and self._plain.issuperset(attrs):
            return False
        if type(name) is str:
            if name.endswith(".tool") or ("ool" in name and _mentions_tool(name)):
                return True
            if len(self._plain_names) < _MAX_PLAIN_KEYS:
                self._plain_names.add(name)
        plain = self._plain
        for key in tuple(attrs):
            if key in plain:
                continue
            if type(key) is str and "ool" in key and is_tool_call_key(key):
                return True
            if len(plain) < _MAX_PLAIN_KEYS:
                plain.add(key)
        return False

    def matches_at_start(self, name: str, attrs: Mapping[str, Any]) -> bool:
        return self._claims(name, attrs, tool_keys(attrs))

    def _claims(self, name: str, attrs: Mapping[str, Any], keys: ToolKeys) -> bool:
        if any(marker in attrs for marker in KIND_MARKERS):
            return False
        if name.endswith(".tool") and len(name) > len(".tool"):
            return True
        speaks_of_other = _NOT_A_CALL.search(name.lower()) is not None and not _mentions_tool(name)
        if keys.args or keys.result or keys.flat[0] or keys.flat[1]:
            # an agent or LLM span may record a tool's result it received: only with the tool's name
            return not speaks_of_other or bool(keys.name)
        if keys.name and (keys.siblings[0] or keys.siblings[1]):
            return not speaks_of_other
        return bool(keys.name and keys.error and any(_error_text(attrs.get(k)) for k in keys.error))

    def recognise(self, span: SpanRecord) -> ToolCall | None:
        attrs = span.attributes
        keys = tool_keys(attrs)
        if not self._claims(span.name, attrs, keys):
            return None
        reader = AttrReader(attrs)
        name = None
        for key in keys.name:
            value = attrs.get(key)
            if isinstance(value, str) and value.strip():
                name = value.strip()
                reader.mark(key)
                break
        if name is None:  # a key that names the tool outright: ``acme.tool = "get_weather"``
            for key in attrs:
                value = attrs[key]
                if (
                    isinstance(value, str)
                    and 0 < len(value.strip()) <= 200
                    and "ool" in key
                    and _snake(key.rsplit(".", 1)[-1]) == "tool"
                    and not _listish(key)
                ):
                    name = value.strip()
                    reader.mark(key)
                    break
        if name is None:
            base = span.name[: -len(".tool")] if span.name.endswith(".tool") else span.name
            name = name_from_span(base.rsplit(" ", 1)[-1] if " " in base else base)
        if not name:
            return None
        arguments = take_decoded(reader, *_by_field(keys.args, ARG_FIELDS), *keys.siblings[0])
        if arguments is MISSING and keys.flat[0]:
            arguments = _unflattened(reader, keys.flat[0][0])
        arguments = strip_call_envelope(arguments)
        result = take_decoded(reader, *_by_field(keys.result, RESULT_FIELDS), *keys.siblings[1])
        if result is MISSING and keys.flat[1]:
            result = _unflattened(reader, keys.flat[1][0])
        object_error = None
        if result is not MISSING:
            result, object_error = unwrap_generic_result(result)
        error = None
        for key in keys.error:
            error = _error_text(attrs.get(key))
            reader.mark(key)
            if error:
                break
        if error == _FLAGGED and isinstance(result, Mapping) and set(result) == {"error"}:
            # a failure flag, and the "result" is only the framework's report of the failure
            error, result = str(result["error"]), MISSING
        return ToolCall(
            name=name,
            convention=self.name,
            arguments=arguments,
            result=result,
            error=error or object_error,
            description=reader.text(*keys.description),
            call_id=clean_call_id(reader.take(*_by_field(keys.call_id, CALL_ID_FIELDS))),
            consumed=reader.frozen(),
        )


def complete_call(call: ToolCall, span: SpanRecord) -> None:
    """Fill in, from tool-call keys of any namespace, what a named convention left unread:
    arguments or a result it found no key for (``gen_ai.tool.args`` beside an ``execute_tool``
    marker), a description, an error attribute. Keys it consumed are not read again."""
    attrs = span.attributes
    consumed = call.consumed
    if isinstance(consumed, (frozenset, set)) and consumed.issuperset(attrs):
        return  # one test in C: the convention read every key
    unread = [key for key in attrs if "ool" in key and key not in consumed]
    if not unread:  # the usual case: the convention read every key that speaks of a tool
        return
    keys = tool_keys(unread)
    reader = AttrReader(attrs)
    if call.arguments is MISSING and keys.args:
        call.arguments = strip_call_envelope(take_decoded(reader, *_by_field(keys.args, ARG_FIELDS)))
    if call.result is MISSING and keys.result:
        call.result = take_decoded(reader, *_by_field(keys.result, RESULT_FIELDS))
    if call.description is None and keys.description:
        call.description = reader.text(*keys.description)
    if not call.error:
        for key in keys.error:
            error = _error_text(attrs.get(key))
            if error:
                reader.mark(key)
                call.error = error
                break
    if reader.consumed:
        call.consumed = frozenset(consumed) | reader.frozen()  # a user recogniser may give a list


def _mentions_tool(name: str) -> bool:
    """A span name that speaks of one tool call: the word ``tool`` (not ``tools``, and not the end
    of an identifier such as a tool named ``fail_tool``), ``tool_call``, ``toolCall``,
    ``call_tool``, ``execute_tool``."""
    return bool(_TOOL_WORD.search(name))


_TOOL_WORD = re.compile(r"(?i)(?<![a-z0-9_])tool(?![a-z0-9_])|tool_?call|call_?tool|execute_tool")


_CONTENT_FIELDS = frozenset((*ARG_FIELDS, *RESULT_FIELDS, *SIBLING_ARG_FIELDS, *SIBLING_RESULT_FIELDS))
_MAX_HINT_KEYS = 8


def _listish(key: str) -> bool:
    return any(
        s.isdigit() or s in _PLURAL_SEGMENTS or s.endswith("messages") for s in (_snake(p) for p in key.split("."))
    )


def unclaimed_tool_hint(span: SpanRecord) -> str | None:
    """For a span that no convention claimed: if it still looks like a tool call — an attribute
    key about a tool next to one that looks like arguments or a result, or a span name that speaks
    of a tool — a sentence naming what was seen and how to claim it; else ``None``.

    Spans carrying a named convention's kind marker are that convention's verdict (an LLM or agent
    span), and keys that list tools (definitions offered to a model) are never evidence."""
    attrs = span.attributes
    if any(marker in attrs for marker in KIND_MARKERS):
        return None
    toolish = [k for k in attrs if isinstance(k, str) and "tool" in k.lower() and not _listish(k)]
    content = [
        k
        for k in attrs
        if isinstance(k, str)
        and k not in toolish
        and _snake(k.rsplit(".", 1)[-1]) in _CONTENT_FIELDS
        and not _listish(k)
    ]
    # a CLIENT span that names a tool is a request for a call that runs elsewhere (an MCP client's
    # "tools/call"): the call itself is the server's span, so its name alone is no evidence
    named = _mentions_tool(span.name) and span.kind != "CLIENT"
    if not ((toolish and (content or any(_field(k) in _CONTENT_FIELDS for k in toolish))) or named):
        return None
    seen = sorted({*toolish, *content})
    shown = ", ".join(seen[:_MAX_HINT_KEYS]) + (
        f" (+{len(seen) - _MAX_HINT_KEYS} more)" if len(seen) > _MAX_HINT_KEYS else ""
    )
    evidence = [f"attributes {shown}"] if seen else []
    if named:
        evidence.append("a name that speaks of a tool")
    return (
        f"span {span.name!r} looks like a tool call ({' and '.join(evidence)}) "
        "but no convention claims it. Claim it with ToolLogExporter(is_tool_span=lambda span: "
        f"span.name == {span.name!r}) (it is then logged under its span name, with its attributes in "
        "metadata), or read its arguments and result with your own recogniser: ToolLogExporter(recognisers=[...]) "
        "(see otel_tool_exporter.extend)."
    )
