"""One finished tool span + its ``ToolCall`` → one ``ToolLogRequest``.

Pure and total: no I/O, no shared state, and no input can make it raise. ``trace_parent_id`` is
left for the ordering stage, which alone knows the parent's server-assigned Log id.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from otel_tool_exporter._internal.build.conventions import ToolCall, ToolSchemaHint
from otel_tool_exporter._internal.build.values import (
    MISSING,
    SCALARS,
    canonical,
    decode_json,
    dumps_compact,
    json_safe,
)
from otel_tool_exporter._internal.spans import LinkRecord, SpanRecord, format_span_id, format_trace_id
from otel_tool_exporter._internal.spans.sdk import is_shared_resource
from otel_tool_exporter.models import ToolFunction, ToolKernel, ToolLogRequest, format_datetime

if TYPE_CHECKING:
    from otel_tool_exporter._internal.build.schemas import SchemaMemory
    from otel_tool_exporter.settings import Settings

__all__ = [
    "EXPLICIT_PARENT_KEY",
    "MappedLog",
    "error_details",
    "error_message",
    "map_recognised",
    "map_tool_span",
    "split_error",
]

EXPLICIT_PARENT_KEY = "humanloop.log.trace_parent_id"
PATH_KEY = "humanloop.file.path"
LOG_ERROR_KEY = "humanloop.log.error"
VERSION_KEY = "humanloop.version_id"
ENVIRONMENT_QUERY_KEY = "humanloop.environment"
LOG_ENVIRONMENT_KEY = "humanloop.log.environment"
USER_KEYS = ("humanloop.log.user", "user.id", "enduser.id", "langfuse.user.id")
STRING_FIELDS = ("source_datapoint_id", "batch_id")
OBJECT_FIELDS = ("provider_request", "provider_response")
SAVE_KEY = "humanloop.log.save"


@dataclass(slots=True)
class MappedLog:
    """A Log request ready for ordering: query parameters travel beside the body."""

    request: ToolLogRequest
    version_id: str | None
    environment: str | None
    explicit_parent: str | None


M = TypeVar("M", bound=BaseModel)


def _fast_builder(model: type[M], sample: dict[str, Any]) -> Callable[[dict[str, Any]], M]:
    """``model.model_construct(**fields)`` without pydantic's Python loop over every field (for
    ``ToolLogRequest`` a sixth of the mapping's time): the same four attributes pydantic sets, set
    directly. Used only if, with this pydantic version, it builds exactly what ``model_construct``
    builds for ``sample`` (checked once, at import); else ``model_construct`` itself."""
    unset = dict.fromkeys(model.model_fields)  # every field of these models defaults to None
    new, set_slot = model.__new__, object.__setattr__

    def fast(fields: dict[str, Any]) -> M:
        instance = new(model)
        values = unset.copy()
        values.update(fields)
        set_slot(instance, "__dict__", values)
        set_slot(instance, "__pydantic_fields_set__", set(fields))
        set_slot(instance, "__pydantic_extra__", None)
        set_slot(instance, "__pydantic_private__", None)
        return instance

    try:
        quick, slow = fast(dict(sample)), model.model_construct(**sample)
        same = (
            quick.__dict__ == slow.__dict__
            and quick.model_fields_set == slow.model_fields_set
            and quick.__pydantic_extra__ == slow.__pydantic_extra__
            and quick.__pydantic_private__ == slow.__pydantic_private__
            and quick.model_dump_json(exclude_none=True) == slow.model_dump_json(exclude_none=True)
            and not model.__pydantic_post_init__
        )
    except Exception:
        same = False
    return fast if same else (lambda fields: model.model_construct(**fields))


_construct = _fast_builder(ToolLogRequest, {"path": "p", "output": "o", "metadata": {"k": 1}})
_function = _fast_builder(ToolFunction, {"name": "n", "description": "d", "parameters": {"type": "object"}})
_kernel = _fast_builder(ToolKernel, {"function": ToolFunction.model_construct(name="n")})

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MAX_NS = (datetime(9999, 12, 31, tzinfo=timezone.utc) - _EPOCH) // timedelta(microseconds=1) * 1000


def _iso(ns: int) -> datetime:
    """Integer arithmetic (a float of ~1.7e18 ns cannot hold microseconds exactly), truncated to
    the microsecond, clamped to what a datetime can hold so no timestamp can make mapping raise."""
    if type(ns) is not int or not 0 <= ns <= _MAX_NS:
        ns = min(max(0, int(ns)), _MAX_NS)
    return _EPOCH + timedelta(0, 0, ns // 1000)  # positional: a third cheaper than microseconds=


def _as_text(value: Any) -> str:
    """A tool's output as Humanloop shows it: strings as they are, anything else compact JSON.

    Values JSON cannot carry (bytes, NaN) become text first; that text is shown as is too."""
    if type(value) in (dict, list):
        return dumps_compact(value)  # no walk for the usual JSON-native value (see dumps_compact)
    safe = json_safe(value)
    if isinstance(safe, str):
        return safe
    return dumps_compact(safe)


def _tool_name(call: ToolCall, span: SpanRecord) -> str:
    """The Tool's name, never empty and always valid text (the API requires ``function.name``)."""
    for candidate in (call.name, span.name):
        name = json_safe(candidate) if isinstance(candidate, str) else None
        if name and name.strip():
            return name
    return "unnamed_tool"


