"""The one internal span record every stage after the edge works on.

Spans arrive as SDK ``ReadableSpan`` objects (in-process) or as OTLP (sidecar). Each is converted
once, here, into a :class:`SpanRecord`, so recognition, mapping and ordering never care where a
span came from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["EventRecord", "LinkRecord", "SpanRecord", "format_span_id", "format_trace_id"]

_EMPTY: Mapping[str, Any] = {}


def format_trace_id(value: int) -> str:
    return format(value, "032x")


def format_span_id(value: int) -> str:
    return format(value, "016x")


@dataclass(slots=True, frozen=True)
class EventRecord:
    name: str
    time_unix_nano: int
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(slots=True, frozen=True)
class LinkRecord:
    """A link from the span to another span (ids are ints), with the link's own attributes."""

    trace_id: int
    span_id: int
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class SpanRecord:
    """A finished span, source-neutral. Ids are ints; times are Unix nanoseconds."""

    trace_id: int
    span_id: int
    parent_span_id: int | None
    name: str
    kind: str = "INTERNAL"
    start_time_unix_nano: int = 0
    end_time_unix_nano: int = 0
    status_code: str = "UNSET"
    status_description: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)
    events: tuple[EventRecord, ...] = ()
    resource_attributes: Mapping[str, Any] = field(default_factory=dict)
    scope_name: str | None = None
    scope_version: str | None = None
    links: tuple[LinkRecord, ...] = ()

    @property
    def key(self) -> tuple[int, int]:
        return (self.trace_id, self.span_id)

    @property
    def trace_id_hex(self) -> str:
        return format_trace_id(self.trace_id)

    @property
    def span_id_hex(self) -> str:
        return format_span_id(self.span_id)

    @property
    def parent_span_id_hex(self) -> str | None:
        return None if self.parent_span_id is None else format_span_id(self.parent_span_id)

    @classmethod
    def from_readable(cls, span: Any) -> SpanRecord:
        """Convert a finished SDK ``ReadableSpan`` (see ``_internal.spans.sdk``)."""
        from otel_tool_exporter._internal.spans.sdk import record_from_readable

        return record_from_readable(span)

    @classmethod
    def from_fixture(cls, doc: Mapping[str, Any]) -> SpanRecord:
        """Read one span of the fixture format (``tests/fixtures/capture/README.md``)."""
        status = doc.get("status") or {}
        scope = doc.get("scope") or {}
        parent = doc.get("parent_span_id")
        return cls(
            trace_id=int(doc["trace_id"], 16),
            span_id=int(doc["span_id"], 16),
            parent_span_id=int(parent, 16) if parent else None,
            name=doc["name"],
            kind=doc.get("kind", "INTERNAL"),
            start_time_unix_nano=int(doc.get("start_time_unix_nano") or 0),
            end_time_unix_nano=int(doc.get("end_time_unix_nano") or 0),
            status_code=status.get("code", "UNSET"),
            status_description=status.get("description"),
            attributes=_fixture_attrs(doc.get("attributes")),
            events=tuple(
                EventRecord(e["name"], int(e.get("time_unix_nano") or 0), _fixture_attrs(e.get("attributes")))
                for e in doc.get("events") or ()
            ),
            resource_attributes=_fixture_attrs((doc.get("resource") or {}).get("attributes")),
            scope_name=scope.get("name"),
            scope_version=scope.get("version"),
            links=tuple(
                LinkRecord(int(link["trace_id"], 16), int(link["span_id"], 16), _fixture_attrs(link.get("attributes")))
                for link in doc.get("links") or ()
            ),
        )


def _fixture_value(value: Any) -> Any:
    if isinstance(value, dict):
        if "$float" in value:
            return float(value["$float"])
        if "$bytes" in value:
            return bytes.fromhex(value["$bytes"])
    if isinstance(value, list):
        return tuple(_fixture_value(v) for v in value)
    return value


def _fixture_attrs(attrs: Mapping[str, Any] | None) -> dict[str, Any]:
    return {k: _fixture_value(v) for k, v in (attrs or {}).items()}
