"""Span readers: every source of spans becomes one :class:`SpanRecord`, here and nowhere else."""

from otel_tool_exporter._internal.spans.record import (
    EventRecord,
    LinkRecord,
    SpanRecord,
    format_span_id,
    format_trace_id,
)

__all__ = ["EventRecord", "LinkRecord", "SpanRecord", "format_span_id", "format_trace_id"]
