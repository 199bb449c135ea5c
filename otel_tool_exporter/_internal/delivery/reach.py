"""Whether the API can be reached, said at once: the first failure to connect, and the recovery.

Retries go on quietly for up to ``max_elapsed`` (5 minutes by default); a server that cannot be
reached at all must not be a silence that long. So the first transport failure is logged at
WARNING naming the host and port and the cause (refused, DNS, TLS, timeout, …), once per outage,
and the first answer afterwards says it is over.
"""

from __future__ import annotations

import errno
import logging
import socket
import ssl
from urllib.parse import urlsplit

__all__ = ["Reachability", "describe"]

logger = logging.getLogger("otel_tool_exporter")


def describe(exc: BaseException) -> str:
    """A short cause for a failed exchange, from the innermost error that says what happened."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError):
            return "connection refused"
        if isinstance(current, socket.gaierror):
            return "host name not resolved (DNS)"
        if isinstance(current, ssl.SSLCertVerificationError):
            return f"TLS certificate not trusted ({current.verify_message or current.reason})"
        if isinstance(current, ssl.SSLError):
            return f"TLS error ({current.reason or current})"
        if isinstance(current, ConnectionResetError):
            return "connection reset"
        if isinstance(current, TimeoutError):
            return "timed out"
        if isinstance(current, OSError) and current.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
            return "network unreachable"
        current = current.__cause__ or current.__context__
    kind = getattr(exc, "kind", None)
    if kind == "timeout":
        return "timed out"
    return str(exc) or type(exc).__name__


class Reachability:
    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        self.where = f"{parts.hostname}:{port}"
        self.down = False
        self.cause: str | None = None

    def failed(self, cause: str) -> None:
        if not self.down:
            self.down = True
            self.cause = cause
            logger.warning("otel_tool_exporter: cannot reach %s (%s); Logs are kept and retried", self.where, cause)

    def answered(self) -> None:
        if self.down:
            self.down = False
            logger.warning("otel_tool_exporter: %s answers again; delivering", self.where)

    @property
    def why(self) -> str | None:
        """Why Logs are not getting through, while that lasts."""
        return f"cannot reach {self.where}: {self.cause}" if self.down else None
