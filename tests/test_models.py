"""The pydantic models against the reference page (shared/reference/log-to-a-tool.txt).

The page is the one source of truth for names and types, so these tests spell every field out
by hand rather than reading them back from the model: a renamed or retyped field must fail here.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from types import UnionType
from typing import Any, Union, get_args, get_origin

import pytest
from pydantic import ValidationError

from otel_tool_exporter.models import (
    HTTPValidationError,
    ToolFunction,
    ToolKernel,
    ToolLogRequest,
    ToolLogResponse,
    format_datetime,
)

# (field, python type of the value) exactly as the reference page lists them, in its order.
REFERENCE_FIELDS: list[tuple[str, type]] = [
    ("path", str),
    ("id", str),
    ("start_time", datetime),
    ("end_time", datetime),
    ("output", str),
    ("created_at", datetime),
    ("error", str),
    ("provider_latency", float),
    ("stdout", str),
    ("provider_request", dict),
    ("provider_response", dict),
    ("inputs", dict),
    ("source", str),
    ("metadata", dict),
    ("source_datapoint_id", str),
    ("trace_parent_id", str),
    ("batch_id", str),
    ("user", str),
    ("environment", str),
    ("save", bool),
    ("tool", ToolKernel),
]


def _strip_none(annotation: Any) -> Any:
    """``X | None`` → ``X``."""
    if get_origin(annotation) in (Union, UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _inner_type(annotation: Any) -> Any:
    """``dict[str, Any] | None`` → ``dict``."""
    annotation = _strip_none(annotation)
    return get_origin(annotation) or annotation


def test_request_has_exactly_the_reference_fields_with_their_types() -> None:
    fields = ToolLogRequest.model_fields
    assert list(fields) == [name for name, _ in REFERENCE_FIELDS]
    for name, expected in REFERENCE_FIELDS:
        info = fields[name]
        assert not info.is_required(), f"{name} is optional on the reference page"
        assert _inner_type(info.annotation) is expected, name


def test_dict_fields_are_maps_from_strings() -> None:
    for name in ("provider_request", "provider_response", "inputs", "metadata"):
        args = get_args(_strip_none(ToolLogRequest.model_fields[name].annotation))
        assert args[0] is str, name


def test_full_request_round_trips_through_json() -> None:
    start = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)
    body = {
        "path": "folder/get_weather",
        "id": "tl_123",
        "start_time": format_datetime(start),
        "end_time": format_datetime(start + timedelta(seconds=1)),
        "output": "Sunny",
        "created_at": format_datetime(start + timedelta(seconds=1)),
        "error": "ValueError: boom",
        "provider_latency": 1.0,
        "stdout": "line",
        "provider_request": {"a": 1},
        "provider_response": {"b": [1, 2]},
        "inputs": {"city": "Paris"},
        "source": "opentelemetry",
        "metadata": {"otel": {"span_id": "00"}},
        "source_datapoint_id": "dp_1",
        "trace_parent_id": "log_1",
        "batch_id": "batch_1",
        "user": "ada",
        "environment": "production",
        "save": False,
        "tool": {
            "function": {"name": "get_weather", "description": "d", "parameters": {"type": "object"}, "strict": True},
            "source_code": "def f(): ...",
            "setup_values": {"k": "v"},
            "attributes": {"team": "x"},
        },
    }
    request = ToolLogRequest.model_validate(body)
    assert request.to_dict() == body
    assert json.loads(request.to_json_bytes()) == body


def test_tool_kernel_shape() -> None:
    assert list(ToolKernel.model_fields) == ["function", "source_code", "setup_values", "attributes"]
    assert list(ToolFunction.model_fields) == ["name", "description", "parameters", "strict"]
    assert ToolFunction.model_fields["name"].is_required()
    with pytest.raises(ValidationError):
        ToolFunction.model_validate({"description": "no name"})
    with pytest.raises(ValidationError):
        ToolKernel.model_validate({"function": {"name": "x", "unknown": 1}})


def test_unset_fields_are_omitted_not_null() -> None:
    request = ToolLogRequest(path="p", tool=ToolKernel(function=ToolFunction(name="p")))
    wire = json.loads(request.to_json_bytes())
    assert wire == {"path": "p", "tool": {"function": {"name": "p"}}}
    assert request.to_dict() == wire


def test_none_inside_dict_values_is_kept() -> None:
    """Only unset *fields* are dropped; a tool's ``None`` argument is data."""
    request = ToolLogRequest(inputs={"x": None})
    assert json.loads(request.to_json_bytes()) == {"inputs": {"x": None}}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2025, 1, 2, 3, 4, 5, 6, tzinfo=timezone.utc), "2025-01-02T03:04:05.000006Z"),
        (datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc), "2025-01-02T03:04:05.000000Z"),
        (datetime(2025, 1, 2, 5, 4, 5, 120000, tzinfo=timezone(timedelta(hours=2))), "2025-01-02T03:04:05.120000Z"),
        (datetime(2025, 1, 2, 3, 4, 5, 7), "2025-01-02T03:04:05.000007Z"),  # naive = UTC
    ],
)
def test_datetimes_are_utc_z_with_microseconds(value: datetime, expected: str) -> None:
    request = ToolLogRequest(start_time=value, end_time=value, created_at=value)
    wire = json.loads(request.to_json_bytes())
    assert wire == {"start_time": expected, "end_time": expected, "created_at": expected}
    assert request.to_dict()["start_time"] == expected


def test_request_refuses_unknown_fields_and_wrong_types() -> None:
    with pytest.raises(ValidationError) as info:
        ToolLogRequest.model_validate({"path": "p", "outputs": "typo"})
    assert info.value.errors()[0]["type"] == "extra_forbidden"
    with pytest.raises(ValidationError):
        ToolLogRequest.model_validate({"output": {"not": "a string"}})
    with pytest.raises(ValidationError):
        ToolLogRequest.model_validate({"start_time": "yesterday"})


def test_response_ignores_extra_keys_and_session_is_optional() -> None:
    body = b'{"id": "log_1", "tool_id": "tl_1", "version_id": "tv_1", "log_user_id": null, "new": {"x": 1}}'
    response = ToolLogResponse.model_validate_json(body)
    assert (response.id, response.tool_id, response.version_id, response.session_id) == ("log_1", "tl_1", "tv_1", None)
    with_session = ToolLogResponse.model_validate({"id": "a", "tool_id": "b", "version_id": "c", "session_id": "s"})
    assert with_session.session_id == "s"
    with pytest.raises(ValidationError):
        ToolLogResponse.model_validate({"id": "a", "tool_id": "b"})


def test_422_detail_model() -> None:
    body = {
        "detail": [
            {"loc": ["body", "tool", "function", "name"], "msg": "Field required", "type": "missing"},
            {"loc": ["body", "inputs", 0], "msg": "bad", "type": "dict_type", "ctx": {"x": 1}},
        ]
    }
    parsed = HTTPValidationError.model_validate(body)
    assert [item.loc for item in parsed.detail] == [["body", "tool", "function", "name"], ["body", "inputs", 0]]
    assert parsed.detail[0].msg == "Field required"
    assert parsed.detail[1].type == "dict_type"
