"""SPEC §7 configuration: argument > environment > default, and errors that name the variable."""

from __future__ import annotations

import pytest

from otel_tool_exporter import ConfigurationError, ToolLogExporter
from otel_tool_exporter.settings import DEFAULT_BASE_URL, DURATION_FIELDS, Settings, env_name, unknown_variables

KEY = "hl_sk_settings_secret"


def test_environment_names() -> None:
    assert env_name("api_key") == "HUMANLOOP_API_KEY"
    assert env_name("base_url") == "HUMANLOOP_BASE_URL"
    assert env_name("path_prefix") == "OTEL_TOOL_EXPORTER_PATH_PREFIX"
    assert env_name("max_parent_wait") == "OTEL_TOOL_EXPORTER_MAX_PARENT_WAIT"
    assert env_name("spool_dir") == "OTEL_TOOL_EXPORTER_SPOOL_DIR"


def test_defaults() -> None:
    settings = Settings.resolve({"HUMANLOOP_API_KEY": KEY})
    assert settings.base_url == DEFAULT_BASE_URL == "https://api.humanloop.com/v5"
    assert settings.log_url == "https://api.humanloop.com/v5/tools/log"
    assert settings.max_parent_wait == 300.0
    assert settings.max_concurrency == 64
    assert settings.max_field_bytes == 256 * 1024
    assert settings.max_elapsed == 300.0
    assert (settings.version_id, settings.environment, settings.save) == (None, None, None)


def test_every_setting_reads_its_environment_variable() -> None:
    env = {
        "HUMANLOOP_API_KEY": KEY,
        "HUMANLOOP_BASE_URL": "https://eu.example.test/v5/",
        "OTEL_TOOL_EXPORTER_PATH_PREFIX": "agents/",
        "OTEL_TOOL_EXPORTER_VERSION_ID": "tv_1",
        "OTEL_TOOL_EXPORTER_ENVIRONMENT": "staging",
        "OTEL_TOOL_EXPORTER_SAVE": "false",
        "OTEL_TOOL_EXPORTER_MAX_PARENT_WAIT": "12.5",
        "OTEL_TOOL_EXPORTER_MAX_CONCURRENCY": "8",
        "OTEL_TOOL_EXPORTER_SPOOL_DIR": "/tmp/spool",
        "OTEL_TOOL_EXPORTER_HEADERS": "X-A=1, X-B = two",
        "OTEL_TOOL_EXPORTER_REDACT_KEYS": "Password, ssn",
        "OTEL_TOOL_EXPORTER_TRANSPORT": "httpx",
    }
    settings = Settings.resolve(env)
    assert settings.api_key_value == KEY
    assert settings.log_url == "https://eu.example.test/v5/tools/log"
    assert settings.path_prefix == "agents/"
    assert (settings.version_id, settings.environment, settings.save) == ("tv_1", "staging", False)
    assert settings.max_parent_wait == 12.5
    assert settings.max_concurrency == 8
    assert settings.spool_dir == "/tmp/spool"
    assert settings.headers == {"X-A": "1", "X-B": "two"}
    assert settings.redact_keys == ("password", "ssn")
    assert settings.transport == "httpx"


def test_argument_wins_over_environment() -> None:
    env = {"HUMANLOOP_API_KEY": "from-env", "OTEL_TOOL_EXPORTER_PATH_PREFIX": "env/", "OTEL_TOOL_EXPORTER_SAVE": "1"}
    settings = Settings.resolve(env, api_key="from-arg", path_prefix="arg/", save=False)
    assert settings.api_key_value == "from-arg"
    assert settings.path_prefix == "arg/"
    assert settings.save is False  # a False argument is given, not 'unset'


