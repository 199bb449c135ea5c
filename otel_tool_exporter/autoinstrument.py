"""The zero-code path: ``OTEL_TRACES_EXPORTER=humanloop opentelemetry-instrument python app.py``.

``opentelemetry-instrument`` builds the SDK from the environment: it looks up the
``opentelemetry_traces_exporter`` entry point ``humanloop`` (our ``ToolLogExporter``), constructs it
with no arguments (so it reads ``HUMANLOOP_*`` / ``OTEL_TOOL_EXPORTER_*``) and wraps it in a
``BatchSpanProcessor``. That processor only reports span *ends*, in batches, so on its own the
exporter learns ancestry from finished spans (correct, but a child may wait for unrelated spans).

After the instrumentors are loaded, ``opentelemetry-instrument`` calls every
``opentelemetry_post_instrument`` entry point. Ours, :func:`post_instrument`, finds each
``ToolLogExporter`` that feeds the global provider and adds a :class:`StartAncestryProcessor` for it:
a processor that hands the *same* exporter's pipeline the span starts and nothing else. Ends still
arrive once, through the ``BatchSpanProcessor``, so a span can never become two Logs — and even if
it were handed in twice, the pipeline keeps one Log per ``(trace_id, span_id)``.

It also registers an exit hook that flushes the provider *before* the pipeline's own exit
shutdown runs, so spans still sitting in the ``BatchSpanProcessor`` queue when a short script ends
reach the pipeline and are delivered instead of arriving after it closed.
"""

from __future__ import annotations

import atexit
import logging
import weakref

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider

from otel_tool_exporter._internal.pipeline import pipeline_of
from otel_tool_exporter._internal.spans.sdk import span_processors
from otel_tool_exporter.exporter import ToolLogExporter
from otel_tool_exporter.processor import ToolSpanProcessor

__all__ = ["StartAncestryProcessor", "attach_start_ancestry", "find_exporters", "post_instrument"]

logger = logging.getLogger("otel_tool_exporter")

EXIT_FLUSH_MILLIS = 10_000


class StartAncestryProcessor(SpanProcessor):
    """Hands span starts — only starts — to an exporter that another processor feeds with ends.

    ``on_end`` does nothing: the processor that owns the exporter (a ``BatchSpanProcessor`` under
    ``opentelemetry-instrument``) delivers each finished span exactly once. ``force_flush`` forwards
    to the exporter so that ``provider.force_flush()`` — which flushes the batch processor first,
    because it was added first — returns when the Logs are delivered. ``shutdown`` is left to the
    exporter's owner.
    """

    def __init__(self, exporter: ToolLogExporter) -> None:
        self.exporter = exporter
        pipeline = pipeline_of(exporter)
        pipeline.enable_start_ancestry()
        self._offer_start = pipeline.inbox.offer_start

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        try:
            if span.context.trace_flags.sampled:
                self._offer_start(span)
        except Exception:
            pass

    def on_end(self, span: ReadableSpan) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        try:
            return self.exporter.force_flush(timeout_millis)
        except Exception:
            return False

    def shutdown(self) -> None:
        return None


def find_exporters(provider: TracerProvider) -> list[tuple[ToolLogExporter, bool]]:
    """Each ``ToolLogExporter`` feeding ``provider``, with whether span starts already reach it."""
    found: dict[int, tuple[ToolLogExporter, bool]] = {}
    for processor in span_processors(provider):
        if isinstance(processor, (ToolSpanProcessor, StartAncestryProcessor)):
            found[id(processor.exporter)] = (processor.exporter, True)
            continue
        exporter = getattr(processor, "span_exporter", None)  # BatchSpanProcessor, SimpleSpanProcessor
        if isinstance(exporter, ToolLogExporter) and id(exporter) not in found:
            found[id(exporter)] = (exporter, False)
    return list(found.values())


def attach_start_ancestry(provider: TracerProvider) -> list[ToolLogExporter]:
    """Add a :class:`StartAncestryProcessor` for every exporter on ``provider`` that lacks one.

    Returns every ``ToolLogExporter`` feeding the provider (now all with start ancestry)."""
    exporters = []
    for exporter, has_starts in find_exporters(provider):
        if not has_starts:
            provider.add_span_processor(StartAncestryProcessor(exporter))
            logger.debug("otel_tool_exporter: start ancestry attached to %r", exporter)
        exporters.append(exporter)
    return exporters


def post_instrument() -> None:
    """``opentelemetry_post_instrument`` hook. Runs in every ``opentelemetry-instrument`` process
    of an environment where this package is installed, so it does nothing unless one of our
    exporters feeds the global provider, and it never raises into the application's start-up."""
    try:
        provider = trace.get_tracer_provider()
        if not isinstance(provider, TracerProvider):
            return
        if attach_start_ancestry(provider):
            atexit.register(_flush_at_exit, weakref.ref(provider))
    except Exception:
        logger.exception("otel_tool_exporter: zero-code set-up of start ancestry failed (exporter-only mode)")


def _flush_at_exit(ref: weakref.ReferenceType[TracerProvider]) -> None:
    """Registered after the provider and the exporter, so it runs before both of their exit hooks:
    the batch processor hands over what it still holds while the pipeline is open."""
    provider = ref()
    if provider is None:
        return
    try:
        provider.force_flush(EXIT_FLUSH_MILLIS)  # our exporters keep within their exit budget
    except KeyboardInterrupt:  # Ctrl-C while waiting at exit: say what was not sent, no traceback
        for exporter, _ in find_exporters(provider):
            pipeline_of(exporter)._interrupted_at_exit()
    except Exception:
        pass
