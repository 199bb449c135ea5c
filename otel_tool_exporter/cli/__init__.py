"""Console script ``otel-tool-exporter``.

Each subcommand lives in its own module exposing ``register(subparsers)``, which adds its parser
and sets ``func`` (taking the parsed arguments, returning an exit code).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# module path of every subcommand, in the order ``--help`` lists them
COMMANDS = (
    "otel_tool_exporter.cli.demo",
    "otel_tool_exporter.cli.stub",
    "otel_tool_exporter.cli.logs",
    "otel_tool_exporter.cli.doctor",
    "otel_tool_exporter.cli.serve",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="otel-tool-exporter", description="Send OpenTelemetry tool spans to Humanloop as Tool Logs."
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