def test_blank_environment_values_mean_unset() -> None:
    settings = Settings.resolve({"HUMANLOOP_API_KEY": KEY, "OTEL_TOOL_EXPORTER_MAX_CONCURRENCY": "  "})
    assert settings.max_concurrency == 64


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("OTEL_TOOL_EXPORTER_MAX_CONCURRENCY", "lots"),
        ("OTEL_TOOL_EXPORTER_MAX_CONCURRENCY", "0"),
        ("OTEL_TOOL_EXPORTER_MAX_PARENT_WAIT", "-1"),
        ("OTEL_TOOL_EXPORTER_SAVE", "maybe"),
        ("OTEL_TOOL_EXPORTER_TRANSPORT", "curl"),
        ("OTEL_TOOL_EXPORTER_HEADERS", "no-equals-sign"),
        ("HUMANLOOP_BASE_URL", "ftp://example.test"),
        ("HUMANLOOP_BASE_URL", "not a url"),
        ("HUMANLOOP_BASE_URL", "http://[::1"),
        ("HUMANLOOP_BASE_URL", "https://api.example.test:99999/v5"),
    ],
)
def test_invalid_environment_value_names_the_variable(var: str, value: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        Settings.resolve({"HUMANLOOP_API_KEY": KEY, var: value})
    assert var in str(info.value)


def test_invalid_argument_names_the_argument() -> None:
    with pytest.raises(ConfigurationError) as info:
        Settings.resolve({"HUMANLOOP_API_KEY": KEY}, max_concurrency=-3)
    assert "max_concurrency" in str(info.value)


def test_unknown_argument_is_refused() -> None:
    with pytest.raises(TypeError, match="max_concurency"):
        Settings.resolve({"HUMANLOOP_API_KEY": KEY}, max_concurency=3)


def test_missing_api_key_names_the_variable() -> None:
    with pytest.raises(ConfigurationError, match="HUMANLOOP_API_KEY"):
        Settings.resolve({})
    with pytest.raises(ConfigurationError, match="HUMANLOOP_API_KEY"):
        Settings.resolve({"HUMANLOOP_BASE_URL": "https://api.example.test/v5"})


def test_missing_api_key_is_a_construction_error_of_the_exporter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUMANLOOP_API_KEY", raising=False)
    monkeypatch.delenv("HUMANLOOP_BASE_URL", raising=False)
    with pytest.raises(ConfigurationError, match="HUMANLOOP_API_KEY"):
        ToolLogExporter()


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8000/v5", "http://localhost:9/v5", "http://[::1]:8000/v5", "http://127.0.0.2/v5"]
)
def test_no_key_needed_for_a_loopback_stub(url: str) -> None:
    settings = Settings.resolve({"HUMANLOOP_BASE_URL": url})
    assert settings.api_key_value  # a placeholder, so the stub's non-empty X-API-KEY check passes
    assert settings.base_url == url


def test_the_exporter_needs_no_key_for_a_loopback_stub(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUMANLOOP_API_KEY", raising=False)
    exporter = ToolLogExporter(base_url="http://127.0.0.1:1/v5")
    exporter.shutdown()


@pytest.mark.parametrize("url", ["http://api.humanloop.com/v5", "http://10.0.0.5/v5", "http://localhost.evil.test/v5"])
def test_plain_http_to_a_remote_host_is_refused(url: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        Settings.resolve({"HUMANLOOP_API_KEY": KEY, "HUMANLOOP_BASE_URL": url})
    message = str(info.value)
    assert "HUMANLOOP_BASE_URL" in message and "OTEL_TOOL_EXPORTER_ALLOW_INSECURE_HTTP" in message
    assert KEY not in message


def test_plain_http_allowed_when_explicitly_asked() -> None:
    env = {"HUMANLOOP_API_KEY": KEY, "OTEL_TOOL_EXPORTER_ALLOW_INSECURE_HTTP": "true"}
    assert Settings.resolve(env, base_url="http://proxy.internal/v5").base_url == "http://proxy.internal/v5"
    assert Settings.resolve({"HUMANLOOP_API_KEY": KEY}, base_url="http://h/v5", allow_insecure_http=True)


def test_errors_never_show_the_key() -> None:
    with pytest.raises(ConfigurationError) as info:
        Settings.resolve({"HUMANLOOP_API_KEY": KEY, "OTEL_TOOL_EXPORTER_MAX_QUEUE": "x"})
    assert KEY not in str(info.value)
    settings = Settings.resolve({"HUMANLOOP_API_KEY": KEY})
    assert KEY not in repr(settings) and KEY not in str(settings)


# ---------------------------------------------------------------- durations, as OpenTelemetry writes them
@pytest.mark.parametrize(
    ("env", "seconds"),
    [
        ({"OTEL_TOOL_EXPORTER_TIMEOUT": "12"}, 12.0),
        ({"OTEL_TOOL_EXPORTER_TIMEOUT": "12s"}, 12.0),
        ({"OTEL_TOOL_EXPORTER_TIMEOUT": "500ms"}, 0.5),
        ({"OTEL_TOOL_EXPORTER_TIMEOUT": "2m"}, 120.0),
        ({"OTEL_TOOL_EXPORTER_TIMEOUT": "10000s"}, 10_000.0),  # a unit says the user means it
        ({"OTEL_TOOL_EXPORTER_TIMEOUT_MS": "10000"}, 10.0),
        ({"OTEL_TOOL_EXPORTER_TIMEOUT_MS": "250"}, 0.25),
    ],
)
def test_durations_accept_units_and_milliseconds_variables(env: dict[str, str], seconds: float) -> None:
    settings, sources = Settings.resolve_with_sources(env, api_key="k")
    assert settings.timeout == seconds
    assert sources["timeout"] == f"environment ({next(iter(env))})"


def test_every_duration_has_a_milliseconds_variable() -> None:
    env = {f"OTEL_TOOL_EXPORTER_{name.upper()}_MS": "1500" for name in DURATION_FIELDS}
    settings = Settings.resolve(env, api_key="k")
    assert {name: getattr(settings, name) for name in DURATION_FIELDS} == dict.fromkeys(DURATION_FIELDS, 1.5)


def test_a_bare_number_implausible_in_seconds_is_refused_with_the_fix() -> None:
    with pytest.raises(ConfigurationError) as info:
        Settings.resolve({"OTEL_TOOL_EXPORTER_TIMEOUT": "10000"}, api_key="k")
    message = str(info.value)
    assert "OTEL_TOOL_EXPORTER_TIMEOUT=10000" in message
    assert "almost 3 hours" in message
    assert "10000ms" in message and "OTEL_TOOL_EXPORTER_TIMEOUT_MS" in message


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"OTEL_TOOL_EXPORTER_TIMEOUT": "soon"}, "OTEL_TOOL_EXPORTER_TIMEOUT"),
        ({"OTEL_TOOL_EXPORTER_TIMEOUT": "5 days"}, "OTEL_TOOL_EXPORTER_TIMEOUT"),
        ({"OTEL_TOOL_EXPORTER_TIMEOUT_MS": "10s"}, "OTEL_TOOL_EXPORTER_TIMEOUT_MS"),
        ({"OTEL_TOOL_EXPORTER_TIMEOUT_MS": "nan"}, "OTEL_TOOL_EXPORTER_TIMEOUT_MS"),
        ({"OTEL_TOOL_EXPORTER_TIMEOUT": "5", "OTEL_TOOL_EXPORTER_TIMEOUT_MS": "5000"}, "both set"),
        ({"OTEL_TOOL_EXPORTER_TIMEOUT_MS": "0"}, "OTEL_TOOL_EXPORTER_TIMEOUT"),  # still must be > 0
    ],
)
def test_bad_durations_name_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigurationError, match=named):
        Settings.resolve(env, api_key="k")


