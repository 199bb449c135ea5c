"""Shared by the examples: where the Logs go, and what to show afterwards.

With ``HUMANLOOP_API_KEY`` or ``HUMANLOOP_BASE_URL`` set, an example sends to that server (the
real Humanloop API, or a stub you started with ``otel-tool-exporter stub``). Otherwise it starts
the local Humanloop-compatible stub in-process, so every example runs offline, and prints the tree
of Logs the stub received.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from otel_tool_exporter import ToolLogExporter
from otel_tool_exporter._internal.logtree import build_trees, render_text


@dataclass
class Destination:
    """Exporter arguments for this run (empty when the environment says where to send)."""

    settings: dict[str, Any] = field(default_factory=dict)
    stub: Any = None

    def report(self, exporter: ToolLogExporter) -> int:
        """Wait for delivery, print what happened; exit status 0 when every tool span became a Log."""
        delivered = exporter.force_flush(30_000)
        stats = exporter.stats()
        print(f"\n{stats['tool_spans']} tool spans -> {stats['sent']} Logs sent to {exporter.settings.base_url}")
        if stats["failed"] or stats["dropped"]:
            print(f"failed: {stats['failed']}  dropped: {stats['dropped']}")
        if self.stub is not None:
            logs, _ = self.stub.store.list(size=10_000)
            print("\nLog tree received by the local stub:\n")
            print(render_text(build_trees(logs)))
        ok = delivered and stats["tool_spans"] > 0 and stats["sent"] == stats["tool_spans"]
        return 0 if ok else 1


def sends_to_configured_server() -> bool:
    return bool(os.environ.get("HUMANLOOP_API_KEY") or os.environ.get("HUMANLOOP_BASE_URL"))


@contextmanager
def destination(path_prefix: str) -> Iterator[Destination]:
    """The configured server, or a stub on a free loopback port for the duration of the block."""
    if sends_to_configured_server():
        yield Destination({"path_prefix": path_prefix})
        return
    from otel_tool_exporter.stub import StubServer

    with StubServer() as stub:
        yield Destination({"path_prefix": path_prefix, "base_url": stub.base_url}, stub)
