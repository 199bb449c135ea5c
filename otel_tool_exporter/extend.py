"""What you can plug into the exporter: your own HTTP transport, tool-span recognisers and a
redact hook, with the types they receive and return.

```python
from otel_tool_exporter import ToolLogExporter
from otel_tool_exporter.extend import AiohttpTransport

exporter = ToolLogExporter(transport_factory=lambda: AiohttpTransport(proxy="http://proxy:3128"))
```
"""

from otel_tool_exporter._internal.build.conventions import ConventionRegistry, Recogniser, ToolCall, ToolSchemaHint
from otel_tool_exporter._internal.build.redaction import RedactHook
from otel_tool_exporter._internal.delivery.transports import (
    AiohttpTransport,
    ConnectError,
    HttpxTransport,
    RequestTimeoutError,
    Transport,
    TransportError,
    TransportResponse,
)
from otel_tool_exporter._internal.spans import EventRecord, SpanRecord
from otel_tool_exporter.models import ToolLogRequest

__all__ = [
    "AiohttpTransport",
    "ConnectError",
    "ConventionRegistry",
    "EventRecord",
    "HttpxTransport",
    "Recogniser",
    "RedactHook",
    "RequestTimeoutError",
    "SpanRecord",
    "ToolCall",
    "ToolLogRequest",
    "ToolSchemaHint",
    "Transport",
    "TransportError",
    "TransportResponse",
]
