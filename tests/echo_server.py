"""A careless server for the secret tests: it answers every request with an error whose detail
quotes every request header back."""

from __future__ import annotations

from aiohttp import web

from otel_tool_exporter._internal.background import BackgroundServer, serve_app


class HeaderEchoServer(BackgroundServer):
    def __init__(self, status: int, separator: str = "; ") -> None:
        super().__init__()
        self.status = status
        self.separator = separator
        self.port = 0

    async def _open(self) -> None:
        async def echo(request: web.Request) -> web.Response:
            await request.read()
            quoted = self.separator.join(f"{k}: {v}" for k, v in request.headers.items())
            return web.json_response({"detail": f"refused; headers were: {quoted}"}, status=self.status)

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", echo)
        self._runner, self.port = await serve_app(app, "127.0.0.1", 0)

    async def _close(self) -> None:
        await self._runner.cleanup()
