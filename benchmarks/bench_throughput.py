"""Throughput: delivered Logs per second, first span end → last Log acknowledged.

For each sink delay (default 0 ms and 50 ms; the sink runs in another process), in one run with
the order alternating round by round:
  raw       — a bare aiohttp client posting the product's own ~1.3 KB body, 64 at a time (the
              machine's limit at this concurrency);
  product   — ToolSpanProcessor(ToolLogExporter()), default settings (64 in flight, aiohttp);
  httpx     — the same with transport="httpx" (why aiohttp is the default; 0 ms only);
  humanloop — the Humanloop SDK's own exporter (one OTLP POST per span, 4 worker threads), in
              its own venv (benchmarks/README.md), fewer spans because it is slow.
Every span must arrive: a run that loses one is reported as a failure.

    python benchmarks/bench_throughput.py [--delay-ms 0 --delay-ms 50] [--rounds 3]
Targets: product ≥ 0.6 × raw at 0 ms; ≥ 900/s and ≥ 12 × humanloop at 50 ms.
"""

from __future__ import annotations

import argparse
from typing import Any

from _common import HUMANLOOP_PYTHON, Results, final_line, humanloop_available, humanloop_version, run_worker, sink


def measure(delay: float, rounds: int, n: int, n_slow: int, with_httpx: bool) -> tuple[Results, list[str]]:
    res = Results(f"throughput, sink answering after {delay:g} ms: Logs/s (and CPU ms per Log)")
    problems: list[str] = []
    hl_missing = humanloop_available()
    if hl_missing:
        problems.append(f"humanloop baseline skipped: {hl_missing}")
    workload = "humanloop" if delay else "genai"  # at 50 ms: the very spans Humanloop's exporter sends
    with sink(delay) as port:
        for round_no in range(rounds):
            runs: list[tuple[str, list[str], str | None]] = [
                ("raw", ["raw", "--n", str(n)], None),
                ("product", ["product", "--n", str(n), "--workload", workload], None),
            ]
            if with_httpx:
                runs.append(
                    ("httpx", ["product", "--n", str(n_slow), "--transport", "httpx", "--deadline", "90"], None)
                )
            if not hl_missing:
                runs.append(("humanloop", ["humanloop", "--n", str(n_slow), "--deadline", "90"], HUMANLOOP_PYTHON))
            if round_no % 2:
                runs.reverse()
            for name, argv, python in runs:
                kind, *rest = argv
                r: dict[str, Any] = run_worker(
                    kind, "--port", str(port), *rest, **({"python": python} if python else {})
                )
                res.add(name, r["rate"], "/s")
                res.add(f"{name} cpu", r.get("cpu_per_log_ms", r.get("cpu_per_req_ms", float("nan"))), "ms/Log")
                if "sent" in r and r["sent"] != r["n"]:
                    problems.append(f"{name} at {delay:g} ms delivered {r['sent']} of {r['n']}: {r}")
    return res, problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay-ms", type=float, action="append")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--n", type=int, default=4000)
    parser.add_argument("--n-slow", type=int, default=600, help="spans for the slow baselines (httpx, humanloop)")
    args = parser.parse_args()
    delays = args.delay_ms or [0.0, 50.0]
    summary: dict[str, Any] = {}
    problems: list[str] = []
    for delay in delays:
        res, issues = measure(delay, args.rounds, args.n, args.n_slow, with_httpx=delay == 0)
        problems += issues
        ratios = [("product/raw", "product", "raw")]
        if "httpx" in res.series:
            ratios.append(("product/httpx", "product", "httpx"))
        if "humanloop" in res.series:
            ratios.append(("product/humanloop", "product", "humanloop"))
        res.print(ratios)
        tag = f"{delay:g}ms"
        summary[f"tput_{tag}_product"] = res.median("product")
        summary[f"tput_{tag}_raw"] = res.median("raw")
        summary[f"tput_{tag}_vs_raw"] = res.ratio("product", "raw")
        if "humanloop" in res.series:
            summary[f"tput_{tag}_humanloop"] = res.median("humanloop")
            summary[f"tput_{tag}_vs_humanloop"] = res.ratio("product", "humanloop")
        if "httpx" in res.series:
            summary[f"tput_{tag}_httpx"] = res.median("httpx")
    if "humanloop" not in str(problems):
        print(f"\nHumanloop SDK {humanloop_version()} (its exporter, 4 worker threads)")
    for problem in problems:
        print("PROBLEM:", problem)
    summary["all_delivered"] = not any("delivered" in p for p in problems)
    final_line(**summary)


if __name__ == "__main__":
    main()
