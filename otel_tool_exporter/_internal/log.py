"""The package's logger and the one style its messages share.

Every message goes to the ``otel_tool_exporter`` logger (or a child of it) and reads
``otel_tool_exporter: <what happened>; <what to change>`` — one line per distinct problem. An
application that configured logging gets them through its own handlers, formatted its way. One
that configured nothing would otherwise see them through Python's last-resort handler (bare
text, warnings only), so :func:`ensure_heard` gives the package logger a stderr handler then, and
only then: nothing is printed twice.
"""

from __future__ import annotations

import logging
import sys
import threading

__all__ = ["LOGGER_NAME", "PREFIX", "ensure_heard", "logger", "report_startup_error", "warning"]

LOGGER_NAME = "otel_tool_exporter"
PREFIX = "otel_tool_exporter: "
logger = logging.getLogger(LOGGER_NAME)

_lock = threading.Lock()


class _Formatter(logging.Formatter):
    """The message alone, starting with the package name (some messages carry it already)."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return text if text.startswith(PREFIX) else PREFIX + text


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (tests and tools replace it), and steps
    aside once the application configures the root logger, so nothing is printed twice."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)
        self.setFormatter(_Formatter("%(message)s"))
        self.setLevel(logging.WARNING)

    def emit(self, record: logging.LogRecord) -> None:
        if logging.getLogger().handlers:  # configured after we were added: the root handler prints it
            return
        self.setStream(sys.stderr)
        super().emit(record)


def warning(message: str, *args: object) -> None:
    """A warning in the package's style: ``otel_tool_exporter: <message>``, %-style arguments."""
    logger.warning(PREFIX + message, *args)


def ensure_heard() -> None:
    """Give the package logger a stderr handler (WARNING and above) when neither it nor the root
    logger has one, so warnings reach the user of an app that never set up logging. Idempotent."""
    root = logging.getLogger()
    if logger.handlers or root.handlers:
        return
    with _lock:
        if logger.handlers or root.handlers:
            return
        logger.addHandler(_StderrHandler())


# The SDK's configurator, which ``opentelemetry-instrument`` runs, constructs the exporter; when
# that raises, the instrumentation package logs the same exception twice with full tracebacks
# (once per layer) and then runs the application without tracing.
_CONFIGURATOR_MODULE = "opentelemetry.sdk._configuration"
_SDK_LOGGERS = (
    "opentelemetry.instrumentation.auto_instrumentation",
    "opentelemetry.instrumentation.auto_instrumentation._load",
)


class _DropTracebacksOf(logging.Filter):
    def __init__(self, exc: BaseException) -> None:
        super().__init__()
        self.exc = exc

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and record.exc_info[1] is self.exc)


def _called_by_sdk_configurator() -> bool:
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_globals.get("__name__") == _CONFIGURATOR_MODULE:
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


def report_startup_error(exc: BaseException) -> None:
    """Called with a configuration error as the exporter's constructor raises it. Under the SDK's
    configurator (zero-code ``opentelemetry-instrument``) say it in one line, and keep the SDK's two
    tracebacks of that same exception off the screen; anywhere else do nothing: the caller gets the
    exception."""
    if not _called_by_sdk_configurator():
        return
    ensure_heard()
    logger.error(PREFIX + "%s; tracing to Humanloop is off for this run (fix the setting and restart)", exc)
    drop = _DropTracebacksOf(exc)
    for name in _SDK_LOGGERS:
        logging.getLogger(name).addFilter(drop)
