"""The stub's trace view at ``/``: what the exporter sent, as trees of Logs on a time axis.

Server-rendered HTML, so the page is complete on first load (and without JavaScript); a small
script from ``static/`` refreshes the trace list as Logs arrive by fetching the same HTML
fragment again from ``/_stub/traces``. No build step, no CDN: the CSS and the script ship in the
package, so the page works offline.
"""

from __future__ import annotations

import html
import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from aiohttp import web

from otel_tool_exporter._internal.logtree import LogNode, Row, Trace, build_trees, format_duration, group_traces
from otel_tool_exporter.stub.store import LogStore

__all__ = ["LogNode", "build_trees", "register_routes", "render_index", "render_traces", "view_stamp"]

STATIC_DIR = Path(__file__).parent / "static"
MAX_TRACES = 50  # traces on the page
WINDOW = 5_000  # the view reads the newest WINDOW..2*WINDOW Logs
_FIELDS = ("inputs", "output", "error", "stdout", "metadata")


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


_JSON_TOKEN = re.compile(
    r'(?P<str>"(?:\\.|[^"\\])*")(?P<colon>\s*:)?|(?P<num>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|(?P<lit>\btrue\b|\bfalse\b|\bnull\b)'
)


def _highlight(text: str) -> str:
    """Pretty JSON text → escaped HTML with keys, strings, numbers and literals marked."""
    out: list[str] = []
    pos = 0
    for match in _JSON_TOKEN.finditer(text):
        out.append(_esc(text[pos : match.start()]))
        if match.group("str") is not None:
            cls = "k" if match.group("colon") else "s"
            out.append(f'<span class="j-{cls}">{_esc(match.group("str"))}</span>{_esc(match.group("colon") or "")}')
        elif match.group("num") is not None:
            out.append(f'<span class="j-n">{_esc(match.group("num"))}</span>')
        else:
            out.append(f'<span class="j-l">{_esc(match.group("lit"))}</span>')
        pos = match.end()
    out.append(_esc(text[pos:]))
    return "".join(out)


def _pretty(value: Any) -> str:
    """Objects as indented, highlighted JSON; text that holds a JSON object or array likewise;
    any other text as it is (an output string is shown, not JSON-quoted)."""
    if isinstance(value, str):
        try:
            decoded = json.loads(value)
        except ValueError:
            return _esc(value)
        if not isinstance(decoded, (dict, list)):
            return _esc(value)
        value = decoded
    return _highlight(json.dumps(value, indent=2, ensure_ascii=False))


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _pct(value: float) -> str:
    return f"{max(0.0, min(100.0, value * 100)):.3f}%"


def _row_html(row: Row, trace: Trace, path_filter: str | None) -> str:
    log = row.log
    node = row.node
    classes = ["log", "error" if node.is_error else "ok"]
    if path_filter:
        classes.append("match" if path_filter.lower() in str(log.get("path") or "").lower() else "dim")
    badges = ""
    unresolved = node.unresolved
    if unresolved:
        classes.append("unresolved")
        badges += (
            f'<span class="badge unresolved" title="sent without its parent: {_esc(unresolved.get("reason"))} '
            f'(parent span {_esc(unresolved.get("span_id"))})">'
            f"unresolved parent: {_esc(unresolved.get('reason'))}</span>"
        )
    bar = '<span class="bar missing" title="no readable start/end time"></span>'
    if row.offset is not None and row.span is not None:
        bar = (
            f'<span class="bar" style="left:{_pct(row.offset)};width:{_pct(row.span)}" '
            f'title="+{_esc(format_duration((row.start or 0) - (trace.start or 0)))}"></span>'
        )
    status = "error" if node.is_error else "running" if node.is_running else "ok"
    summary = (
        f'<summary class="row"><span class="name" style="--depth:{row.depth}">'
        f'<span class="caret" aria-hidden="true"></span><span class="path">{_esc(log.get("path"))}</span>{badges}</span>'
        f'<span class="status {status}">{status}</span>'
        f'<span class="dur">{_esc(format_duration(row.duration))}</span>'
        f'<span class="timeline">{bar}</span></summary>'
    )
    facts = [("Log", log.get("id")), ("parent", log.get("trace_parent_id") or "—")]
    if unresolved:
        facts.append(("unresolved parent", f"{unresolved.get('reason')} (span {unresolved.get('span_id')})"))
    facts += [
        ("start", log.get("start_time")),
        ("end", log.get("end_time")),
        ("version", log.get("version_id")),
    ]
    fact_html = "".join(
        f'<span class="fact"><span class="fk">{_esc(k)}</span> <code>{_esc(v)}</code></span>' for k, v in facts if v
    )
    tool = log.get("tool")
    fields = [_tool_html(tool)] if isinstance(tool, dict) else []
    for key in _FIELDS:
        value = log.get(key)
        if value in (None, "", {}):
            continue
        fields.append(
            f'<section class="field f-{key}"><h4>{key}</h4><pre class="{key}">{_pretty(value)}</pre></section>'
        )
    if not fields:
        fields.append('<p class="none">No inputs, output, error, stdout or metadata were sent.</p>')
    return (
        f'<details class="{" ".join(classes)}" data-log-id="{_esc(log.get("id"))}" data-depth="{row.depth}" '
        f'data-parent-id="{_esc(log.get("trace_parent_id") or "")}" data-path="{_esc(log.get("path"))}">'
        f'{summary}<div class="detail"><div class="facts">{fact_html}</div>'
        f'<div class="fields">{"".join(fields)}</div></div></details>'
    )


