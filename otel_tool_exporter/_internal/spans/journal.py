"""A span written to disk and read back: the spool's journal of spans accepted but not yet built.

The format is the fixture format ``SpanRecord.from_fixture`` reads (hex ids, Unix-nanosecond
times, non-finite floats as ``{"$float": …}`` and bytes as ``{"$bytes": …}``), so a journaled span
comes back as the same record, attribute for attribute.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from otel_tool_exporter._internal.build.values import dumps_compact
from otel_tool_exporter._internal.spans.record import SpanRecord, format_span_id, format_trace_id

__all__ = ["decode", "encode"]


def _value(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"$float": str(value)}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$bytes": bytes(value).hex()}
    if isinstance(value, (list, tuple)):
        return [_value(v) for v in value]
    return str(value)


def _attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k): _value(v) for k, v in attrs.items()}


def encode(span: SpanRecord) -> bytes:
    doc: dict[str, Any] = {
        "trace_id": format_trace_id(span.trace_id),
        "span_id": format_span_id(span.span_id),
        "parent_span_id": None if span.parent_span_id is None else format_span_id(span.parent_span_id),
        "name": span.name,
        "kind": span.kind,
        "start_time_unix_nano": span.start_time_unix_nano,
        "end_time_unix_nano": span.end_time_unix_nano,
        "status": {"code": span.status_code, "description": span.status_description},
        "attributes": _attrs(span.attributes),
    }
    if span.events:
        doc["events"] = [
            {"name": e.name, "time_unix_nano": e.time_unix_nano, "attributes": _attrs(e.attributes)}
            for e in span.events
        ]
    if span.resource_attributes:
        doc["resource"] = {"attributes": _attrs(span.resource_attributes)}
    if span.scope_name is not None or span.scope_version is not None:
        doc["scope"] = {"name": span.scope_name, "version": span.scope_version}
    if span.links:
        doc["links"] = [
            {
                "trace_id": format_trace_id(link.trace_id),
                "span_id": format_span_id(link.span_id),
                "attributes": _attrs(link.attributes),
            }
            for link in span.links
        ]
    return dumps_compact(doc).encode()


def decode(body: bytes) -> SpanRecord:
    import json

    return SpanRecord.from_fixture(json.loads(body))
