"""A server on its own event-loop thread: how the stub, the sidecar and its gRPC receiver run
inside another process (tests, the demo, embedding)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from aiohttp import web

__all__ = ["BackgroundServer", "serve_app"]


async def serve_app(
    app: web.Application, host: str, port: int, *, shutdown_timeout: float = 10.0, auto_decompress: bool = True
) -> tuple[web.AppRunner, int]:
    """Start serving an aiohttp ``app``; returns the runner and the bound port (useful with 0)."""
    runner = web.AppRunner(
        app, access_log=None, handle_signals=False, auto_decompress=auto_decompress, shutdown_timeout=shutdown_timeout
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    await site.start()
    sockets = getattr(site._server, "sockets", None) or ()
    return runner, (sockets[0].getsockname()[1] if sockets else port)


class BackgroundServer:
    """``start()`` runs :meth:`_open` on a new loop thread and returns once it serves (or raises
    what stopped it); ``stop()`` runs :meth:`_close` there and joins the thread. Also a context
    manager. Subclasses set ``thread_name`` and implement the two coroutines."""

    thread_name = "otel-tool-exporter-server"

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def _open(self) -> None:
        raise NotImplementedError

    async def _close(self) -> None:
        raise NotImplementedError

    def start(self) -> Any:
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            try:
                loop.run_until_complete(self._open())
            except BaseException as exc:
                errors.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._close())
            loop.close()

        self._thread = threading.Thread(target=run, name=self.thread_name, daemon=True)
        self._thread.start()
        ready.wait(10)
        if errors:
            raise errors[0]
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._thread = None

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
