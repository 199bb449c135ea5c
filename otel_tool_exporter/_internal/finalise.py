"""The finalise stage: the one place a Log request changes after it was built.

Ordering decided where the Log nests; finalise writes that in (``trace_parent_id``, or
``metadata.otel.unresolved_parent`` / ``skipped_parent`` saying why not), caps every value field
at ``max_field_bytes`` and serialises the body that goes on the wire.
"""

from __future__ import annotations

from typing import Any

from otel_tool_exporter._internal.build.builder import LogDraft
from otel_tool_exporter._internal.delivery.outcomes import Outgoing
from otel_tool_exporter._internal.limits import cap_request
from otel_tool_exporter.models import UPDATE_FIELDS, ToolLogRequest

__all__ = ["finalise", "finalise_update", "nest", "wire_body"]


def nest(
    request: ToolLogRequest,
    parent_log_id: str | None,
    unresolved: dict[str, str] | None = None,
    skipped: dict[str, Any] | None = None,
) -> None:
    """Write where the Log nests into its request."""
    if parent_log_id is not None:
        request.trace_parent_id = parent_log_id
    otel = request.metadata.get("otel") if isinstance(request.metadata, dict) else None
    if isinstance(otel, dict):
        if unresolved is not None:
            otel["unresolved_parent"] = unresolved
        if skipped is not None:
            otel["skipped_parent"] = skipped


def wire_body(request: ToolLogRequest, max_field_bytes: int) -> bytes:
    """The body as sent: every value field capped, fields that were cut listed."""
    body = request.to_json_bytes()
    if len(body) > max_field_bytes and cap_request(request, max_field_bytes):
        body = request.to_json_bytes()
    return body


def finalise_update(
    draft: LogDraft,
    *,
    trace_id: int,
    span_id: int,
    update: tuple[str, str],
    max_field_bytes: int,
    seq: int = 0,
    row: int | None = None,
) -> Outgoing:
    """The completion of a Log created early (Update Log): only the fields an update may carry —
    what the span told at its end (output, error, end time, latency, stdout), its final inputs and
    metadata. Where it nests was settled when the Log was created."""
    request = draft.request
    if len(request.to_json_bytes()) > max_field_bytes:
        cap_request(request, max_field_bytes)
    otel = request.metadata.get("otel") if isinstance(request.metadata, dict) else None
    if isinstance(otel, dict):
        otel["running"] = False
    body = request.model_dump_json(include=set(UPDATE_FIELDS), exclude_none=True).encode()
    return Outgoing(
        trace_id=trace_id,
        span_id=span_id,
        body=body,
        path=request.path or "?",
        seq=seq,
        row=row,
        update=update,
    )


def finalise(
    draft: LogDraft,
    *,
    trace_id: int,
    span_id: int,
    parent_log_id: str | None,
    unresolved: dict[str, str] | None = None,
    skipped: dict[str, Any] | None = None,
    max_field_bytes: int,
    seq: int = 0,
    row: int | None = None,
) -> Outgoing:
    request = draft.request
    nest(request, parent_log_id, unresolved, skipped)
    return Outgoing(
        trace_id=trace_id,
        span_id=span_id,
        body=wire_body(request, max_field_bytes),
        path=request.path or "?",
        version_id=draft.version_id,
        environment=draft.environment,
        seq=seq,
        row=row,
    )
