"""OTLP trace requests (protobuf and OTLP/JSON) → :class:`SpanRecord`, converted once, at the edge.

Everything here runs on untrusted bytes, so it is total in a narrow sense: it returns a
:class:`DecodeResult` or raises :class:`DecodeError` — never anything else. A message whose shape
is wrong (not protobuf, not JSON, ``resourceSpans`` not a list) is a ``DecodeError`` (HTTP 400);
a well-formed message with a bad span (invalid ids, wrong field types) keeps its good spans and
reports the bad ones as rejected (OTLP ``partial_success``).

OTLP/JSON is *not* proto3 JSON: trace and span ids are hex, not base64, which is why it is read by
hand here — ``google.protobuf.json_format`` would silently decode hex ids as base64 into wrong
bytes. int64 values may be strings or numbers; enums are integers (names are accepted too);
unknown fields are ignored; both ``lowerCamelCase`` and ``snake_case`` field names are read.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from otel_tool_exporter._internal.spans import EventRecord, LinkRecord, SpanRecord
from otel_tool_exporter._internal.spans.sdk import OrdinaryEnd

__all__ = [
    "JSON",
    "PROTOBUF",
    "DecodeError",
    "DecodeResult",
    "decode_json",
    "decode_protobuf",
    "decode_request",
    "encode_response",
    "encode_status",
]

PROTOBUF = "protobuf"
JSON = "json"

# OTLP enum numbers → the names SpanRecord uses (the SDK's names). UNSPECIFIED kind is read as
# INTERNAL, as the OTLP proto allows receivers to.
_KINDS = {0: "INTERNAL", 1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}
_KIND_NAMES = {
    "SPAN_KIND_UNSPECIFIED": "INTERNAL",
    "SPAN_KIND_INTERNAL": "INTERNAL",
    "SPAN_KIND_SERVER": "SERVER",
    "SPAN_KIND_CLIENT": "CLIENT",
    "SPAN_KIND_PRODUCER": "PRODUCER",
    "SPAN_KIND_CONSUMER": "CONSUMER",
}
_STATUS = {0: "UNSET", 1: "OK", 2: "ERROR"}
_STATUS_NAMES = {"STATUS_CODE_UNSET": "UNSET", "STATUS_CODE_OK": "OK", "STATUS_CODE_ERROR": "ERROR"}

_MAX_DEPTH = 32  # nesting of array/kvlist attribute values kept as structure; deeper becomes text
_TOO_DEEP = "[nested deeper than 32 levels]"
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_UINT64_MAX = 2**64 - 1


class DecodeError(ValueError):
    """The request is not a well-formed OTLP trace export (the sidecar answers 400)."""


class _SpanError(ValueError):
    """One span cannot be used (the sidecar rejects it and keeps the others)."""


# ``may_matter(name, attributes)``: False when a span can be nothing but a link in the tree (the
# builder's judgement); such a span is read as its ids alone, an :class:`OrdinaryEnd`
MayMatter = Callable[[str, Mapping[str, Any]], bool]


@dataclass(slots=True)
class DecodeResult:
    spans: list[SpanRecord | OrdinaryEnd] = field(default_factory=list)
    rejected: Counter[str] = field(default_factory=Counter)

    @property
    def rejected_count(self) -> int:
        return sum(self.rejected.values())

    def error_message(self) -> str:
        """Why spans were rejected, one clause per reason (empty when none were)."""
        if not self.rejected:
            return ""
        reasons = "; ".join(f"{reason} ({n})" for reason, n in self.rejected.most_common())
        total = self.rejected_count + len(self.spans)
        return f"{self.rejected_count} of {total} spans rejected: {reasons}"


def decode_request(body: bytes, fmt: str, may_matter: MayMatter | None = None, explicit_key: str = "") -> DecodeResult:
    """Decode an uncompressed ``ExportTraceServiceRequest`` in ``fmt`` (``PROTOBUF`` or ``JSON``).
    With ``may_matter``, protobuf spans that cannot matter are read as ids only (see
    :func:`decode_protobuf`)."""
    if fmt == PROTOBUF:
        return decode_protobuf(body, may_matter, explicit_key)
    return decode_json(body)


# ====================================================================== ids, shared by both
def _trace_id(raw: bytes) -> int:
    if len(raw) != 16:
        raise _SpanError("invalid trace_id: must be 16 bytes")
    value = int.from_bytes(raw, "big")
    if value == 0:
        raise _SpanError("invalid trace_id: all zeros")
    return value


def _span_id(raw: bytes) -> int:
    if len(raw) != 8:
        raise _SpanError("invalid span_id: must be 8 bytes")
    value = int.from_bytes(raw, "big")
    if value == 0:
        raise _SpanError("invalid span_id: all zeros")
    return value


def _parent_id(raw: bytes) -> int | None:
    if not raw:
        return None
    if len(raw) != 8:
        raise _SpanError("invalid parent_span_id: must be 8 bytes or empty")
    return int.from_bytes(raw, "big") or None  # all zeros: some clients' way of saying "root"


def _hex(value: Any, what: str) -> bytes:
    if value is None or value == "":
        return b""
    if not isinstance(value, str):
        raise _SpanError(f"invalid {what}: not a hex string")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise _SpanError(f"invalid {what}: not hex") from None


# ====================================================================== protobuf
def decode_protobuf(body: bytes, may_matter: MayMatter | None = None, explicit_key: str = "") -> DecodeResult:
    """Decode a binary ``ExportTraceServiceRequest`` (needs the ``sidecar`` extra).

    With ``may_matter``, a span it rules out (most spans: no convention could claim it, it teaches
    no tool definitions) becomes an :class:`OrdinaryEnd` — its ids and the value of
    ``explicit_key`` — instead of a full record: the ids are checked alike, and the rest of it
    (times, status, events, links) is never read. The in-process exporter reads SDK spans the
    same way (``spans.sdk.read_end``)."""
    from google.protobuf.message import DecodeError as ProtobufDecodeError
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    message = ExportTraceServiceRequest()
    try:
        message.ParseFromString(body)
    except (ProtobufDecodeError, RecursionError, ValueError) as exc:
        raise DecodeError(f"not a valid OTLP protobuf ExportTraceServiceRequest: {exc}") from None
    result = DecodeResult()
    spans, rejected = result.spans, result.rejected
    for resource_spans in message.resource_spans:
        resource_attrs = _attrs_pb(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            scope = scope_spans.scope
            scope_name = scope.name or None
            scope_version = scope.version or None
            for span in scope_spans.spans:
                try:
                    attrs = _attrs_pb(span.attributes)
                    if may_matter is not None and not may_matter(span.name, attrs):
                        spans.append(_ordinary_pb(span, attrs, explicit_key))
                    else:
                        spans.append(_span_pb(span, attrs, resource_attrs, scope_name, scope_version))
                except _SpanError as exc:
                    rejected[str(exc)] += 1
    return result


def _ordinary_pb(span: Any, attrs: Mapping[str, Any], explicit_key: str) -> OrdinaryEnd:
    return OrdinaryEnd.of(
        _trace_id(span.trace_id), _span_id(span.span_id), _parent_id(span.parent_span_id), attrs, explicit_key
    )


def _span_pb(
    span: Any,
    attrs: dict[str, Any],
    resource_attrs: Mapping[str, Any],
    scope_name: str | None,
    scope_version: str | None,
) -> SpanRecord:
    trace_id = _trace_id(span.trace_id)
    span_id = _span_id(span.span_id)
    parent = _parent_id(span.parent_span_id)
    start = span.start_time_unix_nano
    status = span.status
    return SpanRecord(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent,
        name=span.name,
        kind=_KINDS.get(span.kind, "INTERNAL"),
        start_time_unix_nano=start,
        end_time_unix_nano=span.end_time_unix_nano or start,
        status_code=_STATUS.get(status.code, "UNSET"),
        status_description=status.message or None,
        attributes=attrs,
        events=tuple(EventRecord(e.name, e.time_unix_nano, _attrs_pb(e.attributes)) for e in span.events),
        resource_attributes=resource_attrs,
        scope_name=scope_name,
        scope_version=scope_version,
        links=_links(span.links, _link_pb),
    )


def _links(links: Any, read: Callable[[Any], LinkRecord]) -> tuple[LinkRecord, ...]:
    """The span's links; a malformed link is left out (the span itself is still good)."""
    found = []
    for link in links:
        try:
            found.append(read(link))
        except (_SpanError, ValueError, TypeError):
            continue
    return tuple(found)


