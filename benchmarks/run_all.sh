#!/usr/bin/env bash
# Every benchmark once, in order; each prints its table and ends with a key=value line.
# Takes about 5 minutes on 2 cores. Output also goes to benchmarks/results-<date>.txt.
set -euo pipefail
cd "$(dirname "$0")"
out="results-$(date +%Y%m%d-%H%M%S).txt"
{
  echo "# $(uname -srm), $(nproc) cores, $(python -V 2>&1), $(date -u +%FT%TZ)"
  for script in bench_hot_path.py bench_interleaved.py bench_throughput.py bench_cpu_per_log.py bench_idle.py bench_burst.py bench_sidecar.py; do
    echo "### $script"
    timeout 1200 python "$script" "$@"
  done
} 2>&1 | tee "$out"
