"""OpenTelemetry metrics of the exporter itself, via the global MeterProvider (SPEC §5).

Counters and gauges are observable instruments read from the pipeline's counters at collection
time, so they cost nothing on the hot path; only the request-duration histogram records per HTTP
attempt (on the delivery thread).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .pipeline import Pipeline

__all__ = ["PipelineMetrics"]

logger = logging.getLogger("otel_tool_exporter")


class PipelineMetrics:
    def __init__(self, pipeline: Pipeline, meter: Any) -> None:
        from opentelemetry.metrics import CallbackOptions, Observation

        self._pipeline = pipeline

        def counter(key: str) -> Any:
            def read(options: CallbackOptions) -> Iterable[Observation]:
                yield Observation(self._pipeline.snapshot()[key])

            return read

        def by_reason(key: str) -> Any:
            def read(options: CallbackOptions) -> Iterable[Observation]:
                for reason, value in self._pipeline.snapshot()[key].items():
                    yield Observation(value, {"reason": reason})

            return read

        for key, description in (
            ("received", "Spans handed to the exporter"),
            ("tool_spans", "Spans recognised as tool calls"),
            ("sent", "Logs created on the server"),
            ("retries", "HTTP attempts retried"),
            ("unresolved_parents", "Logs sent without their parent (see metadata.otel.unresolved_parent)"),
        ):
            meter.create_observable_counter(
                f"otel_tool_exporter.{key}", callbacks=[counter(key)], description=description
            )
        meter.create_observable_counter(
            "otel_tool_exporter.failed",
            callbacks=[by_reason("failed")],
            description="Logs that failed for good, by reason",
        )
        meter.create_observable_counter(
            "otel_tool_exporter.dropped",
            callbacks=[by_reason("dropped")],
            description="Spans or Logs dropped, by reason",
        )
        for key, description in (
            ("queue_depth", "Spans waiting to be processed"),
            ("waiting_children", "Logs waiting for their parent's Log id"),
            ("in_flight", "Log requests being sent or retried"),
            ("parked_in_spool", "Log requests waiting in the spool"),
        ):
            meter.create_observable_gauge(
                f"otel_tool_exporter.{key}", callbacks=[counter(key)], description=description
            )
        self._duration = meter.create_histogram(
            "otel_tool_exporter.request.duration", unit="s", description="Duration of one HTTP attempt"
        )

    @classmethod
    def create(cls, pipeline: Pipeline) -> PipelineMetrics | None:
        try:
            from opentelemetry import metrics

            return cls(pipeline, metrics.get_meter("otel_tool_exporter"))
        except Exception:
            logger.debug("otel_tool_exporter: metrics unavailable", exc_info=True)
            return None

    def record_request(self, seconds: float, outcome: str) -> None:
        self._duration.record(seconds, {"outcome": outcome})