def _link_pb(link: Any) -> LinkRecord:
    return LinkRecord(_link_id(link.trace_id, 16), _link_id(link.span_id, 8), _attrs_pb(link.attributes))


def _link_id(raw: bytes, size: int) -> int:
    if len(raw) != size:
        raise _SpanError("invalid link id")
    return int.from_bytes(raw, "big")


def _attrs_pb(key_values: Any) -> dict[str, Any]:
    return {kv.key: _value_pb(kv.value, 0) for kv in key_values}


def _value_pb(value: Any, depth: int) -> Any:
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        if depth >= _MAX_DEPTH:
            return _TOO_DEEP
        return tuple(_value_pb(v, depth + 1) for v in value.array_value.values)
    if which == "kvlist_value":
        if depth >= _MAX_DEPTH:
            return _TOO_DEEP
        return {kv.key: _value_pb(kv.value, depth + 1) for kv in value.kvlist_value.values}
    return getattr(value, which)  # string, bool, int, double, bytes


# ====================================================================== OTLP/JSON
def decode_json(body: bytes) -> DecodeResult:
    """Decode an OTLP/JSON ``ExportTraceServiceRequest``."""
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise DecodeError(f"not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise DecodeError("an OTLP/JSON request must be a JSON object")
    result = DecodeResult()
    spans, rejected = result.spans, result.rejected
    for i, resource_spans in enumerate(_list(doc, "resourceSpans", "resource_spans", "request")):
        where = f"resourceSpans[{i}]"
        if not isinstance(resource_spans, dict):
            raise DecodeError(f"{where} is not an object")
        resource = _get(resource_spans, "resource", "resource")
        if resource is not None and not isinstance(resource, dict):
            raise DecodeError(f"{where}.resource is not an object")
        try:
            resource_attrs = _attrs_json(resource or {})
        except _SpanError as exc:
            raise DecodeError(f"{where}.resource: {exc}") from None
        for j, scope_spans in enumerate(_list(resource_spans, "scopeSpans", "scope_spans", where)):
            here = f"{where}.scopeSpans[{j}]"
            if not isinstance(scope_spans, dict):
                raise DecodeError(f"{here} is not an object")
            scope = _get(scope_spans, "scope", "scope")
            if scope is not None and not isinstance(scope, dict):
                raise DecodeError(f"{here}.scope is not an object")
            scope_name = _opt_str(scope, "name")
            scope_version = _opt_str(scope, "version")
            for span in _list(scope_spans, "spans", "spans", here):
                try:
                    spans.append(_span_json(span, resource_attrs, scope_name, scope_version))
                except _SpanError as exc:
                    rejected[str(exc)] += 1
    return result


def _get(obj: Mapping[str, Any], camel: str, snake: str) -> Any:
    value = obj.get(camel)
    return obj.get(snake) if value is None else value


def _list(obj: Mapping[str, Any], camel: str, snake: str, where: str) -> list[Any]:
    value = _get(obj, camel, snake)
    if value is None:
        return []
    if not isinstance(value, list):
        raise DecodeError(f"{where}: {camel} is not a list")
    return value


def _opt_str(obj: Mapping[str, Any] | None, key: str) -> str | None:
    value = obj.get(key) if obj else None
    return value if isinstance(value, str) and value else None


def _uint64(value: Any, what: str) -> int:
    """int64/fixed64 in OTLP/JSON: a decimal string or a JSON number."""
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        raise _SpanError(f"invalid {what}: not an integer")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and len(value) <= 24:
        try:
            number = int(value.strip())
        except ValueError:
            raise _SpanError(f"invalid {what}: not an integer") from None
    else:
        raise _SpanError(f"invalid {what}: not an integer")
    if not 0 <= number <= _UINT64_MAX:
        raise _SpanError(f"invalid {what}: out of range")
    return number


def _enum(value: Any, numbers: Mapping[int, str], names: Mapping[str, str], default: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return numbers.get(value, default)
    if isinstance(value, str):
        return names.get(value, default)
    return default


def _span_json(
    span: Any, resource_attrs: Mapping[str, Any], scope_name: str | None, scope_version: str | None
) -> SpanRecord:
    if not isinstance(span, dict):
        raise _SpanError("span is not an object")
    trace_id = _trace_id(_hex(_get(span, "traceId", "trace_id"), "trace_id"))
    span_id = _span_id(_hex(_get(span, "spanId", "span_id"), "span_id"))
    parent = _parent_id(_hex(_get(span, "parentSpanId", "parent_span_id"), "parent_span_id"))
    name = span.get("name", "")
    if not isinstance(name, str):
        raise _SpanError("invalid name: not a string")
    start = _uint64(_get(span, "startTimeUnixNano", "start_time_unix_nano"), "startTimeUnixNano")
    end = _uint64(_get(span, "endTimeUnixNano", "end_time_unix_nano"), "endTimeUnixNano")
    status = span.get("status")
    if status is not None and not isinstance(status, dict):
        raise _SpanError("invalid status: not an object")
    status = status or {}
    message = status.get("message")
    events = span.get("events")
    if events is not None and not isinstance(events, list):
        raise _SpanError("invalid events: not a list")
    return SpanRecord(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent,
        name=name,
        kind=_enum(span.get("kind"), _KINDS, _KIND_NAMES, "INTERNAL"),
        start_time_unix_nano=start,
        end_time_unix_nano=end or start,
        status_code=_enum(status.get("code"), _STATUS, _STATUS_NAMES, "UNSET"),
        status_description=message if isinstance(message, str) and message else None,
        attributes=_attrs_json(span),
        events=tuple(_event_json(e) for e in events or ()),
        resource_attributes=resource_attrs,
        scope_name=scope_name,
        scope_version=scope_version,
        links=_links(_span_links(span), _link_json),
    )


def _span_links(span: Mapping[str, Any]) -> list[Any]:
    links = span.get("links")
    return links if isinstance(links, list) else []


def _link_json(link: Any) -> LinkRecord:
    if not isinstance(link, dict):
        raise _SpanError("invalid link: not an object")
    trace_id = _link_id(_hex(_get(link, "traceId", "trace_id"), "link trace_id"), 16)
    span_id = _link_id(_hex(_get(link, "spanId", "span_id"), "link span_id"), 8)
    return LinkRecord(trace_id, span_id, _attrs_json(link))


def _event_json(event: Any) -> EventRecord:
    if not isinstance(event, dict):
        raise _SpanError("invalid event: not an object")
    name = event.get("name", "")
    if not isinstance(name, str):
        raise _SpanError("invalid event name: not a string")
    return EventRecord(
        name, _uint64(_get(event, "timeUnixNano", "time_unix_nano"), "event timeUnixNano"), _attrs_json(event)
    )


def _attrs_json(owner: Mapping[str, Any]) -> dict[str, Any]:
    attrs = owner.get("attributes")
    if attrs is None:
        return {}
    if not isinstance(attrs, list):
        raise _SpanError("invalid attributes: not a list")
    return _key_values(attrs, 0)


def _key_values(items: list[Any], depth: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kv in items:
        if not isinstance(kv, dict):
            raise _SpanError("invalid attribute: not an object")
        key = kv.get("key")
        if not isinstance(key, str):
            raise _SpanError("invalid attribute: key is not a string")
        out[key] = _value_json(kv.get("value"), depth)
    return out


def _value_json(value: Any, depth: int) -> Any:
    """One ``AnyValue``. A value of the wrong JSON type is kept as its text: nothing is lost."""
    if not isinstance(value, dict):
        return None if value is None else _as_text(value)
    for key, read in _VALUE_READERS:
        if key in value:
            raw = value[key]
            try:
                return read(raw, depth)
            except _SpanError:
                raise
            except Exception:
                return _as_text(raw)
    return None  # empty AnyValue, or only unknown fields


def _as_text(raw: Any) -> str:
    try:
        return json.dumps(raw, ensure_ascii=False)[:10_000]
    except (TypeError, ValueError, RecursionError):
        return "[unreadable value]"


def _read_string(raw: Any, depth: int) -> str:
    if not isinstance(raw, str):
        raise TypeError
    return raw


def _read_bool(raw: Any, depth: int) -> bool:
    if not isinstance(raw, bool):
        raise TypeError
    return raw


def _read_int(raw: Any, depth: int) -> int | str:
    if isinstance(raw, bool):
        raise TypeError
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    if isinstance(raw, str) and len(raw) <= 24:
        raw = int(raw.strip())
    if not isinstance(raw, int) or not _INT64_MIN <= raw <= _INT64_MAX:
        raise TypeError
    return raw


def _read_double(raw: Any, depth: int) -> float:
    if isinstance(raw, bool):
        raise TypeError
    if isinstance(raw, (int, float)):
        return float(raw)
    if isinstance(raw, str) and len(raw) <= 64:
        return float(raw)  # proto3 JSON spells non-finite doubles "NaN", "Infinity", "-Infinity"
    raise TypeError


def _read_bytes(raw: Any, depth: int) -> bytes:
    if not isinstance(raw, str):
        raise TypeError
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        return base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))


def _read_array(raw: Any, depth: int) -> Any:
    values = raw.get("values") if isinstance(raw, dict) else None
    if values is None and isinstance(raw, dict):
        return ()
    if not isinstance(values, list):
        raise TypeError
    if depth >= _MAX_DEPTH:
        return _TOO_DEEP
    return tuple(_value_json(v, depth + 1) for v in values)


def _read_kvlist(raw: Any, depth: int) -> Any:
    values = raw.get("values") if isinstance(raw, dict) else None
    if values is None and isinstance(raw, dict):
        return {}
    if not isinstance(values, list):
        raise TypeError
    if depth >= _MAX_DEPTH:
        return _TOO_DEEP
    return _key_values(values, depth + 1)


_VALUE_READERS: tuple[tuple[str, Callable[[Any, int], Any]], ...] = (
    ("stringValue", _read_string),
    ("string_value", _read_string),
    ("boolValue", _read_bool),
    ("bool_value", _read_bool),
    ("intValue", _read_int),
    ("int_value", _read_int),
    ("doubleValue", _read_double),
    ("double_value", _read_double),
    ("arrayValue", _read_array),
    ("array_value", _read_array),
    ("kvlistValue", _read_kvlist),
    ("kvlist_value", _read_kvlist),
    ("bytesValue", _read_bytes),
    ("bytes_value", _read_bytes),
)


# ====================================================================== responses
def encode_response(result: DecodeResult | None, fmt: str) -> bytes:
    """``ExportTraceServiceResponse`` in ``fmt``, with ``partial_success`` when spans were rejected."""
    rejected = result.rejected_count if result is not None else 0
    message = result.error_message() if result is not None else ""
    if fmt == JSON:
        if not rejected:
            return b"{}"
        doc = {"partialSuccess": {"rejectedSpans": str(rejected), "errorMessage": message}}
        return json.dumps(doc).encode()
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

    response = ExportTraceServiceResponse()
    if rejected:
        response.partial_success.rejected_spans = rejected
        response.partial_success.error_message = message
    return response.SerializeToString()


def encode_status(code: int, message: str, fmt: str) -> bytes:
    """A ``google.rpc.Status`` (OTLP's error body) in ``fmt``; written by hand, it is two fields."""
    if fmt == JSON:
        return json.dumps({"code": code, "message": message}).encode()
    text = message.encode("utf-8", "replace")
    return b"\x08" + _varint(code) + b"\x12" + _varint(len(text)) + text


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)
