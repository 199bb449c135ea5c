"""``otel-tool-exporter serve``: the Collector sidecar in the foreground.

One ``ToolLogExporter`` (configured from flags and the environment, like any other) behind the
OTLP/HTTP receiver and, with ``--grpc``/``--grpc-port`` (the ``grpc`` extra), the OTLP/gRPC one on
the same event loop. SIGTERM or Ctrl-C stops accepting, lets requests in progress finish, drains
the pipeline (``exporter.shutdown()``) and exits: 0 after SIGTERM (a service manager's stop), 130
after Ctrl-C (as every subcommand).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from otel_tool_exporter.cli import port
from otel_tool_exporter.cli._common import fail, listen_error, stop_signals

__all__ = ["default_spool_dir", "register", "run_serve"]

TOKEN_ENV = "OTEL_TOOL_EXPORTER_AUTH_TOKEN"
SPOOL_ENV = "OTEL_TOOL_EXPORTER_SPOOL_DIR"
# The extras' packages are on PyPI: installing them into the same environment works however this
# package was installed (from a clone, a wheel or a git URL).
MISSING_EXTRA = (
    "otel-tool-exporter serve needs OTLP protobuf support (the 'sidecar' extra): "
    "pip install 'opentelemetry-proto>=1.27' in this environment"
)
MISSING_GRPC_EXTRA = (
    "otel-tool-exporter serve --grpc needs grpcio (the 'grpc' extra): "
    "pip install 'grpcio>=1.63' 'googleapis-common-protos>=1.56' in this environment"
)
DEFAULT_GRPC_PORT = 4317  # the OTLP/gRPC port; off unless --grpc or --grpc-port


def default_spool_dir() -> Path:
    """A per-user state directory: ``$XDG_STATE_HOME`` (or ``~/.local/state``), ``%LOCALAPPDATA%`` on Windows."""
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        base = Path(os.environ["LOCALAPPDATA"])
    else:
        base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return base / "otel-tool-exporter" / "spool"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the OTLP/HTTP receiver (Collector sidecar) that sends tool spans as Logs",
        description="Receive OTLP/HTTP traces on POST /v1/traces and send their tool spans to Humanloop. "
        "The API key comes from HUMANLOOP_API_KEY; every other exporter setting from OTEL_TOOL_EXPORTER_<NAME>.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, loopback only)")
    parser.add_argument("--port", type=port, default=4318, help="port to bind (default: 4318, the OTLP/HTTP port)")
    grpc = parser.add_mutually_exclusive_group()
    grpc.add_argument(
        "--grpc",
        action="store_true",
        help=f"also receive OTLP/gRPC on port {DEFAULT_GRPC_PORT} (needs the 'grpc' extra; default: off)",
    )
    grpc.add_argument(
        "--grpc-port",
        type=port,
        default=None,
        help="also receive OTLP/gRPC on this port (implies --grpc; default: off)",
    )
    parser.add_argument(
        "--auth-token",
        default=None,
        help=f"require 'Authorization: Bearer <token>' (default: ${TOKEN_ENV}; unset: no auth)",
    )
    parser.add_argument(
        "--allow-unauthenticated",
        action="store_true",
        help="allow a non-loopback --host without --auth-token (anyone who reaches the port can send spans)",
    )
    parser.add_argument(
        "--max-body-bytes",
        type=int,
        default=None,
        help="cap on a request body, compressed and after decompression; at least 1024 (default: 20 MiB)",
    )
    spool = parser.add_mutually_exclusive_group()
    spool.add_argument(
        "--spool-dir",
        default=None,
        help=f"durable spool directory (default: ${SPOOL_ENV}, else {default_spool_dir()})",
    )
    spool.add_argument("--no-spool", action="store_true", help="keep nothing on disk (spans in memory only)")
    parser.add_argument("--base-url", default=None, help="Humanloop API base URL (default: $HUMANLOOP_BASE_URL)")
    parser.add_argument(
        "--path-prefix",
        default=None,
        help="prefix for Tool paths, e.g. 'agents/' (default: $OTEL_TOOL_EXPORTER_PATH_PREFIX)",
    )
    parser.add_argument(
        "--version-id", default=None, help="log to this Tool version (default: $OTEL_TOOL_EXPORTER_VERSION_ID)"
    )
    parser.add_argument(
        "--environment",
        default=None,
        help="log to the Tool version deployed to this environment (default: $OTEL_TOOL_EXPORTER_ENVIRONMENT)",
    )
    parser.add_argument(
        "--shutdown-timeout", type=float, default=10.0, help="seconds to drain on SIGTERM or Ctrl-C before exiting"
    )
    parser.set_defaults(func=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    try:
        import google.protobuf  # noqa: F401
        import opentelemetry.proto.collector.trace.v1.trace_service_pb2  # noqa: F401
    except ImportError:
        print(MISSING_EXTRA, file=sys.stderr)
        return 2
    grpc_port = args.grpc_port if args.grpc_port is not None else (DEFAULT_GRPC_PORT if args.grpc else None)
    if grpc_port is not None:
        try:
            import grpc.aio  # noqa: F401
            from google.rpc import status_pb2  # noqa: F401
        except ImportError:
            print(MISSING_GRPC_EXTRA, file=sys.stderr)
            return 2
    from otel_tool_exporter.exporter import ToolLogExporter
    from otel_tool_exporter.settings import ConfigurationError
    from otel_tool_exporter.sidecar.guard import check_exposure
    from otel_tool_exporter.sidecar.server import SidecarConfig

    token = args.auth_token or os.environ.get(TOKEN_ENV) or None
    try:
        check_exposure(args.host, token, args.allow_unauthenticated)
    except ValueError as exc:
        return fail("serve", str(exc))

    if args.no_spool:
        spool_dir = None  # an explicit OTEL_TOOL_EXPORTER_SPOOL_DIR still applies (Settings reads it)
    else:
        spool_dir = args.spool_dir or os.environ.get(SPOOL_ENV) or str(default_spool_dir())
        try:
            Path(spool_dir).mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            return fail("serve", f"cannot create spool directory {spool_dir}: {exc.strerror or exc}; check --spool-dir")
    from otel_tool_exporter.sidecar.server import DEFAULT_MAX_BODY_BYTES

    max_body_bytes = DEFAULT_MAX_BODY_BYTES if args.max_body_bytes is None else args.max_body_bytes
    if max_body_bytes < 1024:
        return fail("serve", f"--max-body-bytes {max_body_bytes} is too small: it must be at least 1024")
    try:
        exporter = ToolLogExporter(
            base_url=args.base_url,
            path_prefix=args.path_prefix,
            version_id=args.version_id,
            environment=args.environment,
            spool_dir=spool_dir,
            shutdown_timeout=args.shutdown_timeout,
        )
    except ConfigurationError as exc:
        return fail("serve", str(exc))
    config = SidecarConfig(
        auth_token=token, max_body_bytes=max_body_bytes, allow_unauthenticated=args.allow_unauthenticated
    )
    return asyncio.run(_serve(exporter, config, args.host, args.port, args.shutdown_timeout, grpc_port))


async def _serve(
    exporter: Any, config: Any, host: str, port: int, shutdown_timeout: float, grpc_port: int | None = None
) -> int:
    from otel_tool_exporter.sidecar.server import STATE, create_app, start_site

    app = create_app(exporter, config)
    try:
        runner, bound = await start_site(app, host, port, shutdown_timeout=min(shutdown_timeout, 5.0))
    except OSError as exc:
        await asyncio.to_thread(exporter.shutdown)
        return fail("serve", listen_error(host, port, exc))
    grpc_server: Any = None
    if grpc_port is not None:
        from otel_tool_exporter.sidecar.grpc_server import start_grpc_server, stop_grpc_server

        try:
            grpc_server = await start_grpc_server(exporter, config, host, grpc_port)
        except RuntimeError as exc:
            await runner.cleanup()
            await asyncio.to_thread(exporter.shutdown)
            return fail("serve", f"cannot listen on {host}:{grpc_port} (gRPC): {exc}; choose another --grpc-port")
    code = 0
    settings = exporter.settings
    stopping = stop_signals()
    await asyncio.sleep(0)  # the handlers are in place before we say we listen
    print(
        f"otel-tool-exporter serve: OTLP/HTTP on http://{host}:{bound}/v1/traces → {settings.base_url} "
        f"(auth {'on' if config.auth_token else 'off'}, spool {_spool_banner(exporter)})",
        flush=True,
    )
    if grpc_server is not None:
        print(f"otel-tool-exporter serve: OTLP/gRPC on {host}:{grpc_server[2]} (TraceService/Export)", flush=True)
    try:
        code = await stopping
    finally:
        app[STATE].draining = True
        print("otel-tool-exporter serve: draining…", flush=True)
        if grpc_server is not None:  # refuse new calls (UNAVAILABLE), let calls in progress finish
            await stop_grpc_server(grpc_server[0], grpc_server[1], min(shutdown_timeout, 5.0))
        await runner.cleanup()  # stop accepting; requests in progress finish
        await asyncio.to_thread(exporter.shutdown)
        stats = exporter.stats()
        print(
            f"otel-tool-exporter serve: stopped; received {stats.get('received')} spans, "
            f"{stats.get('tool_spans')} tool spans, {stats.get('sent')} Logs sent, "
            f"failed {dict(stats.get('failed') or {})}, dropped {dict(stats.get('dropped') or {})}",
            flush=True,
        )
    return code


def _spool_banner(exporter: Any) -> str:
    """``on (<dir>)``, ``off``, or ``failed: <reason> (<dir>): accepted spans are held in memory only``."""
    from otel_tool_exporter._internal.pipeline import pipeline_of

    state = pipeline_of(exporter).spool_state
    where = exporter.settings.spool_dir
    if state == "on":
        return f"on ({where})"
    if state == "off":
        return "off"
    return f"{state} ({where}): accepted spans are held in memory only"
