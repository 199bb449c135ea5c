"""Field size caps (``max_field_bytes``): nothing oversized leaves, and nothing is cut silently.

Text fields are cut at a UTF-8 boundary and end with ``…[truncated N bytes]``; object fields have
their largest string leaves cut first, keeping the keys a user looks for. Every truncated field is
listed in ``metadata.otel.truncated``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from otel_tool_exporter._internal.build.values import dumps_compact
from otel_tool_exporter.models import ToolLogRequest

__all__ = ["OBJECT_FIELDS", "TEXT_FIELDS", "cap_request", "truncate_text"]

TEXT_FIELDS = ("output", "error", "stdout")
OBJECT_FIELDS = ("inputs", "provider_request", "provider_response", "metadata")


def truncate_text(text: str, max_bytes: int) -> str:
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    marker_room = 40
    keep = max(0, max_bytes - marker_room)
    head = data[:keep].decode("utf-8", "ignore")
    return f"{head}…[truncated {len(data) - len(head.encode('utf-8'))} bytes]"


def _size(value: Any) -> int:
    return len(dumps_compact(value).encode("utf-8"))


def _largest_leaf(value: Any, path: tuple[Any, ...] = ()) -> tuple[int, tuple[Any, ...]]:
    best = (-1, path)
    items: Iterable[tuple[Any, Any]]
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        size = len(value.encode("utf-8")) if isinstance(value, str) else len(dumps_compact(value))
        return (size, path)
    for key, child in items:
        found = _largest_leaf(child, (*path, key))
        if found[0] > best[0]:
            best = found
    return best


def _cap_object(value: dict[str, Any], max_bytes: int) -> dict[str, Any]:
    total = _size(value)
    for _ in range(32):
        if total <= max_bytes:
            return value
        leaf_size, path = _largest_leaf(value)
        if not path or leaf_size < 64:
            break
        parent: Any = value
        for key in path[:-1]:
            parent = parent[key]
        leaf = parent[path[-1]]
        text = leaf if isinstance(leaf, str) else dumps_compact(leaf)
        budget = max(64, leaf_size - (total - max_bytes) - 64)
        parent[path[-1]] = truncate_text(text, budget)
        total = _size(value)
    if total <= max_bytes:
        return value
    return {"_truncated": truncate_text(dumps_compact(value), max_bytes - 32)}


def cap_request(request: ToolLogRequest, max_bytes: int) -> list[str]:
    """Cap every value field of ``request`` in place; return the names of the fields cut."""
    cut: list[str] = []
    for name in TEXT_FIELDS:
        value = getattr(request, name)
        if isinstance(value, str) and len(value) * 4 > max_bytes and len(value.encode("utf-8")) > max_bytes:
            setattr(request, name, truncate_text(value, max_bytes))
            cut.append(name)
    for name in OBJECT_FIELDS:
        value = getattr(request, name)
        if isinstance(value, dict) and _size(value) > max_bytes:
            if name == "metadata":
                # the otel ids identify the Log and its duplicates: keep them whole
                otel = value.get("otel", {})
                rest = {k: v for k, v in value.items() if k != "otel"}
                capped = _cap_object(rest, max(1024, max_bytes - _size(otel)))
                setattr(request, name, {"otel": otel, **capped})
            else:
                setattr(request, name, _cap_object(value, max_bytes))
            cut.append(name)
    if cut:
        metadata = request.metadata if isinstance(request.metadata, dict) else {}
        otel = metadata.setdefault("otel", {})
        otel["truncated"] = sorted(set(otel.get("truncated", [])) | set(cut))
        request.metadata = metadata
    return cut