def _tool_html(tool: dict[str, Any]) -> str:
    """The Tool the Log was sent with: its name, description and parameter schema."""
    raw = tool.get("function")
    function: dict[str, Any] = raw if isinstance(raw, dict) else {}
    name = function.get("name")
    description = function.get("description")
    parameters = function.get("parameters")
    parts = [f'<p class="tool-name"><code>{_esc(name)}</code></p>'] if name else []
    if description:
        parts.append(f'<p class="tool-desc">{_esc(description)}</p>')
    if parameters not in (None, {}):
        parts.append(f'<pre class="tool-schema">{_pretty(parameters)}</pre>')
    if not parts:
        parts.append('<p class="none">No description or schema was sent.</p>')
    return f'<section class="field f-tool"><h4>tool</h4>{"".join(parts)}</section>'


def _tick(total: float | None, frac: float) -> str:
    return "" if total is None else format_duration(total * frac)


def _trace_html(trace: Trace, path_filter: str | None) -> str:
    chips = [f"{trace.count} Log{'s' if trace.count != 1 else ''}"]
    chip_html = "".join(f'<span class="chip">{_esc(c)}</span>' for c in chips)
    if trace.errors:
        chip_html += f'<span class="chip err">{trace.errors} error{"s" if trace.errors != 1 else ""}</span>'
    if trace.unresolved:
        chip_html += (
            f'<span class="chip warn">{trace.unresolved} unresolved parent{"s" if trace.unresolved != 1 else ""}</span>'
        )
    total = trace.duration
    ticks = "".join(
        f'<span style="left:{frac * 100:.0f}%">{_esc(label)}</span>'
        for frac, label in ((0.0, "0"), (0.5, _tick(total, 0.5)), (1.0, _tick(total, 1.0)))
    )
    rows = "".join(_row_html(row, trace, path_filter) for row in trace.rows)
    return (
        f'<section class="trace" data-trace-id="{_esc(trace.key)}">'
        f'<header class="trace-head"><span class="trace-id" title="OpenTelemetry trace id">trace <code>{_esc(trace.key)}</code></span>'
        f"{chip_html}"
        f'<span class="when">{_esc(_clock(trace.start))} · {_esc(format_duration(total))}</span></header>'
        f'<div class="rows"><div class="row axis" aria-hidden="true"><span>Tool path</span><span>Status</span>'
        f'<span class="dur">Duration</span><span class="timeline ticks">{ticks}</span></div>'
        f"{rows}</div></section>"
    )


