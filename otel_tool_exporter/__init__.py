"""Send AI-agent tool calls recorded by OpenTelemetry to Humanloop as Tool Logs.

```python
from otel_tool_exporter import ToolLogExporter, ToolSpanProcessor, configure
```

What you plug in (transports, recognisers, a redact hook) lives in ``otel_tool_exporter.extend``.
Everything else in this package is private.
"""

from otel_tool_exporter._internal.configure import configure
from otel_tool_exporter._internal.spans import SpanRecord
from otel_tool_exporter.exporter import ToolLogExporter
from otel_tool_exporter.models import ToolLogRequest, ToolLogResponse
from otel_tool_exporter.processor import ToolSpanProcessor
from otel_tool_exporter.settings import ConfigurationError, Settings

__version__ = "0.1.0"

__all__ = [
    "ConfigurationError",
    "Settings",
    "SpanRecord",
    "ToolLogExporter",
    "ToolLogRequest",
    "ToolLogResponse",
    "ToolSpanProcessor",
    "__version__",
    "configure",
]
