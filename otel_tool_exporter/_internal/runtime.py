"""The delivery thread: one daemon thread running one asyncio loop, started on first use.

Kept apart from the stages so that each stage can be tested without a thread. A forked child
(gunicorn ``--preload``, celery) gets a fresh runtime from its owner; the parent's loop and
descriptors are left untouched there.

When no thread can be started — Python 3.12.0 and 3.12.1 refuse new threads while the interpreter
exits, which is when a ``BatchSpanProcessor`` hands over what a short script left — the same loop
runs on the calling thread instead, for as long as that thread waits on it (a flush, a shutdown):
the Logs still go, within the exit budget.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from otel_tool_exporter._internal.exitsafe import ExitSafeExecutor

__all__ = ["Runtime"]

logger = logging.getLogger("otel_tool_exporter")

T = TypeVar("T")


class Runtime:
    def __init__(
        self,
        main: Callable[[asyncio.Event], Coroutine[Any, Any, None]],
        cleanup: Callable[[], Coroutine[Any, Any, None]],
        *,
        name: str = "otel-tool-exporter",
    ) -> None:
        self._main = main
        self._cleanup = cleanup
        self._name = name
        self.pid = os.getpid()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup: asyncio.Event | None = None
        self._main_task: asyncio.Task[None] | None = None
        self.inline = False  # no thread could be started: the loop runs while a caller waits on it

    @property
    def started(self) -> bool:
        return self._thread is not None or self.inline

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        return self._loop

    def start(self) -> None:
        with self._lock:
            if self._thread is not None or self.inline:
                return
            ready = threading.Event()
            thread = threading.Thread(target=self._run, args=(ready,), name=self._name, daemon=True)
            try:
                thread.start()
            except RuntimeError:  # "can't create new thread at interpreter shutdown"
                self._prepare()
                self.inline = True
                return
            self._thread = thread
        ready.wait(5.0)

    def wake(self) -> None:
        """Called from any thread (the inbox, when the loop sleeps). Never raises."""
        try:
            if not self.started:
                self.start()
            loop, wakeup = self._loop, self._wakeup
            if loop is not None and wakeup is not None:
                # from any thread; without a thread of its own the loop sees it when next run
                loop.call_soon_threadsafe(wakeup.set)
        except Exception:
            logger.exception("otel_tool_exporter: cannot wake the delivery thread")

    def call(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        """Run ``coro`` on the loop and wait for it, at most ``timeout`` seconds."""
        loop = self._loop
        if loop is None:
            coro.close()
            raise RuntimeError("the delivery thread is not running")
        if self.inline:
            return loop.run_until_complete(asyncio.wait_for(coro, max(0.0, timeout)))
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=max(0.0, timeout))

    def wait(self, future: concurrent.futures.Future[T], timeout: float) -> T:
        """``future.result(timeout)``, the loop running meanwhile on this thread if it has no
        thread of its own. Raises ``concurrent.futures.TimeoutError`` past ``timeout``."""
        loop = self._loop
        if not self.inline or loop is None or loop.is_closed():
            return future.result(timeout=max(0.0, timeout))
        try:
            return loop.run_until_complete(asyncio.wait_for(asyncio.wrap_future(future, loop=loop), max(0.0, timeout)))
        except asyncio.TimeoutError:
            raise concurrent.futures.TimeoutError() from None

    def stop(self, timeout: float) -> None:
        loop, thread = self._loop, self._thread
        if loop is None:
            return
        if self.inline:
            if not loop.is_closed():
                self._finish(loop)
            return
        if thread is None:
            return
        try:
            loop.call_soon_threadsafe(loop.stop)
        except RuntimeError:
            pass
        thread.join(max(0.1, timeout))

    def _prepare(self) -> asyncio.AbstractEventLoop:
        """The loop, with the delivery loop's task on it, not yet running."""
        loop = asyncio.new_event_loop()
        loop.set_default_executor(ExitSafeExecutor(max_workers=4, thread_name_prefix=f"{self._name}-io"))
        self._loop = loop
        self._wakeup = asyncio.Event()
        self._main_task = loop.create_task(self._main(self._wakeup))
        self._main_task.add_done_callback(_report_crash)
        return loop

    def _run(self, ready: threading.Event) -> None:
        loop = self._prepare()
        asyncio.set_event_loop(loop)
        ready.set()
        try:
            loop.run_forever()
        finally:
            self._finish(loop)

    def _finish(self, loop: asyncio.AbstractEventLoop) -> None:
        """Cancel what still runs, clean up (close the transport), close the loop."""
        if self._main_task is not None:
            self._main_task.cancel()
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        try:
            loop.run_until_complete(self._cleanup())
        except Exception:
            logger.debug("otel_tool_exporter: cleanup after the delivery loop failed", exc_info=True)
        loop.close()


def _report_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("otel_tool_exporter: the delivery loop stopped", exc_info=task.exception())
