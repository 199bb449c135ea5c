"""A real Node OpenTelemetry app (``@opentelemetry/exporter-trace-otlp-http``, OTLP/JSON) → sidecar → stub.

Opt-in: ``pytest --node`` runs it (when ``node`` is installed), installing the npm packages from
``tests/js/package-lock.json`` into ``tests/js/node_modules`` on first use (``npm ci``, never
committed). Once they are installed, a plain ``pytest`` runs it too: nothing is fetched then.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from otel_tool_exporter.sidecar import SidecarConfig
from otel_tool_exporter.stub import StubServer

from .conftest import logs_by_path
from .test_sidecar import DEMO_TREE, running_sidecar, tree_of

JS_DIR = Path(__file__).parent / "js"
NODE = shutil.which("node")

pytestmark = [
    pytest.mark.skipif(NODE is None, reason="node is not installed: the Node OTLP/JSON client cannot run"),
    pytest.mark.timeout(600),  # the first test may run `npm ci`
]


@pytest.fixture(scope="module")
def node_client(request: pytest.FixtureRequest) -> Path:
    """``tests/js/client.mjs`` with its npm dependencies installed (``npm ci`` from the lockfile)."""
    if not (JS_DIR / "node_modules" / "@opentelemetry" / "exporter-trace-otlp-http").is_dir():
        if not request.config.getoption("--node"):
            pytest.skip("opt-in: `pytest --node` installs the Node client's npm packages (npm ci) and runs it")
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is not installed: cannot install the Node client's dependencies")
        result = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"], cwd=JS_DIR, capture_output=True, text=True, timeout=600
        )
        if result.returncode != 0:
            pytest.skip(f"npm ci failed (no registry access?): {result.stderr.strip()[-500:]}")
    return JS_DIR / "client.mjs"


@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_node_otlp_json_client_becomes_nested_logs(stub: StubServer, node_client: Path, compression: str) -> None:
    with running_sidecar(stub, SidecarConfig(auth_token="node-token")) as (sidecar, exporter):
        assert NODE is not None
        run = subprocess.run(
            [NODE, str(node_client), sidecar.traces_url, compression, "node-token"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, run.stdout + run.stderr
        assert exporter.force_flush(10_000)
        health = httpx.get(f"{sidecar.url}/healthz", headers={"Authorization": "Bearer node-token"}).json()
    # one request per span (SimpleSpanProcessor): children arrived before their parents
    assert health["sidecar"]["requests_by_format"] == {"json": 9}
    assert health["sidecar"]["spans_rejected"] == 0
    assert tree_of(stub) == DEMO_TREE
    logs = {path: v[0] for path, v in logs_by_path(stub).items()}
    assert logs["lookup_user"]["inputs"] == {"user_id": 42}
    assert logs["lookup_user"]["output"] == '{"id":42,"name":"Ada","tags":["admin","beta"]}'
    assert logs["fail_tool"]["error"] == "RangeError: boom: disk full"
    otel = logs["search_web"]["metadata"]["otel"]
    assert otel["service_name"] == "node-agent" and otel["scope"] == "node.client"
    assert otel["call_id"] == "call_researcher_0"
    assert logs["search_web"]["environment"] == "node-test"


def test_node_client_with_a_wrong_token_is_refused(stub: StubServer, node_client: Path) -> None:
    with running_sidecar(stub, SidecarConfig(auth_token="node-token")) as (sidecar, _):
        assert NODE is not None
        run = subprocess.run(
            [NODE, str(node_client), sidecar.traces_url, "none", "wrong"], capture_output=True, text=True, timeout=120
        )
        health = httpx.get(f"{sidecar.url}/healthz", headers={"Authorization": "Bearer node-token"}).json()
    assert run.returncode == 1
    assert health["status"] == "ok" and health["sidecar"]["responses"] == {"401": 9}
    assert logs_by_path(stub) == {}
