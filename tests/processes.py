"""Running the product's own processes in tests: started in the background, always reaped."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager


@contextmanager
def running(cmd: Sequence[str], env: Mapping[str, str]) -> Iterator[subprocess.Popen[str]]:
    """``cmd`` running with its output captured; killed at the end if it is still alive."""
    proc = subprocess.Popen(list(cmd), env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def stop(proc: subprocess.Popen[str], sig: int = signal.SIGTERM, timeout: float = 30) -> tuple[str, str]:
    """Send ``sig`` and wait for the process to end: its stdout and stderr."""
    proc.send_signal(sig)
    return proc.communicate(timeout=timeout)
