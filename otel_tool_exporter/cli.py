"""Console script ``otel-tool-exporter``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="otel-tool-exporter", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    stub = sub.add_parser("stub", help="run the local Humanloop-compatible server")
    stub.add_argument("--host", default="127.0.0.1")
    stub.add_argument("--port", type=int, default=8000)
    stub.add_argument("--db", default=":memory:", help="SQLite file for the Logs (default: in memory)")
    stub.add_argument("--latency-ms", type=float, default=0.0, help="delay every Log request")
    stub.add_argument("--error-rate", type=float, default=0.0, help="fraction of Log requests answered with --status")
    stub.add_argument("--status", type=int, default=503, help="status for injected errors")
    stub.add_argument("--retry-after", default=None, help="Retry-After header for injected errors")

    demo = sub.add_parser("demo", help="run an instrumented agent and show the Logs it produced")
    demo.add_argument("--port", type=int, default=0, help="port for the in-process stub (default: any free port)")
    demo.add_argument("--wait", action="store_true", help="keep the stub running after the demo (Ctrl-C to stop)")

    args = parser.parse_args(argv)
    if args.command == "stub":
        from .stub.cli import run_stub

        return run_stub(args)
    if args.command == "demo":
        from .demo import run_demo

        return run_demo(port=args.port, wait=args.wait)
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