_ARGS_KWARGS = frozenset(("args", "kwargs"))


def _inputs(arguments: Any) -> dict[str, Any] | None:
    if arguments is MISSING:
        return None
    value = json_safe(decode_json(arguments))
    if isinstance(value, dict):
        args, kwargs = value.get("args"), value.get("kwargs")
        if value.keys() <= _ARGS_KWARGS and isinstance(kwargs, dict) and isinstance(args, (list, type(None))):
            merged = dict(kwargs)
            if args:
                merged["args"] = args
            return merged
        return value
    return {"input": value}


_TRACEBACK = "Traceback (most recent call last):"
_EXCEPTION_REPR = re.compile(r"\A\s*([A-Za-z_][\w.]*)\((.*)\)\s*\Z", re.S)
_MAX_REPR_CHARS = 10_000
_EXCEPTION_SUFFIXES = ("Error", "Exception", "Warning", "Exit", "Interrupt", "Failure", "Timeout", "Cancelled")


def _exception_repr(text: str, *, traced: bool) -> str | None:
    """``ValueError('boom')`` (an exception's ``repr``) as ``ValueError: boom``; else ``None``.
    Without a traceback after it, only a name that reads as an exception class counts
    (``…Error``, ``…Exception``, …): ``Point(1, 2)`` is not reduced."""
    match = _EXCEPTION_REPR.match(text)
    if match is None or len(text) > _MAX_REPR_CHARS or not match.group(1).rsplit(".", 1)[-1][:1].isupper():
        return None
    if not traced and not match.group(1).endswith(_EXCEPTION_SUFFIXES):
        return None
    kind, raw_args = match.groups()
    try:
        args = ast.literal_eval(f"({raw_args},)") if raw_args.strip() else ()
    except Exception:  # not literal arguments: not an exception repr we can read
        return None
    if not args:
        return kind
    return f"{kind}: {args[0] if len(args) == 1 else ', '.join(str(a) for a in args)}"


def split_error(text: str) -> tuple[str, str | None, bool]:
    """An error text as ``(message, traceback, typed)``.

    Some instrumentations record an exception as its ``repr`` followed by the whole traceback
    (``ValueError('boom')Traceback (most recent call last): …``): the message is then
    ``ValueError: boom`` and the traceback is returned apart, so it does not bury the message. A
    bare traceback gives its last line. ``typed`` says the message already names the exception
    type (it came from a ``repr`` or a traceback's last line)."""
    index = text.find(_TRACEBACK)
    head, trace = (text, None) if index < 0 else (text[:index].strip(), text[index:])
    if trace is not None and not head:
        lines = [line.strip() for line in trace.splitlines() if line.strip()]
        return (lines[-1] if len(lines) > 1 else text), trace, len(lines) > 1
    reduced = _exception_repr(head, traced=trace is not None)
    return (reduced, trace, True) if reduced is not None else (head, trace, False)


def _exception_event(span: SpanRecord) -> tuple[str | None, str | None, str | None]:
    """The first ``exception`` event's type, message and stack trace."""
    for event in span.events:
        if event.name == "exception":
            attrs = event.attributes
            values = (attrs.get("exception.type"), attrs.get("exception.message"), attrs.get("exception.stacktrace"))
            etype, emsg, trace = (str(v) if v not in (None, "") else None for v in values)
            return etype, emsg, trace
    return None, None, None


