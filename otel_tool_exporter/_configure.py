"""``configure()``: the one-line setup (SPEC §1)."""

from __future__ import annotations

import threading
import weakref
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from .processor import ToolSpanProcessor

__all__ = ["configure"]

_lock = threading.Lock()
_attached: weakref.WeakKeyDictionary[TracerProvider, ToolSpanProcessor] = weakref.WeakKeyDictionary()


def configure(*, tracer_provider: TracerProvider | None = None, **settings: Any) -> ToolSpanProcessor:
    """Attach ``ToolSpanProcessor(ToolLogExporter(**settings))`` to the global SDK provider.

    Creates and installs an SDK ``TracerProvider`` when the global one is still the API's no-op
    proxy. Calling it again returns the processor already attached (one Log per span, never two).
    """
    with _lock:
        provider = tracer_provider or trace.get_tracer_provider()
        if not isinstance(provider, TracerProvider):
            provider = TracerProvider()
            trace.set_tracer_provider(provider)
            provider = trace.get_tracer_provider()
            if not isinstance(provider, TracerProvider):
                raise RuntimeError(
                    "the global tracer provider is not an SDK TracerProvider and cannot be replaced; "
                    "pass tracer_provider=... to configure()"
                )
        existing = _attached.get(provider)
        if existing is not None:
            return existing
        processor = ToolSpanProcessor(**settings)
        provider.add_span_processor(processor)
        _attached[provider] = processor
        return processor
