#!/usr/bin/env bash
# The Humanloop SDK baseline runs in its own venv: the SDK pulls in six OpenLLMetry instrumentors
# whose entry points would change what `opentelemetry-instrument` does in the dev environment.
# The benchmarks look for it at $BENCH_HUMANLOOP_PYTHON (default /work/venvs/humanloop/bin/python).
set -euo pipefail
venv="${1:-/work/venvs/humanloop}"
version="${HUMANLOOP_VERSION:-0.8.38}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q "humanloop==$version"
"$venv/bin/python" -c "import importlib.metadata as m; print('humanloop', m.version('humanloop'), 'in $venv')"
