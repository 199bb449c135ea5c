"""A separate process that records tool spans and exports them (used by the delivery tests).

    python tests/producer_script.py BASE_URL SPOOL_DIR COUNT [--nested] [--replay-only] [--no-shutdown]

Prints "ended" once every span has ended (so a test can SIGKILL it mid-delivery), then flushes and
shuts down unless told not to.
"""

from __future__ import annotations

import argparse
import atexit
import json
import sys
import threading
import time

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from otel_tool_exporter import ToolLogExporter, ToolSpanProcessor


def _refuse_new_threads() -> None:
    def refuse(self: threading.Thread) -> None:
        raise RuntimeError("can't create new thread at interpreter shutdown")

    threading.Thread.start = refuse  # type: ignore[method-assign]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("base_url")
    parser.add_argument("spool_dir")
    parser.add_argument("count", type=int)
    parser.add_argument("--nested", action="store_true", help="each trace: parent tool with a child tool")
    parser.add_argument("--replay-only", action="store_true", help="record nothing: just replay the spool")
    parser.add_argument("--no-shutdown", action="store_true", help="exit without calling flush or shutdown")
    parser.add_argument("--no-exit-hook", action="store_true", help="TracerProvider(shutdown_on_exit=False)")
    parser.add_argument("--batch", action="store_true", help="BatchSpanProcessor instead of ToolSpanProcessor")
    parser.add_argument("--prefix", default="p")
    parser.add_argument("--linger", type=float, default=0.0, help="with --no-shutdown: stay alive this long")
    parser.add_argument(
        "--live", type=float, default=0.0, help="one parent tool running this long, its child ended first"
    )
    parser.add_argument(
        "--threads-refused-at-exit",
        action="store_true",
        help="as Python 3.12.0/3.12.1 do: no new thread once the interpreter exits",
    )
    args = parser.parse_args()

    settings = {"base_url": args.base_url, "api_key": "k"}
    if args.spool_dir != "-":
        settings["spool_dir"] = args.spool_dir
    exporter = ToolLogExporter(**settings)
    provider = TracerProvider(shutdown_on_exit=not args.no_exit_hook)
    if args.batch:
        provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=50))
    else:
        provider.add_span_processor(ToolSpanProcessor(exporter))
    tracer = provider.get_tracer("producer")
    if args.threads_refused_at_exit:
        atexit.register(_refuse_new_threads)  # registered last: runs before every other exit hook
    if args.live:
        attrs = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.call.arguments": json.dumps({"topic": "x"})}
        with tracer.start_as_current_span(
            "execute_tool agent_tool", attributes={**attrs, "gen_ai.tool.name": "agent_tool"}
        ) as parent:
            with tracer.start_as_current_span(
                "execute_tool step", attributes={**attrs, "gen_ai.tool.name": "step", "gen_ai.tool.call.result": "ok"}
            ):
                pass
            time.sleep(args.live)
            parent.set_attribute("gen_ai.tool.call.result", "agent done")
        print("parent ended", flush=True)
    for i in range(args.count):
        attrs = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.call.arguments": json.dumps({"i": i})}
        if args.nested:
            with tracer.start_as_current_span(
                f"execute_tool {args.prefix}parent", attributes={**attrs, "gen_ai.tool.name": f"{args.prefix}parent"}
            ):
                with tracer.start_as_current_span(
                    f"execute_tool {args.prefix}child", attributes={**attrs, "gen_ai.tool.name": f"{args.prefix}child"}
                ):
                    pass
        else:
            with tracer.start_as_current_span(
                f"execute_tool {args.prefix}tool", attributes={**attrs, "gen_ai.tool.name": f"{args.prefix}tool"}
            ):
                pass
    print("ended", flush=True)
    if args.no_shutdown:
        time.sleep(args.linger)  # a test kills it meanwhile
        return 0
    if args.replay_only:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            stats = exporter.stats()
            if (
                stats["in_flight"] == 0
                and stats["parked_in_spool"] == 0
                and stats["waiting_children"] == 0
                and stats["sent"] + stats["completed_early"] > 0
            ):
                break
            time.sleep(0.1)
    ok = provider.force_flush(60_000)
    provider.shutdown()
    print(json.dumps({"flushed": ok, **exporter.stats()}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
