"""The Collector sidecar (SPEC §6): an OTLP/HTTP receiver in front of the same pipeline.

``otel-tool-exporter serve`` runs it; :class:`SidecarServer` embeds it on a background thread.
OTLP (protobuf or OTLP/JSON) is converted once, here at the edge, into ``SpanRecord``.
"""

from .decode import DecodeError, DecodeResult, decode_json, decode_protobuf
from .server import SidecarConfig, SidecarServer, create_app

__all__ = [
    "DecodeError",
    "DecodeResult",
    "SidecarConfig",
    "SidecarServer",
    "create_app",
    "decode_json",
    "decode_protobuf",
]
