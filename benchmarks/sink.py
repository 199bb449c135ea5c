"""A minimal Humanloop-shaped sink for the benchmarks, run in its own process.

It answers ``POST …/tools/log`` with ``{"id", "tool_id", "version_id"}`` (the Log API's 200 body),
``POST …/import/otel/v1/traces`` (where the Humanloop SDK's own exporter posts) with
``{"records": [id]}``, and ``POST /v1/traces`` (OTLP/HTTP) with an empty protobuf answer; every
other request gets a 404. ``--delay-ms`` holds each answer back, as a remote API does. It is a raw
ASGI app on uvicorn, so the sink costs as little CPU as a Python server can: the benchmarks measure
the client, not the server.

    python benchmarks/sink.py --port 8999 --delay-ms 50
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
from typing import Any

_counter = itertools.count(1)
_HEADERS_JSON = [(b"content-type", b"application/json")]
_HEADERS_PROTO = [(b"content-type", b"application/x-protobuf")]


def make_app(delay: float) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        more = True
        while more:  # read the whole body, as a real server does
            message = await receive()
            more = message.get("more_body", False)
        if delay:
            await asyncio.sleep(delay)
        path: str = scope["path"]
        n = next(_counter)
        if path.endswith("/tools/log"):
            body = b'{"id":"tl_%d","tool_id":"tl_bench","version_id":"tv_bench"}' % n
            headers = _HEADERS_JSON
            status = 200
        elif path.endswith("/import/otel/v1/traces"):
            body = json.dumps({"records": [f"log_{n}"]}).encode()
            headers = _HEADERS_JSON
            status = 200
        elif path == "/v1/traces":
            body, headers, status = b"", _HEADERS_PROTO, 200  # an empty ExportTraceServiceResponse
        else:
            body, headers, status = b'{"detail":"not found"}', _HEADERS_JSON, 404
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    args = parser.parse_args()
    uvicorn.run(
        make_app(args.delay_ms / 1000.0),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        backlog=2048,
    )


if __name__ == "__main__":
    main()
