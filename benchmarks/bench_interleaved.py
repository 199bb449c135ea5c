"""Bursts, interleaved: what a chunk of spans costs the application's thread, per span, when the
delivery thread has a burst to handle.

One process holds two providers — BatchSpanProcessor with a no-op exporter, and
ToolSpanProcessor(ToolLogExporter) delivering to a sink in another process — and makes chunks of
spans with each in turn, the order rotated chunk by chunk, each chunk's background work flushed
untimed before the next. Every chunk is a burst. Figure: wall time of the app thread per span
(on 2 cores it carries the GIL hand-offs to the delivery thread), and its CPU time.

    python benchmarks/bench_interleaved.py [--rounds 3] [--workload other|genai]
Target: ordinary (``other``) spans' wall time ≤ 1.1× BatchSpanProcessor's.
"""

from __future__ import annotations

import argparse

from _common import Results, final_line, run_worker, sink


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--batches", type=int, default=10)
    args = parser.parse_args()
    results = {w: Results(f"interleaved bursts, {w} spans: µs per span on the app thread") for w in ("other", "genai")}
    with sink(0) as port:
        for _ in range(args.rounds):
            for workload, res in results.items():
                r = run_worker(
                    "interleaved",
                    "--port", str(port),
                    "--workload", workload,
                    "--batch", str(args.batch),
                    "--batches", str(args.batches),
                )  # fmt: skip
                for setup in ("bsp", "tsp"):
                    res.add(f"{setup} wall", r[f"{setup}_wall_us"], "µs")
                    res.add(f"{setup} cpu", r[f"{setup}_cpu_us"], "µs")
    for res in results.values():
        res.print([("tsp/bsp (wall)", "tsp wall", "bsp wall"), ("tsp/bsp (cpu)", "tsp cpu", "bsp cpu")])
    other, tool = results["other"], results["genai"]
    final_line(
        interleaved_other_wall_ratio=other.ratio("tsp wall", "bsp wall"),
        interleaved_other_cpu_ratio=other.ratio("tsp cpu", "bsp cpu"),
        interleaved_tool_wall_ratio=tool.ratio("tsp wall", "bsp wall"),
        interleaved_tool_cpu_ratio=tool.ratio("tsp cpu", "bsp cpu"),
    )


if __name__ == "__main__":
    main()
