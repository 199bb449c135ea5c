"""Logs that failed for good, said as one line per distinct problem, with a count and the tools.

A bad key or a refused field fails every Log alike; a line per Log would flood the application's
output and a line for the first only would hide the rest. So failures are gathered by message and
said when delivery goes quiet: ``4 Logs not created (HTTP 401: Invalid API key); tools: a, b, c``.
While other requests are still out, a problem waits for their answers (they often share it), at
most ``busy_grace`` seconds. The same problem is said again at most once a minute, with what came
since.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

__all__ = ["FailureReport"]

logger = logging.getLogger("otel_tool_exporter")

MAX_TOOLS_NAMED = 5
MAX_PROBLEMS = 1000


@dataclass(slots=True)
class _Problem:
    count: int = 0
    tools: dict[str, None] = field(default_factory=dict)  # insertion-ordered set
    said_at: float | None = None
    held_since: float | None = None  # first held back because requests were still out


class FailureReport:
    def __init__(self, repeat_after: float = 60.0, busy_grace: float = 2.0) -> None:
        self.repeat_after = repeat_after
        self.busy_grace = busy_grace
        self._problems: dict[str, _Problem] = {}

    def record(self, message: str, tool: str) -> None:
        problem = self._problems.get(message)
        if problem is None:
            if len(self._problems) >= MAX_PROBLEMS:
                return
            problem = self._problems[message] = _Problem()
        problem.count += 1
        if len(problem.tools) <= MAX_TOOLS_NAMED:
            problem.tools[tool] = None

    def say(self, now: float, *, final: bool = False, busy: bool = False) -> None:
        """Say every problem with new failures (not again within ``repeat_after``, and while
        ``busy`` not before ``busy_grace`` has passed; ``final`` says everything now)."""
        for message, problem in self._problems.items():
            if not problem.count:
                continue
            if not final:
                if problem.said_at is not None and now - problem.said_at < self.repeat_after:
                    continue
                if busy:
                    if problem.held_since is None:
                        problem.held_since = now
                    if now - problem.held_since < self.busy_grace:
                        continue
            names = list(problem.tools)
            shown = ", ".join(names[:MAX_TOOLS_NAMED]) + (", …" if len(names) > MAX_TOOLS_NAMED else "")
            logger.warning(
                "otel_tool_exporter: %d Log%s not created (%s); tool%s: %s",
                problem.count,
                "" if problem.count == 1 else "s",
                message,
                "" if len(names) == 1 else "s",
                shown,
            )
            problem.count = 0
            problem.tools.clear()
            problem.said_at = now
            problem.held_since = None
