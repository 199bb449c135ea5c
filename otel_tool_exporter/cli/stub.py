"""``otel-tool-exporter stub``: the local Humanloop-compatible server in the foreground."""

from __future__ import annotations

import argparse
from typing import Any

from aiohttp import web

from otel_tool_exporter.stub.server import Faults, create_app


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("stub", help="run the local Humanloop-compatible server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--db", default=":memory:", help="SQLite file for the Logs (default: in memory)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay every Log request by this much")
    parser.add_argument("--error-rate", type=float, default=0.0, help="fraction of Log requests answered with --status")
    parser.add_argument("--status", type=int, default=503, help="HTTP status of injected errors")
    parser.add_argument("--retry-after", default=None, help="Retry-After header sent with injected errors")
    parser.set_defaults(func=run_stub)


def run_stub(args: argparse.Namespace) -> int:
    faults = Faults(
        latency_ms=args.latency_ms, error_rate=args.error_rate, status=args.status, retry_after=args.retry_after
    )
    app = create_app(args.db, faults)
    url = f"http://{args.host}:{args.port}"
    print(f"stub listening on {url}  (exporter base_url: {url}/v5, trace view: {url}/)", flush=True)
    web.run_app(app, host=args.host, port=args.port, access_log=None, print=None)
    return 0
