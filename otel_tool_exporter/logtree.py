"""Log trees: Logs as received by a server, arranged by ``trace_parent_id``, and their text form.

Shared by the stub's trace view, the demo and the ``logs`` command, so all three show the same
tree.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

__all__ = ["LogNode", "build_trees", "render_text"]


class LogNode:
    __slots__ = ("children", "log")

    def __init__(self, log: dict[str, Any]) -> None:
        self.log = log
        self.children: list[LogNode] = []


def build_trees(logs: Iterable[dict[str, Any]]) -> list[LogNode]:
    """Roots (Logs whose parent is not among ``logs``) with their children, by start time."""
    nodes = {log["id"]: LogNode(log) for log in logs}
    roots: list[LogNode] = []
    for node in nodes.values():
        parent = nodes.get(node.log.get("trace_parent_id") or "")
        (parent.children if parent is not None else roots).append(node)
    for node in nodes.values():
        node.children.sort(key=_start)
    roots.sort(key=_start)
    return roots


def _start(node: LogNode) -> str:
    return str(node.log.get("start_time") or "")


def _short(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    text = text.replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render_text(roots: list[LogNode]) -> str:
    """An indented tree: path, inputs → output (or error), unresolved parents marked."""
    lines: list[str] = []

    def walk(node: LogNode, prefix: str, last: bool, top: bool) -> None:
        log = node.log
        branch = "" if top else ("└── " if last else "├── ")
        latency = log.get("provider_latency")
        timing = f" ({latency * 1000:.1f} ms)" if isinstance(latency, (int, float)) else ""
        lines.append(f"{prefix}{branch}{log.get('path')}{timing}")
        child_prefix = prefix + ("" if top else ("    " if last else "│   "))
        detail_prefix = child_prefix + ("│   " if node.children else "    ")
        if log.get("inputs") is not None:
            lines.append(f"{detail_prefix}inputs: {_short(log['inputs'])}")
        if log.get("error"):
            lines.append(f"{detail_prefix}error:  {_short(log['error'])}")
        elif log.get("output") is not None:
            lines.append(f"{detail_prefix}output: {_short(log['output'])}")
        unresolved = ((log.get("metadata") or {}).get("otel") or {}).get("unresolved_parent")
        if unresolved:
            lines.append(
                f"{detail_prefix}unresolved parent: {unresolved.get('reason')} (span {unresolved.get('span_id')})"
            )
        for i, child in enumerate(node.children):
            walk(child, child_prefix, i == len(node.children) - 1, False)

    for root in roots:
        walk(root, "", True, True)
    return "\n".join(lines)
