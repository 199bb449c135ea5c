"""Hot path: what a span costs the application's thread, per span (create + 6 attributes + end).

Compared in one run, each in a fresh process, order alternating round by round:
  none — no span processor at all (the SDK's own cost);
  bsp  — BatchSpanProcessor with a no-op exporter (the baseline of issue 8);
  tsp  — ToolSpanProcessor(ToolLogExporter) delivering to a sink in another process.
Figure: CPU time of the thread that makes the spans (``time.thread_time``), median of batches.
Wall time is printed too: on 2 cores it also carries the GIL hand-offs to the delivery thread,
whose own cost is the CPU-per-Log figure (bench_cpu_per_log.py).

    python benchmarks/bench_hot_path.py [--rounds 5]
Targets: tsp/bsp ≤ 1.1 for tool spans, ≤ 1.0 for non-tool spans.
"""

from __future__ import annotations

import argparse

from _common import Results, final_line, run_worker, sink


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)  # its ratios sit near their targets: more samples
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--batches", type=int, default=5)
    args = parser.parse_args()
    results = {w: Results(f"hot path, {w} spans: µs per span on the app thread") for w in ("genai", "other")}
    with sink(0) as port:
        for round_no in range(args.rounds):
            setups = ["none", "bsp", "tsp"]
            if round_no % 2:
                setups.reverse()
            for workload in ("genai", "other"):
                for setup in setups:
                    r = run_worker(
                        "hotpath",
                        "--port", str(port),
                        "--setup", setup,
                        "--workload", workload,
                        "--batch", str(args.batch),
                        "--batches", str(args.batches),
                    )  # fmt: skip
                    results[workload].add(f"{setup} cpu", r["cpu_us"], "µs")
                    results[workload].add(f"{setup} wall", r["wall_us"], "µs")
    for res in results.values():
        res.print([("tsp/bsp (cpu)", "tsp cpu", "bsp cpu"), ("tsp/bsp (wall)", "tsp wall", "bsp wall")])
    tool, other = results["genai"], results["other"]
    final_line(
        hot_tool_tsp_us=tool.median("tsp cpu"),
        hot_tool_bsp_us=tool.median("bsp cpu"),
        hot_tool_ratio=tool.ratio("tsp cpu", "bsp cpu"),
        hot_other_tsp_us=other.median("tsp cpu"),
        hot_other_bsp_us=other.median("bsp cpu"),
        hot_other_ratio=other.ratio("tsp cpu", "bsp cpu"),
        hot_tool_wall_ratio=tool.ratio("tsp wall", "bsp wall"),
        hot_other_wall_ratio=other.ratio("tsp wall", "bsp wall"),
    )


if __name__ == "__main__":
    main()