def test_header_values_are_percent_decoded_like_otlp_headers() -> None:
    env = {"OTEL_TOOL_EXPORTER_HEADERS": "X-Team=agents%2Fcore,Authorization=Bearer%20abc%3D%3D, X-Plain = as is"}
    settings = Settings.resolve(env, api_key="k")
    assert settings.headers == {"X-Team": "agents/core", "Authorization": "Bearer abc==", "X-Plain": "as is"}


def test_misspelt_variables_are_named_with_the_likely_intent() -> None:
    env = {
        "OTEL_TOOL_EXPORTER_PATH_PREFX": "agents/",
        "HUMANLOOP_BASEURL": "http://127.0.0.1:8000/v5",
        "HUMANLOOP_PROJECT": "kept: the Humanloop SDK's own variable, not a near miss of ours",
        "OTEL_TOOL_EXPORTER_TIMEOUT_MS": "100",  # a real one
    }
    assert unknown_variables(env) == [
        ("HUMANLOOP_BASEURL", "HUMANLOOP_BASE_URL"),
        ("OTEL_TOOL_EXPORTER_PATH_PREFX", "OTEL_TOOL_EXPORTER_PATH_PREFIX"),
    ]
    # the near miss is no miss when the real variable is set too
    assert ("HUMANLOOP_BASEURL", "HUMANLOOP_BASE_URL") not in unknown_variables({**env, "HUMANLOOP_BASE_URL": "x"})


def test_the_removed_http11_transport_is_refused_naming_the_alternatives() -> None:
    for given in ({"OTEL_TOOL_EXPORTER_TRANSPORT": "http11"}, {}):
        overrides = {} if given else {"transport": "http11"}
        with pytest.raises(ConfigurationError) as caught:
            Settings.resolve({"HUMANLOOP_API_KEY": "k", **given}, **overrides)
        message = str(caught.value)
        assert "'aiohttp'" in message and "'httpx'" in message
        assert ("OTEL_TOOL_EXPORTER_TRANSPORT" if given else "transport") in message
    assert Settings.resolve({"HUMANLOOP_API_KEY": "k"}).transport == "aiohttp"
