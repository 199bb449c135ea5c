"""Counters of what happened to every span ('Nothing lost, nothing hidden')."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

__all__ = ["Stats"]


class Stats:
    """Plain counters, written by the delivery thread; ``dropped`` is written by the app thread
    too, so every drop goes through :meth:`drop`, under the lock.

    ``snapshot()`` is what ``ToolLogExporter.stats()`` returns.
    """

    def __init__(self) -> None:
        self.received = 0
        self.tool_spans = 0
        self.sent = 0
        self.retries = 0
        self.unresolved = 0
        self.early = 0  # Logs created early for a parent still running (live parents)
        self.completed = 0  # of those, completed when the parent ended (Update Log)
        self.failed: Counter[str] = Counter()
        self.dropped: Counter[str] = Counter()
        self._lock = threading.Lock()  # only for counters the app thread touches

    def drop(self, reason: str, n: int = 1) -> None:
        with self._lock:
            self.dropped[reason] += n

    def snapshot(self, **gauges: Any) -> dict[str, Any]:
        with self._lock:
            dropped = dict(self.dropped)
        return {
            "received": self.received,
            "tool_spans": self.tool_spans,
            "sent": self.sent,
            "retries": self.retries,
            "unresolved_parents": self.unresolved,
            "created_early": self.early,
            "completed_early": self.completed,
            "failed": dict(self.failed),
            "dropped": dropped,
            **gauges,
        }
