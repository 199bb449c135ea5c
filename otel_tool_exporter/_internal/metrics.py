"""OpenTelemetry metrics of the exporter itself, via the global MeterProvider.

One set of instruments per process, shared by every live pipeline (an OTel meter keeps one
instrument per name, so per-pipeline instruments would silently shadow each other). Counters and
gauges are observable: read from the pipelines' counters at collection time, summed, costing
nothing on the hot path. Only the request-duration histogram records per HTTP attempt, on the
delivery thread.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from otel_tool_exporter._internal.pipeline import Pipeline

__all__ = ["PipelineMetrics"]

logger = logging.getLogger("otel_tool_exporter")

_COUNTERS = (
    ("received", "Spans handed to the exporter"),
    ("tool_spans", "Spans recognised as tool calls"),
    ("sent", "Logs created on the server"),
    ("retries", "HTTP attempts retried"),
    ("unresolved_parents", "Logs sent without their parent (see metadata.otel.unresolved_parent)"),
)
_BY_REASON = (
    ("failed", "Logs that failed for good, by reason"),
    ("dropped", "Spans or Logs dropped, by reason"),
)
_GAUGES = (
    ("queue_depth", "Spans waiting to be processed"),
    ("waiting_children", "Logs waiting for their parent's Log id"),
    ("in_flight", "Log requests being sent or retried"),
    ("parked_in_spool", "Log requests waiting in the spool"),
)


class _Instruments:
    def __init__(self, meter: Any) -> None:
        from opentelemetry.metrics import CallbackOptions, Observation

        self.pipelines: weakref.WeakSet[Pipeline] = weakref.WeakSet()
        # counts of pipelines that are gone: a counter must never go down when an exporter is
        # garbage-collected
        self.retired: Counter[str] = Counter()
        self.retired_reasons: dict[str, Counter[str]] = {key: Counter() for key, _ in _BY_REASON}

        def snapshots() -> list[dict[str, Any]]:
            return [p.snapshot() for p in list(self.pipelines)]

        def total(key: str) -> Any:
            def read(options: CallbackOptions) -> Iterable[Observation]:
                yield Observation(sum(s[key] for s in snapshots()) + self.retired[key])

            return read

        def gauge(key: str) -> Any:
            def read(options: CallbackOptions) -> Iterable[Observation]:
                yield Observation(sum(s[key] for s in snapshots()))

            return read

        def by_reason(key: str) -> Any:
            def read(options: CallbackOptions) -> Iterable[Observation]:
                summed: Counter[str] = Counter(self.retired_reasons[key])
                for snap in snapshots():
                    summed.update(snap[key])
                for reason, value in summed.items():
                    yield Observation(value, {"reason": reason})

            return read

        for key, description in _COUNTERS:
            meter.create_observable_counter(
                f"otel_tool_exporter.{key}", callbacks=[total(key)], description=description
            )
        for key, description in _BY_REASON:
            meter.create_observable_counter(
                f"otel_tool_exporter.{key}", callbacks=[by_reason(key)], description=description
            )
        for key, description in _GAUGES:
            meter.create_observable_gauge(f"otel_tool_exporter.{key}", callbacks=[gauge(key)], description=description)
        self._lock = threading.Lock()
        self.duration = meter.create_histogram(
            "otel_tool_exporter.request.duration", unit="s", description="Duration of one HTTP attempt"
        )

    def retire(self, stats: Any) -> None:
        """A pipeline was collected: keep its counts in the totals."""
        snap = stats.snapshot()
        with self._lock:
            for key, _ in _COUNTERS:
                self.retired[key] += snap[key]
            for key, _ in _BY_REASON:
                self.retired_reasons[key].update(snap[key])


_lock = threading.Lock()
_instruments: _Instruments | None = None


class PipelineMetrics:
    """A pipeline's handle on the shared instruments."""

    def __init__(self, instruments: _Instruments) -> None:
        self._duration = instruments.duration

    @classmethod
    def create(cls, pipeline: Pipeline) -> PipelineMetrics | None:
        global _instruments
        try:
            with _lock:
                if _instruments is None:
                    from opentelemetry import metrics

                    _instruments = _Instruments(metrics.get_meter("otel_tool_exporter"))
                _instruments.pipelines.add(pipeline)
                weakref.finalize(pipeline, _instruments.retire, pipeline.stats)
            return cls(_instruments)
        except Exception:
            logger.debug("otel_tool_exporter: metrics unavailable", exc_info=True)
            return None

    def record_request(self, seconds: float, outcome: str) -> None:
        self._duration.record(seconds, {"outcome": outcome})