def error_details(span: SpanRecord, call: ToolCall | None = None) -> tuple[str | None, str | None]:
    """The Log's ``error`` and the stack trace that goes with it (kept apart, in metadata).

    An explicit ``humanloop.log.error`` first; else, when the status is ERROR: the status
    description, reduced to ``{type}: {message}`` (a description that is just the exception's
    message gets the exception event's type); else the first exception event as
    ``{type}: {message}``; else ``error.type``; else what the convention read (an error attribute,
    which also counts while the status stays UNSET). Never empty when the status is ERROR."""
    explicit = span.attributes.get(LOG_ERROR_KEY)
    if explicit not in (None, ""):
        return _as_text(explicit), None
    etype, emsg, event_trace = _exception_event(span) if span.events else (None, None, None)
    if span.status_code == "ERROR":
        if span.status_description:
            message, trace, typed = split_error(span.status_description)
            if not typed and etype and emsg and message == emsg.strip():
                message = f"{etype}: {message}"
            return json_safe(message), trace or event_trace
        if etype or emsg:
            message, trace, typed = split_error(emsg or "")
            if etype and emsg and not typed:
                message = f"{etype}: {message}"
            return json_safe(message or str(etype)), trace or event_trace
        etype_attr = span.attributes.get("error.type")
        if etype_attr:
            return json_safe(str(etype_attr)), None
        if call is not None and call.error:
            message, trace, _ = split_error(str(call.error))
            return json_safe(message), trace
        return "span status ERROR (no description recorded)", None
    if call is not None and call.error:
        message, trace, _ = split_error(str(call.error))
        return json_safe(message), trace or event_trace
    return None, None


def error_message(span: SpanRecord, call: ToolCall | None = None) -> str | None:
    """The Log's ``error`` (see :func:`error_details`)."""
    return error_details(span, call)[0]


def _is_nothing(result: Any) -> bool:
    """What a failed call records when it returned nothing: ``None``, or an empty ``{}``/``""``."""
    return result is None or (type(result) in (dict, list, str) and not result)


def _link(link: LinkRecord) -> dict[str, Any]:
    entry: dict[str, Any] = {"trace_id": format_trace_id(link.trace_id), "span_id": format_span_id(link.span_id)}
    if link.attributes:
        entry["attributes"] = json_safe(dict(link.attributes))
    return entry


def _stdout(span: SpanRecord, consumed_events: frozenset[int]) -> str | None:
    lines = []
    for index, event in enumerate(span.events):
        if event.name == "exception" or index in consumed_events:
            continue
        stamp = format_datetime(_iso(event.time_unix_nano)) if event.time_unix_nano else "-"
        lines.append(f"{stamp} {json_safe(str(event.name))} {dumps_compact(json_safe(dict(event.attributes)))}")
    return "\n".join(lines) if lines else None


def _tool_kernel(call: ToolCall, name: str, hint: ToolSchemaHint | None) -> ToolKernel:
    description = call.description or (hint.description if hint else None)
    parameters = call.schema if call.schema is not None else (hint.parameters if hint else None)
    if parameters is not None and not _is_json_schema(parameters):
        parameters = None
    function: dict[str, Any] = {"name": name}  # _tool_name: never empty, always valid text
    if description:
        function["description"] = json_safe(str(description))
    if parameters is not None:
        function["parameters"] = canonical(json_safe(parameters))
    # every value is checked above, so the models are built without validating them again (the
    # fields given are the ones serialised; unset ones are omitted either way)
    return _kernel({"function": _function(function)})


def _is_json_schema(value: Any) -> bool:
    """Only object schemas are sent: a broken schema would create a broken Tool version."""
    return isinstance(value, dict) and (value.get("type") == "object" or "properties" in value)


def _first(attrs: Mapping[str, Any], keys: tuple[str, ...], consumed: set[str]) -> str | None:
    for key in keys:
        value = attrs.get(key)
        if value not in (None, ""):
            consumed.add(key)
            return str(value)
    return None


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
        return value.strip().lower() in ("true", "1")
    if isinstance(value, int):
        return bool(value)
    return None


