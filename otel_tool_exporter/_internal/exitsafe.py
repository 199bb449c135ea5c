"""An executor that still works while the interpreter exits.

aiohttp runs DNS and netrc look-ups in the event loop's default executor. Once the interpreter is
exiting, ``concurrent.futures`` refuses new work — and that is exactly when an exit flush sends the
last Logs (for instance what a ``BatchSpanProcessor`` still held when a short script ended, the
usual case under ``opentelemetry-instrument``). Every such request would then fail with
``RuntimeError: cannot schedule new futures after interpreter shutdown``. This executor runs the
call inline on the delivery thread instead, which is what a blocking look-up costs at exit anyway.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable
from typing import Any

__all__ = ["ExitSafeExecutor"]


class ExitSafeExecutor(concurrent.futures.ThreadPoolExecutor):
    """A ``ThreadPoolExecutor`` (asyncio accepts no other default) that runs work inline when the
    pool can no longer take it."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        try:
            return super().submit(fn, *args, **kwargs)
        except RuntimeError:
            future: concurrent.futures.Future[Any] = concurrent.futures.Future()
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as exc:
                future.set_exception(exc)
            return future
