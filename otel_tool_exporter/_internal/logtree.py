"""Log trees: Logs as received by a server, arranged by ``trace_parent_id``, and their text form.

Shared by the stub's trace view, the demo and the ``logs`` command, so all three show the same
tree: the same grouping into traces, the same order, the same time axis.

A *trace* here is every Log that carries the same OpenTelemetry trace id
(``metadata.otel.trace_id``), so a child sent without its parent (``unresolved_parent``) still
shows up beside the Logs of its own trace instead of as an unrelated trace of its own.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

__all__ = [
    "LogNode",
    "Row",
    "Trace",
    "build_trees",
    "format_duration",
    "group_traces",
    "parse_time",
    "render_text",
    "render_traces",
    "trace_key",
]

BAR_WIDTH = 24
_LABEL_CAP = 56


class LogNode:
    """One Log and the Logs nested under it (``trace_parent_id`` pointing at it)."""

    __slots__ = ("children", "log")

    def __init__(self, log: dict[str, Any]) -> None:
        self.log = log
        self.children: list[LogNode] = []

    @property
    def is_error(self) -> bool:
        return bool(self.log.get("error"))

    @property
    def is_running(self) -> bool:
        """Created early for a tool call still running (live parent): no end yet."""
        return not self.is_error and self.log.get("end_time") is None and self.log.get("output") is None

    @property
    def unresolved(self) -> dict[str, Any] | None:
        """``metadata.otel.unresolved_parent``: why this Log was sent without its parent."""
        value = _otel(self.log).get("unresolved_parent")
        return value if isinstance(value, dict) else None


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


def _otel(log: dict[str, Any]) -> dict[str, Any]:
    metadata = log.get("metadata")
    otel = metadata.get("otel") if isinstance(metadata, dict) else None
    return otel if isinstance(otel, dict) else {}


def parse_time(value: Any) -> float | None:
    """An RFC 3339 timestamp (as Logs carry them) as Unix seconds; ``None`` when unreadable."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 0.001:
        return f"{seconds * 1000:.2f} ms"
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms"
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}m {rest:04.1f}s"


@dataclass
class Row:
    """One Log as a line of a trace: depth-first order, with its place on the trace's time axis.

    ``offset`` and ``span`` are fractions (0–1) of the trace's duration, so every row of a trace
    is drawn on the same axis; both are ``None`` when the Log's times are unreadable."""

    node: LogNode
    depth: int
    prefix: str  # tree glyphs drawn before the path ("│   ├── ")
    detail_prefix: str  # glyphs continuing the tree on this Log's detail lines
    start: float | None
    end: float | None
    offset: float | None = None
    span: float | None = None

    @property
    def log(self) -> dict[str, Any]:
        return self.node.log

    @property
    def duration(self) -> float | None:
        latency = self.log.get("provider_latency")
        if isinstance(latency, (int, float)):
            return float(latency)
        if self.start is not None and self.end is not None:
            return max(0.0, self.end - self.start)
        return None


@dataclass
class Trace:
    """The Logs of one trace: roots in start order, plus the time axis they share."""

    key: str
    roots: list[LogNode]
    newest: int = 0  # position of its most recently received Log in the input
    rows: list[Row] = field(default_factory=list)
    start: float | None = None
    end: float | None = None

    @property
    def count(self) -> int:
        return len(self.rows)

    @property
    def errors(self) -> int:
        return sum(1 for row in self.rows if row.node.is_error)

    @property
    def unresolved(self) -> int:
        return sum(1 for row in self.rows if row.node.unresolved)

    @property
    def duration(self) -> float | None:
        if self.start is None or self.end is None:
            return None
        return max(0.0, self.end - self.start)


def trace_key(log: dict[str, Any]) -> str:
    """Which trace a Log belongs to: its OpenTelemetry trace id, else the server's trace id."""
    otel_trace = _otel(log).get("trace_id")
    if isinstance(otel_trace, str) and otel_trace:
        return otel_trace
    return str(log.get("trace_id") or log.get("id"))


def _walk(roots: Sequence[LogNode]) -> Iterator[tuple[LogNode, int, str, str]]:
    """Depth-first (node, depth, prefix, detail_prefix): the glyphs of a tree under a heading."""

    def walk(node: LogNode, depth: int, indent: str, last: bool) -> Iterator[tuple[LogNode, int, str, str]]:
        child_indent = indent + ("    " if last else "│   ")
        yield node, depth, indent + ("└── " if last else "├── "), child_indent + ("│   " if node.children else "    ")
        for i, child in enumerate(node.children):
            yield from walk(child, depth + 1, child_indent, i == len(node.children) - 1)

    for i, root in enumerate(roots):
        yield from walk(root, 0, "", i == len(roots) - 1)


