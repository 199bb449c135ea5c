"""Giving way to a burst: while the application pours out spans, the delivery thread waits.

Building and sending a tool Log costs about 0.1 ms of CPU, and even an ordinary span's end costs
the delivery thread a few microseconds; done while the application is making spans, that work
competes with it for the GIL. So while spans pour in (``min_arrivals`` or more within one
``step``), the delivery thread leaves them all in the inbox and sleeps another step, for at most
``max_hold`` seconds per busy period and while fewer than ``max_spans`` wait. A quiet step, a
flush or shutdown ends the hold at once. The price: the Logs of a burst leave up to ``max_hold``
later. Measured in ``benchmarks/bench_hot_path.py`` (see docs/performance.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["BurstPolicy"]


@dataclass(slots=True)
class BurstPolicy:
    step: float = 0.002
    max_hold: float = 0.05
    max_spans: int = 4096
    min_arrivals: int = 16  # spans handed in during one step that make it a burst (8k spans/s)
    _left: float = field(default=0.0, repr=False)

    def begin(self) -> None:
        """A busy period may start: the delivery thread has caught up (it lingers or sleeps), so
        the next spans get a whole ``max_hold`` again — also right after a flush ended a hold."""
        self._left = self.max_hold

    def should_hold(self, waiting: int, urgent: bool) -> bool:
        """Whether to leave the ``waiting`` spans in the inbox for one more step."""
        if self._left <= 0.0:
            return False
        if urgent or waiting >= self.max_spans:
            self._left = 0.0
            return False
        return True

    def after_step(self, arrivals: int) -> None:
        """One step passed with ``arrivals`` new spans: still a burst, or over."""
        if arrivals >= self.min_arrivals:
            self._left -= self.step
        else:
            self._left = 0.0
