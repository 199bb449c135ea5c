"""Pydantic models for Humanloop's "Log to a Tool" endpoint, field for field.

They follow Humanloop's API reference for the endpoint; the models are used by the
mapping stage (building requests), the client (parsing replies) and the stub server (validating
bodies), so the three can never drift apart.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model, field_serializer
from pydantic_core import SchemaSerializer

__all__ = [
    "UPDATE_FIELDS",
    "HTTPValidationError",
    "ToolFunction",
    "ToolKernel",
    "ToolLogRequest",
    "ToolLogResponse",
    "ToolLogUpdate",
    "ValidationErrorItem",
    "format_datetime",
]


def format_datetime(value: datetime) -> str:
    """RFC 3339 in UTC with microseconds and a ``Z`` suffix; naive datetimes are taken as UTC."""
    if value.tzinfo is not timezone.utc:
        value = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    # isoformat runs in C and always pads the year to four digits; "+00:00" becomes "Z"
    return value.isoformat(timespec="microseconds")[:-6] + "Z"


class _Strict(BaseModel):
    """Request-side models refuse unknown fields: a typo must fail loudly, not vanish."""

    model_config = ConfigDict(extra="forbid")


class ToolFunction(_Strict):
    """The ``function`` of a Tool kernel: an OpenAI-style function definition."""

    name: str = Field(min_length=1)
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class ToolKernel(_Strict):
    """Tool details sent with a Log; the server reuses the version whose details match."""

    function: ToolFunction | None = None
    source_code: str | None = None
    setup_values: dict[str, Any] | None = None
    attributes: dict[str, Any] | None = None


class _UtcTimes(_Strict):
    """Datetimes on the wire: RFC 3339 in UTC with microseconds and a ``Z``."""

    @field_serializer("start_time", "end_time", "created_at", when_used="json-unless-none", check_fields=False)
    def _utc_z(self, value: datetime) -> str:
        return format_datetime(value)


class ToolLogRequest(_UtcTimes):
    """Body of ``POST /tools/log``. Every field is optional, exactly as the reference page says."""

    path: str | None = None
    id: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    output: str | None = None
    created_at: datetime | None = None
    error: str | None = None
    provider_latency: float | None = None
    stdout: str | None = None
    provider_request: dict[str, Any] | None = None
    provider_response: dict[str, Any] | None = None
    inputs: dict[str, Any] | None = None
    source: str | None = None
    metadata: dict[str, Any] | None = None
    source_datapoint_id: str | None = None
    trace_parent_id: str | None = None
    batch_id: str | None = None
    user: str | None = None
    environment: str | None = None
    save: bool | None = None
    tool: ToolKernel | None = None

    def to_json_bytes(self) -> bytes:
        """The wire body: unset and ``None`` fields omitted (values inside dicts are kept)."""
        if _NATIVE_TIMES is not None and type(self) is ToolLogRequest and _natively_written(self.__dict__):
            return _NATIVE_TIMES.to_json(self, exclude_none=True)
        return self.__pydantic_serializer__.to_json(self, exclude_none=True)  # bytes, not str then bytes

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


_TIME_FIELDS = ("start_time", "end_time", "created_at")


def _natively_written(fields: dict[str, Any]) -> bool:
    """Whether pydantic-core itself writes these datetimes exactly as :func:`format_datetime`
    does: in UTC, with a fraction (it leaves out a fraction of zero microseconds)."""
    for name in _TIME_FIELDS:
        value = fields.get(name)
        if value is not None and (
            type(value) is not datetime or value.tzinfo is not timezone.utc or not value.microsecond
        ):
            return False
    return True


def _without_time_serializers(model: type[BaseModel]) -> SchemaSerializer | None:
    """A serializer of ``model`` that leaves its datetimes to pydantic-core (no Python call per
    datetime: half of a typical body's serialisation time). Used only for datetimes
    :func:`_natively_written` accepts, and only if a sample comes out byte for byte as the
    model's own serializer writes it (checked once, at import); else ``None``."""
    try:
        schema = dict(model.__pydantic_core_schema__)
        # a class pydantic has not set up, so that pydantic-core builds this schema afresh instead of
        # reusing the model's own serializer; the serializer writes any object's ``__dict__``
        schema["cls"] = type(f"_{model.__name__}Wire", (), {})
        inner = dict(schema["schema"])
        fields = dict(inner["fields"])
        for name in _TIME_FIELDS:
            field = dict(fields[name])
            field["schema"] = {k: v for k, v in field["schema"].items() if k != "serialization"}
            fields[name] = field
        inner["fields"] = fields
        schema["schema"] = inner
        serializer = SchemaSerializer(schema, schema.get("config"))
        when = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=timezone.utc)
        sample = model.model_construct(path="p", start_time=when, end_time=when, created_at=when, metadata={"k": 1})
        if serializer.to_json(sample, exclude_none=True) != model.__pydantic_serializer__.to_json(
            sample, exclude_none=True
        ):
            return None
        return serializer
    except Exception:
        return None


_NATIVE_TIMES = _without_time_serializers(ToolLogRequest)

_UPDATABLE = (
    "output",
    "created_at",
    "error",
    "provider_latency",
    "stdout",
    "provider_request",
    "provider_response",
    "inputs",
    "source",
    "metadata",
    "start_time",
    "end_time",
)

ToolLogUpdate = create_model(
    "ToolLogUpdate",
    __base__=_UtcTimes,
    __doc__="Body of Update Log, ``PATCH /tools/{id}/log/{log_id}``: what completes a Log created early "
    "(the Log's own fields, as in ``ToolLogRequest``, plus ``log_status``).",
    **{name: (ToolLogRequest.model_fields[name].annotation, None) for name in _UPDATABLE},  # type: ignore[call-overload]
    log_status=(str | None, None),
)

UPDATE_FIELDS = frozenset(ToolLogUpdate.model_fields)


class ToolLogResponse(BaseModel):
    """200 reply. Extra keys may appear and are ignored."""

    model_config = ConfigDict(extra="ignore")

    id: str
    tool_id: str
    version_id: str
    session_id: str | None = None


class ValidationErrorItem(BaseModel):
    model_config = ConfigDict(extra="ignore")

    loc: list[str | int]
    msg: str
    type: str


class HTTPValidationError(BaseModel):
    """422 reply body."""

    model_config = ConfigDict(extra="ignore")

    detail: list[ValidationErrorItem] = Field(default_factory=list)
