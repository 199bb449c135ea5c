"""The README's configuration table is the settings model, rendered: this test keeps them equal.

After adding or changing a setting, regenerate the table with ``python -m tests.test_readme_config``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import certifi
from pydantic import SecretStr

from otel_tool_exporter.settings import Settings, env_name

README = Path(__file__).resolve().parent.parent / "README.md"
START = "<!-- settings-table:start (generated from Settings by `python -m tests.test_readme_config`) -->"
END = "<!-- settings-table:end -->"


def _default(field: Any) -> str:
    value = field.default_factory() if field.default_factory is not None else field.default
    if value is None or isinstance(value, SecretStr):
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, dict):
        return ", ".join(f"`{k}={v}`" for k, v in value.items()) or "none"
    if isinstance(value, tuple):
        return ", ".join(f"`{v}`" for v in value) or "none"
    if value == "":
        return '`""`'
    return f"`{value}`"


def render_table() -> str:
    rows = [
        "| environment variable | argument | default | what it does |",
        "|---|---|---|---|",
    ]
    for name, field in Settings.model_fields.items():
        description = (field.description or "").replace("|", "\\|")
        rows.append(f"| `{env_name(name)}` | `{name}` | {_default(field)} | {description} |")
    return "\n".join(rows)


def _readme_table(text: str) -> str:
    match = _TABLE.search(text)
    assert match, f"README.md lacks the generated settings table between {START!r} and {END!r}"
    return match.group(1).strip()


_TABLE = re.compile(re.escape(START) + r"\n(.*?)" + re.escape(END), re.S)


def test_readme_table_matches_the_settings_model() -> None:
    assert _readme_table(README.read_text()) == render_table(), (
        "README configuration table is out of date: run `python -m tests.test_readme_config`"
    )


def test_every_setting_is_described() -> None:
    missing = [name for name, field in Settings.model_fields.items() if not (field.description or "").strip()]
    assert missing == []


def test_every_row_names_a_variable_the_settings_really_read(monkeypatch: Any) -> None:
    """Each documented variable changes the resolved settings: the table cannot name a dead variable."""
    samples = {
        "api_key": "k-123",
        "base_url": "https://example.test/v5",
        "path_prefix": "p/",
        "version_id": "tv_1",
        "environment": "staging",
        "save": "false",
        "transport": "httpx",
        "headers": "x-a=1",
        "redact_keys": "ssn",
        "spool_dir": "/tmp/spool",
        "allow_insecure_http": "true",
        "max_field_bytes": "4096",
        "ca_file": certifi.where(),  # any readable PEM bundle
    }
    for name, field in Settings.model_fields.items():
        var = env_name(name)
        raw = samples.get(name, "100" if field.annotation in (int, "int") else "12.5")
        environ = {"HUMANLOOP_API_KEY": "k", var: raw}
        resolved, sources = Settings.resolve_with_sources(environ)
        assert sources[name] == f"environment ({var})", name
        assert getattr(resolved, name) != getattr(Settings.resolve({"HUMANLOOP_API_KEY": "k"}), name), name


def test_a_misspelt_variable_is_named_in_a_warning(caplog: Any) -> None:
    with caplog.at_level("WARNING", logger="otel_tool_exporter"):
        Settings.resolve({"HUMANLOOP_API_KEY": "k", "OTEL_TOOL_EXPORTER_MAX_PARENT_WIAT": "5"})
    assert "OTEL_TOOL_EXPORTER_MAX_PARENT_WIAT" in caplog.text
    assert "did you mean OTEL_TOOL_EXPORTER_MAX_PARENT_WAIT?" in caplog.text


def _write() -> None:
    text = README.read_text()
    assert _TABLE.search(text), f"README.md lacks the markers {START!r} and {END!r}"
    README.write_text(_TABLE.sub(lambda _: f"{START}\n{render_table()}\n{END}", text, count=1))


if __name__ == "__main__":
    _write()
    sys.stdout.write("README.md configuration table regenerated\n")


def test_variables_read_by_other_parts_are_not_called_unknown(caplog: Any) -> None:
    with caplog.at_level("WARNING", logger="otel_tool_exporter"):
        Settings.resolve({"HUMANLOOP_API_KEY": "k", "OTEL_TOOL_EXPORTER_AUTH_TOKEN": "t"})
    assert "OTEL_TOOL_EXPORTER_AUTH_TOKEN" not in caplog.text
