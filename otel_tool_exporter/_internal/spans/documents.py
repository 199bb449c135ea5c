"""Span documents: JSON files that hold spans, in the formats users have at hand.

The SDK's ``ReadableSpan.to_json()``, OTLP/JSON (one span, a ``resourceSpans`` entry or a whole
export request — read by the same decoder as the sidecar), and the test fixture format. Used by
``otel-tool-exporter doctor --span``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from otel_tool_exporter._internal.logtree import parse_time
from otel_tool_exporter._internal.spans.record import EventRecord, LinkRecord, SpanRecord

__all__ = ["SpanFileError", "read_spans"]


class SpanFileError(ValueError):
    """The file is not a span in any format read here."""


def _ns(value: Any) -> int:
    """An ISO timestamp (SDK ``to_json``) or a number of nanoseconds, as Unix nanoseconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    seconds = parse_time(value)
    if seconds is None:
        return 0
    # keep microseconds exact: float seconds would blur the last digits
    text = str(value).rstrip("Zz")
    micros = int((text.split(".", 1)[1] + "000000")[:6]) if "." in text else 0
    return int(seconds) * 1_000_000_000 + micros * 1000


def _hex_id(value: Any) -> int | None:
    if not isinstance(value, str) or not value:
        return None
    text = value[2:] if value.lower().startswith("0x") else value
    try:
        return int(text, 16) or None
    except ValueError:
        raise SpanFileError(f"not a hex id: {value!r}") from None


def _attrs(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        return {}
    return {k: tuple(v) if isinstance(v, list) else v for k, v in value.items()}


def _from_sdk_json(doc: Mapping[str, Any]) -> SpanRecord:
    """``ReadableSpan.to_json()``: ids as ``0x…`` hex, times as ISO strings, kind ``SpanKind.X``."""
    context = doc.get("context") or {}
    trace_id, span_id = _hex_id(context.get("trace_id")), _hex_id(context.get("span_id"))
    if trace_id is None or span_id is None:
        raise SpanFileError("context.trace_id / context.span_id missing")
    status = doc.get("status") or {}
    return SpanRecord(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=_hex_id(doc.get("parent_id")),
        name=str(doc.get("name") or ""),
        kind=str(doc.get("kind") or "SpanKind.INTERNAL").rsplit(".", 1)[-1],
        start_time_unix_nano=_ns(doc.get("start_time")),
        end_time_unix_nano=_ns(doc.get("end_time") or doc.get("start_time")),
        status_code=str(status.get("status_code") or "UNSET"),
        status_description=status.get("description") or None,
        attributes=_attrs(doc.get("attributes")),
        events=tuple(
            EventRecord(str(e.get("name") or ""), _ns(e.get("timestamp")), _attrs(e.get("attributes")))
            for e in doc.get("events") or ()
            if isinstance(e, dict)
        ),
        resource_attributes=_attrs((doc.get("resource") or {}).get("attributes")),
        links=tuple(_sdk_link(link) for link in doc.get("links") or () if isinstance(link, dict)),
    )


def _sdk_link(link: Mapping[str, Any]) -> LinkRecord:
    context = link.get("context") or {}
    return LinkRecord(
        _hex_id(context.get("trace_id")) or 0, _hex_id(context.get("span_id")) or 0, _attrs(link.get("attributes"))
    )


def _from_otlp_json(doc: Mapping[str, Any]) -> list[SpanRecord]:
    """OTLP/JSON: a whole export request, one ``resourceSpans`` entry, or a bare span object."""
    from otel_tool_exporter._internal.spans.otlp import DecodeError, decode_json

    if "resourceSpans" in doc or "resource_spans" in doc:
        request: Mapping[str, Any] = doc
    elif "scopeSpans" in doc or "scope_spans" in doc:
        request = {"resourceSpans": [doc]}
    else:
        request = {"resourceSpans": [{"scopeSpans": [{"spans": [doc]}]}]}
    try:
        result = decode_json(json.dumps(request).encode())
    except DecodeError as exc:
        raise SpanFileError(f"not OTLP/JSON: {exc}") from None
    if result.rejected:
        raise SpanFileError(result.error_message())
    return [span for span in result.spans if isinstance(span, SpanRecord)]  # all of them: no may_matter


def read_spans(doc: Any) -> list[SpanRecord]:
    """Every span in a ``--span`` document: the SDK's ``to_json()``, OTLP/JSON, or the test
    fixture format (``{"spans": [...]}``); a JSON list of spans in any of these is read too."""
    if isinstance(doc, list):
        return [span for item in doc for span in read_spans(item)]
    if not isinstance(doc, dict):
        raise SpanFileError("expected a JSON object (one span) or an OTLP/JSON export request")
    if "context" in doc and "name" in doc:
        return [_from_sdk_json(doc)]
    if any(k in doc for k in ("resourceSpans", "resource_spans", "scopeSpans", "scope_spans", "traceId", "spanId")):
        return _from_otlp_json(doc)
    if isinstance(doc.get("spans"), list):
        return [SpanRecord.from_fixture(s) for s in doc["spans"]]
    if "trace_id" in doc and "span_id" in doc:
        return [SpanRecord.from_fixture(doc)]
    raise SpanFileError(
        "not a span: expected ReadableSpan.to_json() output (with 'context'), OTLP/JSON "
        "('resourceSpans' or a span with 'traceId'), or the test fixture format"
    )
