"""``ToolSpanProcessor``: the recommended in-process setup (SPEC §1, §4).

Unlike a ``BatchSpanProcessor``, it also hands over span *starts*, so the nesting engine knows the
nearest tool ancestor of every span the moment it starts and never waits for unrelated spans to
end. Both hand-offs are a deque append: no I/O, no lock shared with the network, no exception.
"""

from __future__ import annotations

import logging
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from otel_tool_exporter.exporter import ToolLogExporter

__all__ = ["ToolSpanProcessor"]

logger = logging.getLogger("otel_tool_exporter")


class ToolSpanProcessor(SpanProcessor):
    def __init__(self, exporter: ToolLogExporter | None = None, **exporter_settings: Any) -> None:
        self.exporter = exporter if exporter is not None else ToolLogExporter(**exporter_settings)
        pipeline = self.exporter.pipeline
        pipeline.enable_start_ancestry()
        self._pipeline = pipeline
        # the pipeline's two deques live as long as it does (a fork clears them, never replaces)
        self._starts = pipeline._starts
        self._ends = pipeline._queue
        self._cap = pipeline._queue_cap

    # Both hand-offs are Pipeline.submit_start/submit inlined, one Python frame each: an append,
    # and a wake-up only when the delivery thread sleeps. The sampled flag is read on the delivery
    # thread, off the application's path, like everything else about the span.
    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        try:
            starts = self._starts
            if len(starts) < self._cap:
                starts.append(span)
                pipeline = self._pipeline
                if pipeline._idle:
                    pipeline._notify()
        except Exception:
            pass

    def on_end(self, span: ReadableSpan) -> None:
        try:
            ends = self._ends
            pipeline = self._pipeline
            if len(ends) >= self._cap or pipeline._closed:
                pipeline.submit(span)  # the slow path counts the drop, with its reason
                return
            ends.append(span)
            if pipeline._idle:
                pipeline._notify()
        except Exception:
            pass

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self.exporter.force_flush(timeout_millis)

    def shutdown(self) -> None:
        self.exporter.shutdown()
