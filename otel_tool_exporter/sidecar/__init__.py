"""The Collector sidecar: an OTLP/HTTP (and optionally OTLP/gRPC) receiver in front of the exporter.

``otel-tool-exporter serve`` runs it; :class:`SidecarServer` embeds it on a background thread.
"""

from otel_tool_exporter.sidecar.server import SidecarConfig, SidecarServer, create_app

__all__ = ["SidecarConfig", "SidecarServer", "create_app"]
