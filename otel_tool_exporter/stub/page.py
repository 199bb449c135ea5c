"""Server-rendered trace view of the stub's Logs: no build step, no CDN, works offline."""

from __future__ import annotations

import html
import json
from typing import Any

from ..logtree import LogNode, build_trees
from .store import LogStore

__all__ = ["LogNode", "build_trees", "render_index"]


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _pretty(value: Any) -> str:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return _esc(value)
    return _esc(json.dumps(value, indent=2, ensure_ascii=False))


def _node_html(node: LogNode) -> str:
    log = node.log
    otel = (log.get("metadata") or {}).get("otel") or {}
    unresolved = otel.get("unresolved_parent")
    status = "error" if log.get("error") else "ok"
    latency = log.get("provider_latency")
    timing = f' <span class="latency">{latency * 1000:.1f} ms</span>' if isinstance(latency, (int, float)) else ""
    parts = [
        f'<li class="log {status}" data-log-id="{_esc(log["id"])}"><details><summary>'
        f'<span class="path">{_esc(log.get("path"))}</span>{timing}'
    ]
    if log.get("error"):
        parts.append(' <span class="badge err">error</span>')
    if unresolved:
        parts.append(
            f' <span class="badge unresolved" title="{_esc(unresolved)}">unresolved parent: {_esc(unresolved.get("reason"))}</span>'
        )
    parts.append("</summary><dl>")
    for key in ("inputs", "output", "error", "stdout", "metadata"):
        if log.get(key) not in (None, "", {}):
            parts.append(f'<dt>{key}</dt><dd><pre class="{key}">{_pretty(log[key])}</pre></dd>')
    parts.append("</dl></details>")
    if node.children:
        parts.append("<ul>" + "".join(_node_html(c) for c in node.children) + "</ul>")
    parts.append("</li>")
    return "".join(parts)


_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}
ul{list-style:none;padding-left:1.4rem;border-left:1px solid #ddd}
li.log{margin:.3rem 0}
summary{cursor:pointer}
.path{font-family:monospace;font-weight:600}
.latency{color:#666;font-size:.85em}
.badge{font-size:.75em;padding:1px 6px;border-radius:8px}
.err{background:#fdd;color:#900}
.unresolved{background:#ffe9b3;color:#7a5200}
pre{background:#f6f6f6;padding:.5rem;max-height:20rem;overflow:auto}
section.trace{margin-bottom:1.5rem}
"""


def render_index(store: LogStore, *, path_filter: str | None = None, errors_only: bool = False) -> str:
    sections = []
    for trace_id in store.trace_ids(limit=50):
        logs, _ = store.list(trace_id=trace_id, size=10_000)
        if path_filter and not any(path_filter in (log.get("path") or "") for log in logs):
            continue
        if errors_only and not any(log.get("error") for log in logs):
            continue
        trees = build_trees(logs)
        sections.append(
            f'<section class="trace" data-trace-id="{_esc(trace_id)}"><h3>trace {_esc(trace_id)}</h3>'
            f'<ul class="tree">{"".join(_node_html(n) for n in trees)}</ul></section>'
        )
    body = "".join(sections) or "<p>No Logs yet.</p>"
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>otel-tool-exporter stub</title>"
        f"<style>{_STYLE}</style></head><body><h1>Tool Logs received</h1>"
        "<form><input name='path' placeholder='filter by path'> <label><input type='checkbox' name='errors' value='1'> errors only</label> "
        "<button>filter</button></form>"
        f"{body}</body></html>"
    )
