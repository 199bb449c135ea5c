"""The ordering stage: which Log each tool Log nests under, and when it may be sent."""

from otel_tool_exporter._internal.ordering.engine import OrderingEngine, Pending, Release
from otel_tool_exporter._internal.ordering.states import Reason, State

__all__ = ["OrderingEngine", "Pending", "Reason", "Release", "State"]
