"""Send AI-agent tool calls recorded by OpenTelemetry to Humanloop as Tool Logs.

Public surface (SPEC §1)::

    from otel_tool_exporter import ToolLogExporter, ToolSpanProcessor, configure
"""

from ._configure import configure
from .conventions import ConventionRegistry, Recogniser, ToolCall
from .delivery.client import APIStatusError, HumanloopError, RetriesExhausted, UnprocessableEntityError
from .exporter import ToolLogExporter
from .models import ToolLogRequest, ToolLogResponse
from .processor import ToolSpanProcessor
from .settings import ConfigurationError, Settings
from .spans import SpanRecord

__version__ = "0.1.0"

__all__ = [
    "APIStatusError",
    "ConfigurationError",
    "ConventionRegistry",
    "HumanloopError",
    "Recogniser",
    "RetriesExhausted",
    "Settings",
    "SpanRecord",
    "ToolCall",
    "ToolLogExporter",
    "ToolLogRequest",
    "ToolLogResponse",
    "ToolSpanProcessor",
    "UnprocessableEntityError",
    "configure",
]