def _layout(trace: Trace) -> None:
    rows: list[Row] = []
    for node, depth, prefix, detail_prefix in _walk(trace.roots):
        start, end = parse_time(node.log.get("start_time")), parse_time(node.log.get("end_time"))
        rows.append(Row(node, depth, prefix, detail_prefix, start, end))
    starts = [r.start for r in rows if r.start is not None]
    ends = [r.end if r.end is not None else r.start for r in rows if r.start is not None]
    trace.rows = rows
    if not starts:
        return
    trace.start, trace.end = min(starts), max(e for e in ends if e is not None)
    total = trace.end - trace.start
    for row in rows:
        if row.start is None:
            continue
        end = row.end if row.end is not None else row.start
        if total <= 0:
            row.offset, row.span = 0.0, 1.0
        else:
            row.offset = (row.start - trace.start) / total
            row.span = max(0.0, end - row.start) / total


def group_traces(logs: Sequence[dict[str, Any]]) -> list[Trace]:
    """Logs (in the order they were received) → traces, the most recently active first."""
    position = {log["id"]: i for i, log in enumerate(logs)}
    traces: dict[str, Trace] = {}
    for root in build_trees(logs):
        key = trace_key(root.log)
        trace = traces.get(key)
        if trace is None:
            trace = traces[key] = Trace(key=key, roots=[])
        trace.roots.append(root)
    for trace in traces.values():
        trace.roots.sort(key=_start)
        _layout(trace)
        trace.newest = max(position[row.log["id"]] for row in trace.rows)
    return sorted(traces.values(), key=lambda t: t.newest, reverse=True)


def _short(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    text = text.replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bar(row: Row, width: int = BAR_WIDTH) -> str:
    """The row's duration on its trace's time axis, ``width`` cells wide (at least one cell)."""
    if row.offset is None or row.span is None:
        return " " * width
    first = min(width - 1, int(row.offset * width))
    cells = max(1, round(row.span * width))
    cells = min(cells, width - first)
    return " " * first + "█" * cells + " " * (width - first - cells)


class _Style:
    def __init__(self, color: bool) -> None:
        self.color = color

    def __call__(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.color else text


def _heading(trace: Trace) -> str:
    parts = [f"trace {trace.key}", f"{trace.count} Log{'s' if trace.count != 1 else ''}"]
    if trace.errors:
        parts.append(f"{trace.errors} error{'s' if trace.errors != 1 else ''}")
    if trace.unresolved:
        parts.append(f"{trace.unresolved} unresolved parent{'s' if trace.unresolved != 1 else ''}")
    if trace.start is not None:
        parts.append(datetime.fromtimestamp(trace.start, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"))
    parts.append(format_duration(trace.duration))
    return " · ".join(parts)


def _render_trace(trace: Trace, style: _Style, details: bool) -> list[str]:
    lines = [style(_heading(trace), "1")]
    labels = [row.prefix + str(row.log.get("path")) for row in trace.rows]
    width = min(_LABEL_CAP, max(len(label) for label in labels))
    for row, label in zip(trace.rows, labels, strict=True):
        log = row.log
        if len(label) > width:
            label = label[: width - 1] + "…"
        status = (
            style("error", "31")
            if row.node.is_error
            else style("run  ", "33")
            if row.node.is_running
            else style("ok   ", "32")
        )
        axis = "▕" + bar(row) + "▏"
        lines.append(f"{label.ljust(width)}  {status}  {format_duration(row.duration):>9}  {style(axis, '36')}")
        if not details:
            continue
        dp = row.detail_prefix
        if log.get("inputs") is not None:
            lines.append(dp + style(f"inputs: {_short(log['inputs'])}", "2"))
        if log.get("error"):
            lines.append(dp + style(f"error:  {_short(log['error'])}", "31"))
        elif log.get("output") is not None:
            lines.append(dp + style(f"output: {_short(log['output'])}", "2"))
        unresolved = row.node.unresolved
        if unresolved:
            lines.append(
                dp
                + style(
                    f"unresolved parent: {unresolved.get('reason')} (span {unresolved.get('span_id')})",
                    "33",
                )
            )
    return lines


def render_traces(traces: Sequence[Trace], *, color: bool = False, details: bool = True) -> str:
    """Each trace as a heading and an indented tree: path, status, duration and a bar on the
    trace's time axis; under each Log its inputs and output (or error) and, when its parent
    could not be had, why."""
    blocks = ["\n".join(_render_trace(trace, _Style(color), details)) for trace in traces if trace.rows]
    return "\n\n".join(blocks)


def render_text(roots: list[LogNode], *, color: bool = False, details: bool = True) -> str:
    """The text form of ``build_trees`` output: roots grouped into their traces (in the order
    given, which for Logs as received means oldest first) and drawn by :func:`render_traces`."""
    logs = [row_node.log for root in roots for row_node, *_ in _walk([root])]
    traces = group_traces(logs)
    traces.reverse()
    return render_traces(traces, color=color, details=details)
