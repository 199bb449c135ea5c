"""What the long-running subcommands share: one-line bind errors and the stop signals."""

from __future__ import annotations

import asyncio
import errno
import signal
import socket
import sys

from otel_tool_exporter.cli import EXIT_INTERRUPTED

__all__ = ["fail", "listen_error", "stop_signals", "wait_for_stop"]


def fail(command: str, message: str, code: int = 2) -> int:
    """Print one error line for ``otel-tool-exporter <command>`` on stderr; return the exit status."""
    print(f"otel-tool-exporter {command}: {message}", file=sys.stderr, flush=True)
    return code


def listen_error(host: str, port: int, exc: OSError, flag: str = "--port") -> str:
    """Why ``host:port`` cannot be bound, and what to change."""
    if exc.errno == errno.EADDRINUSE:
        return (
            f"cannot listen on {host}:{port}: the port is already in use; stop what holds it or choose another {flag}"
        )
    if exc.errno == errno.EACCES:
        return f"cannot listen on {host}:{port}: permission denied (ports below 1024 need privileges); choose another {flag}"
    if isinstance(exc, socket.gaierror) or exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
        return f"cannot listen on {host}:{port}: {host!r} is not an address of this machine; check --host"
    return f"cannot listen on {host}:{port}: {exc.strerror or exc}; check --host and {flag}"


def stop_signals() -> asyncio.Task[int]:
    """Start listening for SIGINT/SIGTERM now (before saying "listening": a signal sent right after
    that line must find the handlers in place); await the task for the exit status."""
    task = asyncio.get_running_loop().create_task(wait_for_stop())
    return task


async def wait_for_stop() -> int:
    """Wait for SIGINT (Ctrl-C) or SIGTERM; the exit status to end with: 130 after Ctrl-C, 0 after
    SIGTERM (a service manager's ordinary stop)."""
    loop = asyncio.get_running_loop()
    stopped: asyncio.Future[int] = loop.create_future()

    def stop(code: int) -> None:
        if not stopped.done():
            stopped.set_result(code)

    for sig, code in ((signal.SIGINT, EXIT_INTERRUPTED), (signal.SIGTERM, 0)):
        try:
            loop.add_signal_handler(sig, stop, code)
        except (NotImplementedError, RuntimeError):  # Windows: Ctrl-C arrives as KeyboardInterrupt
            pass
    try:
        return await stopped
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.remove_signal_handler(sig)
            except (NotImplementedError, RuntimeError):
                pass
