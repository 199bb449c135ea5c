"""``otel-tool-exporter stub``: the local Humanloop-compatible server in the foreground."""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
from typing import TYPE_CHECKING, Any

from otel_tool_exporter.cli import port
from otel_tool_exporter.cli._common import fail, listen_error, stop_signals

if TYPE_CHECKING:
    from otel_tool_exporter.stub.server import Faults

DEFAULT_PORT = 8000


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "stub",
        help="run the local Humanloop-compatible server (Log endpoint, Log list, trace view)",
        description="Serve POST /v5/tools/log as Humanloop does, store the Logs, list them (GET /v5/logs) and "
        "show their trees at /. Point an exporter at it with HUMANLOOP_BASE_URL=http://HOST:PORT/v5.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (loopback: no API key needed)")
    parser.add_argument("--port", type=port, default=DEFAULT_PORT, help="port to bind; 0 picks a free one")
    parser.add_argument("--db", default=":memory:", help="SQLite file for the Logs (default: in memory)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay every Log request by this much")
    parser.add_argument("--error-rate", type=float, default=0.0, help="fraction of Log requests answered with --status")
    parser.add_argument("--status", type=int, default=503, help="HTTP status of injected errors")
    parser.add_argument(
        "--retry-after", default=None, help="Retry-After header sent with injected errors (default: none)"
    )
    parser.set_defaults(func=run_stub)


def run_stub(args: argparse.Namespace) -> int:
    from otel_tool_exporter.stub.server import Faults  # the server stack loads only for this command

    faults = Faults(
        latency_ms=args.latency_ms, error_rate=args.error_rate, status=args.status, retry_after=args.retry_after
    )
    return asyncio.run(_serve(args, faults))


async def _serve(args: argparse.Namespace, faults: Faults) -> int:
    from otel_tool_exporter._internal.background import serve_app
    from otel_tool_exporter.stub.server import create_app

    try:
        app = create_app(args.db, faults)
    except sqlite3.Error as exc:
        return fail("stub", f"cannot open the database {args.db}: {exc}; check --db")
    try:
        runner, bound = await serve_app(app, args.host, args.port)
    except OSError as exc:
        return fail("stub", listen_error(args.host, args.port, exc))
    url = f"http://{args.host}:{bound}"
    stopping = stop_signals()
    await asyncio.sleep(0)  # the handlers are in place before we say we listen
    print(f"stub listening on {url}  (exporter base_url: {url}/v5, trace view: {url}/)", flush=True)
    try:
        return await stopping
    finally:
        await runner.cleanup()