# attributes by which a span sets Log fields itself (read by _log_fields)
_LOG_FIELD_KEYS = frozenset(
    (
        LOG_ERROR_KEY,
        LOG_ENVIRONMENT_KEY,
        SAVE_KEY,
        VERSION_KEY,
        ENVIRONMENT_QUERY_KEY,
        EXPLICIT_PARENT_KEY,
        *USER_KEYS,
        *(f"humanloop.log.{name}" for name in (*STRING_FIELDS, *OBJECT_FIELDS)),
    )
)


def _log_fields(
    attrs: Mapping[str, Any], consumed: set[str], fields: dict[str, Any]
) -> tuple[str | None, str | None, str | None]:
    """Log fields a span sets through its attributes, into ``fields``; returns the version id and
    environment it asks for (query parameters) and its explicit parent Log id."""
    if LOG_ERROR_KEY in attrs:
        consumed.add(LOG_ERROR_KEY)  # error_details read it
    user = _first(attrs, USER_KEYS, consumed)
    if user:
        fields["user"] = json_safe(user)
    env_body = _first(attrs, (LOG_ENVIRONMENT_KEY,), consumed)
    if env_body:
        fields["environment"] = json_safe(env_body)
    for name in STRING_FIELDS:
        value = _first(attrs, (f"humanloop.log.{name}",), consumed)
        if value:
            fields[name] = json_safe(value)
    for name in OBJECT_FIELDS:
        key = f"humanloop.log.{name}"
        if key in attrs:
            consumed.add(key)
            value = json_safe(decode_json(attrs[key]))
            fields[name] = value if isinstance(value, dict) else {"value": value}
    span_save = _bool(attrs.get(SAVE_KEY)) if SAVE_KEY in attrs else None
    if span_save is not None:
        consumed.add(SAVE_KEY)
        fields["save"] = span_save
    return (
        _first(attrs, (VERSION_KEY,), consumed),
        _first(attrs, (ENVIRONMENT_QUERY_KEY,), consumed),
        _first(attrs, (EXPLICIT_PARENT_KEY,), consumed),
    )


_RESOURCES: dict[int, tuple[Mapping[str, Any], dict[str, Any], str | None, Any]] = {}
_MAX_RESOURCES = 64
_ENVIRONMENT_KEYS = ("deployment.environment.name", "deployment.environment")


def _resource_fields(resource: Mapping[str, Any]) -> tuple[dict[str, Any], str | None, Any]:
    """What a Log takes from the resource attributes, JSON-safe: the attributes but
    ``service.name`` (for ``metadata.otel.resource``), the deployment environment (``None`` if
    none) and the service name. Worked out once for the shared view of an SDK resource; every Log
    gets a copy of its own of the attributes (a redact hook may change a Log's metadata in place),
    so only flat ones are kept."""
    known = _RESOURCES.get(id(resource))
    if known is not None and known[0] is resource:
        return dict(known[1]), known[2], known[3]
    # what json_safe(dict) does to a mapping, without first copying it to leave one key out
    safe = {
        k if type(k) is str and k.isascii() else json_safe(str(k)): json_safe(v, 1)
        for k, v in resource.items()
        if k != "service.name"
    }
    env_body = _first(resource, _ENVIRONMENT_KEYS, set())
    environment = json_safe(env_body) if env_body else None
    service = json_safe(resource.get("service.name"))
    if is_shared_resource(resource) and type(service) in SCALARS and all(type(v) in SCALARS for v in safe.values()):
        if len(_RESOURCES) >= _MAX_RESOURCES:
            _RESOURCES.clear()
        _RESOURCES[id(resource)] = (resource, safe, environment, service)
        return dict(safe), environment, service
    return safe, environment, service


