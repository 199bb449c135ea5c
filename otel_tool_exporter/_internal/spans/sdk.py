"""Reading the OpenTelemetry SDK's spans and providers — every use of the SDK's private
attributes is here, each with the public fallback it takes if a future SDK renames it.

Why read private attributes at all: span attributes are read a dozen times per span on the
delivery thread, and the SDK's ``BoundedAttributes`` serves ``get``/``in`` through Python code
(``collections.abc.Mapping``) behind a fresh ``MappingProxyType`` per ``span.attributes`` call; a
read-only proxy over its inner ``dict`` does the same look-ups in C (benchmarks/bench_hot_path.py,
docs/performance.md). And the SDK has no public list of a provider's span processors.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from otel_tool_exporter._internal.spans.record import EventRecord, LinkRecord, SpanRecord

__all__ = [
    "OrdinaryEnd",
    "attributes_of",
    "fast_attributes",
    "is_shared_resource",
    "read_end",
    "record_from_open",
    "record_from_readable",
    "span_processors",
]

_EMPTY: Mapping[str, Any] = MappingProxyType({})


def fast_attributes(attributes: Any) -> Mapping[str, Any]:
    """A read-only view of an attribute mapping whose look-ups run in C (see the module doc)."""
    if attributes is None:
        return _EMPTY
    if type(attributes) is dict:
        return MappingProxyType(attributes)
    inner = getattr(attributes, "_dict", None)  # BoundedAttributes' items
    if type(inner) is dict:
        return MappingProxyType(inner)
    return attributes


# One view per SDK ``Resource`` (a provider has one, its attributes immutable): the records of its
# spans share it, so what the mapping derives from a resource is worked out once. A few at a time;
# a view dropped from here stays valid, it is just not known as shared any more.
_RESOURCE_VIEWS: dict[int, tuple[Any, Mapping[str, Any]]] = {}
_SHARED_VIEWS: dict[int, Mapping[str, Any]] = {}
_MAX_RESOURCES = 64


def _resource_view(resource: Any) -> Mapping[str, Any]:
    known = _RESOURCE_VIEWS.get(id(resource))
    if known is not None and known[0] is resource:
        return known[1]
    view = fast_attributes(resource.attributes)
    if type(view) is not MappingProxyType:  # not the SDK's immutable attributes: not shared
        return view
    if len(_RESOURCE_VIEWS) >= _MAX_RESOURCES:
        _RESOURCE_VIEWS.clear()
        _SHARED_VIEWS.clear()
    _RESOURCE_VIEWS[id(resource)] = (resource, view)
    _SHARED_VIEWS[id(view)] = view
    return view


def is_shared_resource(attributes: Mapping[str, Any]) -> bool:
    """Whether ``attributes`` is the shared, unchanging view of an SDK resource's attributes."""
    return _SHARED_VIEWS.get(id(attributes)) is attributes


def attributes_of(span: Any) -> Mapping[str, Any]:
    """A span's own attributes (not the SDK's per-call proxy around them), read-only."""
    attributes = getattr(span, "_attributes", None)
    return fast_attributes(span.attributes if attributes is None else attributes)


def span_processors(provider: Any) -> tuple[Any, ...]:
    """The span processors of an SDK ``TracerProvider`` (empty if the SDK hides them differently)."""
    active = getattr(provider, "_active_span_processor", None)
    return tuple(getattr(active, "_span_processors", ()) or ())


@dataclass(slots=True, frozen=True)
class OrdinaryEnd:
    """A finished span that can only matter as a link in the tree: its ids and explicit parent."""

    trace_id: int
    span_id: int
    parent_span_id: int | None
    explicit_parent: str | None

    @classmethod
    def of(
        cls, trace_id: int, span_id: int, parent_span_id: int | None, attrs: Mapping[str, Any], explicit_key: str
    ) -> OrdinaryEnd:
        """The link an ordinary span leaves, whichever reader read it: the value of
        ``explicit_key`` among its attributes, as text, is its explicit parent."""
        explicit = attrs.get(explicit_key) if explicit_key else None
        return cls(trace_id, span_id, parent_span_id, str(explicit) if explicit else None)


def _ended_items(span: Any, private: str, public: str) -> Sequence[Any]:
    """A finished span's events or links. The SDK's public properties copy its ``BoundedList``
    under a lock, twice; a span that has ended takes no more, so its inner deque is read as is."""
    inner = getattr(getattr(span, private, None), "_dq", None)
    if type(inner) is deque:
        return tuple(inner) if inner else ()
    return tuple(getattr(span, public, None) or ())


def _enum_name(member: Any) -> str:
    """``member.name`` of the SDK's ``SpanKind``/``StatusCode``, read once per member."""
    name = _ENUM_NAMES.get(member)
    if name is None:
        name = _ENUM_NAMES[member] = member.name
    return name


_ENUM_NAMES: dict[Any, str] = {}  # a handful of enum members, never more


def record_from_readable(span: Any) -> SpanRecord:
    """Convert a finished SDK ``ReadableSpan``. Attribute mappings are shared, not copied: the
    SDK makes them immutable once the span has ended."""
    ctx = span.get_span_context()
    parent = span.parent
    status = span.status
    resource = span.resource
    scope = span.instrumentation_scope
    events = _ended_items(span, "_events", "events")
    links = _ended_items(span, "_links", "links")
    return SpanRecord(
        trace_id=ctx.trace_id,
        span_id=ctx.span_id,
        parent_span_id=parent.span_id if parent is not None else None,
        name=span.name,
        kind=_enum_name(span.kind),
        start_time_unix_nano=span.start_time or 0,
        end_time_unix_nano=span.end_time or span.start_time or 0,
        status_code=_enum_name(status.status_code),
        status_description=status.description,
        attributes=attributes_of(span),
        events=tuple(EventRecord(e.name, e.timestamp, fast_attributes(e.attributes)) for e in events) if events else (),
        resource_attributes=_resource_view(resource) if resource is not None else _EMPTY,
        scope_name=scope.name if scope is not None else None,
        scope_version=scope.version if scope is not None else None,
        links=tuple(
            LinkRecord(link.context.trace_id, link.context.span_id, fast_attributes(link.attributes)) for link in links
        )
        if links
        else (),
    )


def record_from_open(span: Any) -> SpanRecord:
    """A record of a span that is still running, as it is now: its attributes and events are
    copied (the application may still be writing them), and it has no end."""
    record = record_from_readable(span)
    events = tuple(EventRecord(e.name, e.timestamp, dict(e.attributes or {})) for e in list(span.events or ()))
    record.attributes = dict(record.attributes)
    record.events = events
    record.end_time_unix_nano = 0
    return record


def read_end(span: Any, may_matter: Any, explicit_key: str) -> SpanRecord | OrdinaryEnd | None:
    """A finished SDK span as the pipeline needs it: ``None`` when it is not sampled (not
    exported), an :class:`OrdinaryEnd` when ``may_matter(name, attributes)`` says it can be
    nothing but a link in the tree (most spans: no record is built), else its full record."""
    ctx = span.get_span_context()
    if not ctx.trace_flags.sampled:
        return None
    attrs = attributes_of(span)
    if may_matter(span.name, attrs):
        return record_from_readable(span)
    parent = span.parent
    return OrdinaryEnd.of(
        ctx.trace_id, ctx.span_id, parent.span_id if parent is not None else None, attrs, explicit_key
    )