def _recent_logs(store: LogStore) -> tuple[list[dict[str, Any]], bool]:
    """The newest ``WINDOW`` to ``2 * WINDOW`` Logs in arrival order, and whether older ones exist.

    Read as a window rather than per stub trace because the stub's trace id follows
    ``trace_parent_id`` chains, so the root Logs of one OpenTelemetry trace (an agent calling four
    tools) each start a stub trace of their own: the view groups by the OpenTelemetry trace id."""
    total = store.count()
    last = max(1, -(-total // WINDOW))
    logs, _ = store.list(size=WINDOW, page=last)
    if last > 1:
        earlier, _ = store.list(size=WINDOW, page=last - 1)
        logs = earlier + logs
    return logs, total > len(logs)


def view_stamp(store: LogStore) -> str:
    """Changes whenever a Log arrives (or the store is cleared): the page re-renders only then."""
    newest = store.trace_ids(limit=1)
    return f"{store.count()}:{newest[0] if newest else ''}"


def render_traces(store: LogStore, *, path_filter: str | None = None, errors_only: bool = False) -> str:
    """The trace list alone (what the page's script swaps in when Logs arrive)."""
    logs, truncated = _recent_logs(store)
    traces = group_traces(logs)
    if truncated and traces:
        traces.pop()  # the oldest trace in the window may have lost Logs to its edge
    if errors_only:
        traces = [t for t in traces if t.errors]
    if path_filter:
        needle = path_filter.lower()
        traces = [t for t in traces if any(needle in str(r.log.get("path") or "").lower() for r in t.rows)]
    shown = traces[:MAX_TRACES]
    if shown:
        more = ""
        if len(traces) > MAX_TRACES or truncated:
            more = f'<p class="more">Showing the newest {len(shown)} traces; older Logs: <code>GET /v5/logs</code>.</p>'
        return "".join(_trace_html(t, path_filter) for t in shown) + more
    if path_filter or errors_only:
        return '<p class="empty">No trace matches these filters.</p>'
    return (
        '<div class="empty"><p><strong>No Logs yet.</strong></p><p>Point an exporter at this server: '
        '<code>HUMANLOOP_BASE_URL=<span class="base-url">http://127.0.0.1:8000</span>/v5</code> '
        "(no API key needed on loopback), or run <code>otel-tool-exporter demo</code>.</p>"
        "<p>This page refreshes by itself as Logs arrive.</p></div>"
    )


def render_index(store: LogStore, *, path_filter: str | None = None, errors_only: bool = False) -> str:
    """The whole page: filters, and the newest traces first."""
    checked = " checked" if errors_only else ""
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<title>Tool Logs · otel-tool-exporter stub</title>"
        "<link rel='icon' type='image/svg+xml' href='/_static/favicon.svg'>"
        "<link rel='stylesheet' href='/_static/trace-view.css'>"
        "<script src='/_static/trace-view.js' defer></script></head><body>"
        "<header class='top'><div class='brand'><h1>Tool Logs</h1>"
        "<span class='sub'>received by the local Humanloop-compatible stub</span></div>"
        "<form class='filters' method='get' action='/'>"
        f"<input type='search' name='path' value='{_esc(path_filter or '')}' placeholder='Filter by path' "
        "aria-label='Filter by path' autocomplete='off'>"
        f"<label class='check'><input type='checkbox' name='errors' value='1'{checked}> Errors only</label>"
        "<button type='submit' class='apply'>Apply</button></form>"
        "<span class='live' id='live' title='refreshes as Logs arrive'>live</span></header>"
        f"<main id='traces' data-stamp='{_esc(view_stamp(store))}'>"
        f"{render_traces(store, path_filter=path_filter, errors_only=errors_only)}</main>"
        "</body></html>"
    )


def _filters(request: web.Request) -> tuple[str | None, bool]:
    q = request.query
    return (q.get("path") or "").strip() or None, q.get("errors") in ("1", "true", "on")


async def _traces(request: web.Request) -> web.Response:
    """``GET /_stub/traces?path=&errors=1&stamp=``: the trace list's HTML, unless unchanged."""
    from otel_tool_exporter.stub.server import STATE  # server imports this module: look the key up at call time

    store: LogStore = request.app[STATE].store
    stamp = view_stamp(store)
    if request.query.get("stamp") == stamp:
        return web.json_response({"stamp": stamp, "changed": False})
    path_filter, errors_only = _filters(request)
    fragment = render_traces(store, path_filter=path_filter, errors_only=errors_only)
    return web.json_response({"stamp": stamp, "changed": True, "html": fragment})


def register_routes(app: web.Application) -> None:
    """The page's JSON endpoint and its packaged assets (the page itself is ``/``)."""
    app.router.add_get("/_stub/traces", _traces)
    app.router.add_get("/favicon.ico", _favicon)  # asked for by browsers (and tools) whatever the page says
    app.router.add_static("/_static/", STATIC_DIR, follow_symlinks=False)


async def _favicon(request: web.Request) -> web.Response:
    return web.Response(body=(STATIC_DIR / "favicon.svg").read_bytes(), content_type="image/svg+xml")