def map_tool_span(
    span: SpanRecord,
    call: ToolCall,
    *,
    path_prefix: str = "",
    version_id: str | None = None,
    environment: str | None = None,
    save: bool | None = None,
    schema_hint: ToolSchemaHint | None = None,
) -> MappedLog:
    """Build the Log request for one tool span (everything but ``trace_parent_id``)."""
    attrs = span.attributes
    consumed: set[str] = set(call.consumed)
    name = _tool_name(call, span)

    path = attrs.get(PATH_KEY)
    if isinstance(path, str) and path.strip():
        consumed.add(PATH_KEY)
    else:
        path = f"{path_prefix}{name}"

    end = _iso(span.end_time_unix_nano)
    scope = json_safe(span.scope_name)
    fields: dict[str, Any] = {
        "path": json_safe(path),
        "tool": _tool_kernel(call, name, schema_hint),
        "start_time": _iso(span.start_time_unix_nano),
        "end_time": end,
        "created_at": end,  # datetimes are immutable: one object serves both
        "provider_latency": max(0.0, (span.end_time_unix_nano - span.start_time_unix_nano) / 1e9),
        "source": scope if span.scope_name else "opentelemetry",
    }
    inputs = _inputs(call.arguments)
    if (
        inputs is not None
        and len(inputs) == 1
        and "input" in inputs
        and not isinstance(decode_json(call.arguments), dict)
    ):
        # a bare value (LangChain records "Paris" for get_weather(city="Paris")): name it after
        # the tool's only parameter when the schema says there is exactly one
        schema = call.schema if call.schema is not None else (schema_hint.parameters if schema_hint else None)
        props = schema.get("properties") if isinstance(schema, dict) else None
        if isinstance(props, dict) and len(props) == 1:
            inputs = {json_safe(str(next(iter(props)))): inputs["input"]}
    if call.extra_inputs:
        inputs = {**(inputs or {}), **json_safe(dict(call.extra_inputs))}
    if inputs is not None:
        fields["inputs"] = inputs

    error, stacktrace = error_details(span, call)
    if error:
        fields["error"] = error
    if call.result is not MISSING and not (error and _is_nothing(call.result)):
        fields["output"] = _as_text(call.result)

    stdout = _stdout(span, call.consumed_events) if span.events else None
    if stdout:
        fields["stdout"] = stdout

    query_version, query_environment, explicit_parent = version_id, environment, None
    if not _LOG_FIELD_KEYS.isdisjoint(attrs):  # one test in C for the many spans that set none
        query_version, query_environment, explicit_parent = _log_fields(attrs, consumed, fields)
    resource, resource_environment, service = _resource_fields(span.resource_attributes)
    if "environment" not in fields and resource_environment is not None:
        fields["environment"] = resource_environment
    if "save" not in fields and save is not None:
        fields["save"] = save
    query_version = query_version or version_id
    query_environment = query_environment or environment

    otel: dict[str, Any] = {
        "trace_id": span.trace_id_hex,
        "span_id": span.span_id_hex,
        "parent_span_id": span.parent_span_id_hex,
        "span_name": json_safe(span.name),
        "span_kind": span.kind,
        "status_code": span.status_code,
        "scope": scope,
        "service_name": service,
        "convention": call.convention,
    }
    if span.scope_version:
        otel["scope_version"] = json_safe(span.scope_version)
    if call.call_id:
        otel["call_id"] = json_safe(call.call_id)
    if stacktrace:
        otel["error_stacktrace"] = json_safe(stacktrace)
    if span.links:
        otel["links"] = [_link(link) for link in span.links]
    if resource:
        otel["resource"] = resource
    fields["metadata"] = {
        "otel": otel,
        # every key read into the Log (the usual case) is found out by one set test in C
        "attributes": {}
        if consumed.issuperset(attrs)
        else {json_safe(k): json_safe(v) for k, v in attrs.items() if k not in consumed},
    }
    request = _construct(fields)
    return MappedLog(
        request=request,
        version_id=query_version,
        environment=query_environment,
        explicit_parent=explicit_parent,
    )


def map_recognised(span: SpanRecord, call: ToolCall, settings: Settings, schemas: SchemaMemory) -> MappedLog:
    """The Log request the exporter builds for a recognised tool span, with what it has learnt:
    the call id from the LLM span that requested the call when the tool span lacks it (some
    frameworks record it only there; ``call`` is filled in place), and the tool's schema from the
    chat spans' tool definitions. The pipeline sends this; ``doctor --span`` shows it."""
    if call.call_id is None:
        call.call_id = schemas.call_id_for(span.trace_id, call.name, call.arguments)
    return map_tool_span(
        span,
        call,
        path_prefix=settings.path_prefix,
        version_id=settings.version_id,
        environment=settings.environment,
        save=settings.save,
        schema_hint=schemas.lookup(span.trace_id, call.name),
    )
