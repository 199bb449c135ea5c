"""The neutral tool-call record that every convention produces, and the recogniser interface."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from otel_tool_exporter._internal.build.values import MISSING, decode_json
from otel_tool_exporter._internal.spans import SpanRecord

__all__ = [
    "AttrReader",
    "Recogniser",
    "ToolCall",
    "ToolSchemaHint",
    "clean_call_id",
    "first_attr",
    "json_object",
    "name_from_span",
]


@dataclass(slots=True)
class ToolCall:
    """What one tool span says about one tool call, independent of how it was spelled.

    ``arguments`` and ``result`` are ``MISSING`` when the span did not record them (content
    capture off), which is different from a recorded ``None``. ``consumed`` names the attribute
    keys that were read into the call (they are not repeated in ``metadata.attributes``) and
    ``consumed_events`` the indices of span events read for arguments or result.
    """

    name: str
    convention: str
    arguments: Any = MISSING
    result: Any = MISSING
    error: str | None = None
    description: str | None = None
    schema: dict[str, Any] | None = None
    call_id: str | None = None
    consumed: frozenset[str] = frozenset()
    consumed_events: frozenset[int] = frozenset()
    extra_inputs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(slots=True, frozen=True)
class ToolSchemaHint:
    """A tool description/schema learned from a sibling span (LLM/chat/step) of the same trace."""

    name: str
    description: str | None
    parameters: dict[str, Any] | None


class Recogniser(Protocol):
    """One convention family.

    ``span_names`` and ``marker_keys`` tell the registry when to ask this recogniser: a span is
    offered to it only if its name is one of ``span_names`` or one of ``marker_keys`` is among
    its attributes. A recogniser may also declare ``span_name_prefixes`` (first word of the span
    name, e.g. ``"execute_tool"`` for ``execute_tool get_weather``). That keeps recognition to a
    few dict look-ups per span. ``recognise`` must not raise on odd input (the registry guards it
    anyway) and returns ``None`` for spans that are not tool calls, including pseudo-tools.
    """

    @property
    def name(self) -> str: ...

    @property
    def span_names(self) -> tuple[str, ...]: ...

    @property
    def marker_keys(self) -> tuple[str, ...]: ...

    def recognise(self, span: SpanRecord) -> ToolCall | None: ...


SchemaExtractor = Callable[[SpanRecord], "list[ToolSchemaHint]"]

_PLACEHOLDER_IDS = frozenset({"", "<not specified>", "none", "null", "undefined", "unknown"})


# method calls that instrumentations wrap and name their span after (``get_weather.__call__``)
_CALL_SUFFIXES = (".__call__", ".acall", ".call", ".arun", ".run", "._arun", "._run", ".ainvoke", ".invoke")


def name_from_span(span_name: str) -> str:
    """A tool's name from a span name that names the method that ran it: ``get_weather.__call__``,
    ``get_weather.acall``, ``WeatherTool.run``, ``get_weather.invoke`` → the part before. A name
    that is nothing but such a suffix is kept as it is."""
    for suffix in _CALL_SUFFIXES:
        if span_name.endswith(suffix) and len(span_name) > len(suffix):
            return span_name[: -len(suffix)]
    return span_name


def clean_call_id(value: Any) -> str | None:
    """Call ids as a string, with the placeholders some instrumentations write dropped."""
    if value is None or value is MISSING:
        return None
    text = str(value).strip()
    return None if text.lower() in _PLACEHOLDER_IDS else text


def first_attr(attrs: Mapping[str, Any], *keys: str) -> tuple[str | None, Any]:
    """The first of ``keys`` present in ``attrs``, as ``(key, value)``; ``(None, MISSING)`` if none."""
    for key in keys:
        if key in attrs:
            return key, attrs[key]
    return None, MISSING


def json_object(value: Any) -> dict[str, Any] | None:
    """A JSON object from a value or JSON text, else ``None``."""
    decoded = decode_json(value)
    return decoded if isinstance(decoded, dict) else None


class AttrReader:
    """Reads a span's attributes and remembers which keys were used (``ToolCall.consumed``)."""

    __slots__ = ("attrs", "consumed")

    def __init__(self, attrs: Mapping[str, Any]) -> None:
        self.attrs = attrs
        self.consumed: set[str] = set()

    def take(self, *keys: str) -> Any:
        """The first present key's value (consumed), else ``MISSING``."""
        for key in keys:
            if key in self.attrs:
                self.consumed.add(key)
                return self.attrs[key]
        return MISSING

    def text(self, *keys: str) -> str | None:
        """The first present key with a non-empty value, as text (consumed), else ``None``."""
        for key in keys:
            value = self.attrs.get(key)
            if value is not None and value != "":
                self.consumed.add(key)
                return value if isinstance(value, str) else str(value)
        return None

    def mark(self, *keys: str) -> None:
        """Consume keys that were read as markers."""
        for key in keys:  # a loop, not a generator: this runs on every tool span
            if key in self.attrs:
                self.consumed.add(key)

    def release(self, key: str) -> None:
        """Keep a key in ``metadata.attributes`` after all (e.g. a value that was cut off)."""
        self.consumed.discard(key)

    def frozen(self) -> frozenset[str]:
        return frozenset(self.consumed)
