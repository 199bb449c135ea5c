"""``configure()``: the one-line setup."""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable, Iterable

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from typing_extensions import Unpack

from otel_tool_exporter._internal.build.conventions import Recogniser
from otel_tool_exporter._internal.build.redaction import RedactHook
from otel_tool_exporter._internal.delivery.transports import Transport
from otel_tool_exporter._internal.spans import SpanRecord
from otel_tool_exporter._internal.spans.sdk import span_processors
from otel_tool_exporter.autoinstrument import attach_start_ancestry
from otel_tool_exporter.exporter import ExporterOptions, ToolLogExporter
from otel_tool_exporter.processor import ToolSpanProcessor
from otel_tool_exporter.settings import Settings

__all__ = ["configure"]

logger = logging.getLogger("otel_tool_exporter")

_lock = threading.Lock()
_attached: weakref.WeakKeyDictionary[TracerProvider, ToolSpanProcessor] = weakref.WeakKeyDictionary()


def configure(
    *,
    tracer_provider: TracerProvider | None = None,
    settings: Settings | None = None,
    is_tool_span: Callable[[SpanRecord], bool] | None = None,
    recognisers: Iterable[Recogniser] | None = None,
    redact: RedactHook | None = None,
    transport_factory: Callable[[], Transport] | None = None,
    **options: Unpack[ExporterOptions],
) -> ToolSpanProcessor:
    """Send the tool calls of every span of the global SDK provider to Humanloop; returns the processor.

    The arguments are ``ToolLogExporter``'s (README: Configuration); unset ones come from
    the environment, and an invalid one raises ``ConfigurationError`` naming its variable before
    anything is attached. When the global provider is still the API's no-op proxy, an SDK
    ``TracerProvider`` is created (resource from ``OTEL_SERVICE_NAME`` / ``OTEL_RESOURCE_ATTRIBUTES``)
    and installed.

    One Log per span, however often it is called: a second call returns the processor of the
    first. A provider that already exports to Humanloop — a ``ToolSpanProcessor`` added by hand, or
    ``OTEL_TRACES_EXPORTER=humanloop`` under ``opentelemetry-instrument`` — is reused as it is, not
    given a second exporter (the arguments of this call are then ignored, with a warning).
    """
    with _lock:
        provider = tracer_provider or trace.get_tracer_provider()
        if isinstance(provider, TracerProvider):
            existing = _attached.get(provider) or _reuse(provider)
            if existing is not None:
                if options or settings is not None:
                    logger.warning(
                        "configure(): this tracer provider already exports tool spans to %s; reusing that "
                        "exporter, the settings passed to this call are ignored",
                        existing.exporter.settings.base_url,
                    )
                _attached[provider] = existing
                return existing
        exporter = ToolLogExporter(  # validates the settings before anything is installed
            settings=settings,
            is_tool_span=is_tool_span,
            recognisers=recognisers,
            redact=redact,
            transport_factory=transport_factory,
            **options,
        )
        processor = ToolSpanProcessor(exporter)
        if not isinstance(provider, TracerProvider):
            try:
                provider = _install_sdk_provider()
            except BaseException:
                processor.shutdown()
                raise
        provider.add_span_processor(processor)
        _attached[provider] = processor
        return processor


def _install_sdk_provider() -> TracerProvider:
    trace.set_tracer_provider(TracerProvider())
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        raise RuntimeError(
            f"the global tracer provider is a {type(provider).__name__}, not an SDK TracerProvider, and "
            "cannot be replaced; pass tracer_provider=... to configure()"
        )
    return provider


def _reuse(provider: TracerProvider) -> ToolSpanProcessor | None:
    """A processor over the exporter already feeding ``provider``, if there is one."""
    for processor in span_processors(provider):
        if isinstance(processor, ToolSpanProcessor):
            return processor
    exporters = attach_start_ancestry(provider)
    if exporters:
        # A BatchSpanProcessor (e.g. from OTEL_TRACES_EXPORTER=humanloop) delivers this exporter's
        # span ends, and now its starts too: hand back a processor over the same pipeline, not
        # attached, so no span reaches the pipeline twice.
        return ToolSpanProcessor(exporters[0])
    return None
