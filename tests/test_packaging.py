"""What a user installs: the wheel carries the licence, declares it as an SPDX expression, and holds
the trace view's static files; the extras keep the Quickstart light."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser, as a package
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_the_repository_holds_the_apache_licence_it_declares() -> None:
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in text and "Version 2.0, January 2004" in text and "END OF TERMS AND CONDITIONS" in text
    assert PYPROJECT["project"]["license"] == "Apache-2.0"
    assert PYPROJECT["project"]["license-files"] == ["LICENSE"]


def test_the_quickstart_extra_leaves_out_the_heavy_parts() -> None:
    extras = PYPROJECT["project"]["optional-dependencies"]
    test = " ".join(extras["test"])
    for heavy in ("playwright", "grpcio", "trustme", "ruff"):
        assert heavy not in test, heavy
    assert any(r.startswith("pytest") for r in extras["test"])
    assert "playwright" in " ".join(extras["browser"])


def _setuptools_version() -> tuple[int, ...]:
    try:
        import setuptools
    except ImportError:
        return ()
    return tuple(int(p) for p in setuptools.__version__.split(".")[:2] if p.isdigit())


@pytest.mark.skipif(
    _setuptools_version() < (77,), reason="setuptools>=77 is not installed (the dev extra has it): cannot build offline"
)
def test_the_wheel_carries_the_licence_and_the_trace_view_files(tmp_path: Path) -> None:
    source = tmp_path / "src"  # a copy: building in place would leave build/ and *.egg-info in the checkout
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "otel_tool_exporter", source / "otel_tool_exporter", ignore=shutil.ignore_patterns("__pycache__")
    )
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    (wheel,) = tmp_path.glob("otel_tool_exporter-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        meta = archive.read(metadata).decode()
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), names
    assert "License-Expression: Apache-2.0" in meta.splitlines()
    for asset in ("trace-view.css", "trace-view.js", "favicon.svg"):
        assert f"otel_tool_exporter/stub/static/{asset}" in names
    assert "otel_tool_exporter/py.typed" in names


def test_ci_runs_the_readme_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    quickstart = readme.split("## Quickstart", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    commands = [line.split("#", 1)[0].strip() for line in quickstart.splitlines() if line.strip()]
    assert commands == ["pip install -e '.[test]' && otel-tool-exporter demo", "pytest"]
    everything = re.search(r"Everything, as CI runs it \(`\.ci/run`[^)]*\):\s*`([^`]+)`", readme)
    assert everything, "README names the command that runs every test"
    ci_lines = [line.strip() for line in ci.splitlines()]
    for command in [*commands, everything.group(1)]:
        assert command in ci_lines, command
