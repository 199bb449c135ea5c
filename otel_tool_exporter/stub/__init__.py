"""The local Humanloop-compatible server."""

from otel_tool_exporter.stub.server import Faults, StubServer, create_app

__all__ = ["Faults", "StubServer", "create_app"]
