"""Console script ``otel-tool-exporter`` (also ``python -m otel_tool_exporter``).

Each subcommand lives in its own module exposing ``register(subparsers)``, which adds its parser
and sets ``func`` (taking the parsed arguments, returning an exit code).

Conventions every subcommand keeps: an error is one line on stderr that names what to change, with
a non-zero exit status and no traceback (2 for a bad command line or setting, 1 for a failed
check or run); Ctrl-C ends any command with 130 after its clean-up; output cut short by a closed
pipe (``| head``) ends quietly with 141, as the shell's own tools do; ``--help`` shows every
flag's default.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

__all__ = ["EXIT_BROKEN_PIPE", "EXIT_INTERRUPTED", "CliParser", "build_parser", "main", "port"]

# module path of every subcommand, in the order ``--help`` lists them
COMMANDS = (
    "otel_tool_exporter.cli.demo",
    "otel_tool_exporter.cli.stub",
    "otel_tool_exporter.cli.logs",
    "otel_tool_exporter.cli.doctor",
    "otel_tool_exporter.cli.serve",
)
PROG = "otel-tool-exporter"
EXIT_INTERRUPTED = 130  # 128 + SIGINT: what a shell reports for a command stopped with Ctrl-C
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: the reader went away (`| head`)


class DefaultsFormatter(argparse.HelpFormatter):
    """Appends ``(default: …)`` to a flag's help unless the help already says its default;
    an on/off flag reads ``(default: off)``. A flag whose default is ``None`` must say it itself."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or action.default is argparse.SUPPRESS or not action.option_strings:
            return text
        if action.default is None:
            return text
        shown = "off" if action.default is False else "on" if action.default is True else "%(default)s"
        return f"{text} (default: {shown})"


class CliParser(argparse.ArgumentParser):
    """Errors in one line (``otel-tool-exporter stub: argument --port: …``), exit status 2."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", DefaultsFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def port(text: str) -> int:
    """An ``argparse`` type: a TCP port number, 0 meaning any free port."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535)") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port number (0-65535)")
    return value


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("otel-tool-exporter")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = CliParser(prog=PROG, description="Send OpenTelemetry tool spans to Humanloop as Tool Logs.")
    parser.add_argument("--version", action="version", version=f"{PROG} {_version()}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).register(subparsers)
    return parser


def _silence_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null so the flush at exit cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
