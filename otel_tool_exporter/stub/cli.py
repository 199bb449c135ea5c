"""``otel-tool-exporter stub``: the stub in the foreground."""

from __future__ import annotations

import argparse

from aiohttp import web

from .server import Faults, create_app


def run_stub(args: argparse.Namespace) -> int:
    faults = Faults(
        latency_ms=args.latency_ms, error_rate=args.error_rate, status=args.status, retry_after=args.retry_after
    )
    app = create_app(args.db, faults)
    url = f"http://{args.host}:{args.port}"
    print(f"stub listening on {url}  (exporter base_url: {url}/v5, trace view: {url}/)", flush=True)
    web.run_app(app, host=args.host, port=args.port, access_log=None, print=None)
    return 0
