"""The ordering stage: which Log each tool Log nests under, and when it may be sent."""

from otel_tool_exporter._internal.ordering.engine import Job, OrderingEngine, Reason

__all__ = ["Job", "OrderingEngine", "Reason"]
