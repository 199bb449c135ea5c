"""Every setting of the exporter in one model: constructor argument > environment > default.

Environment names: ``HUMANLOOP_API_KEY`` and ``HUMANLOOP_BASE_URL`` (the Humanloop ecosystem's own
names), ``OTEL_TOOL_EXPORTER_<NAME>`` for everything else; durations also as
``OTEL_TOOL_EXPORTER_<NAME>_MS`` in milliseconds, OpenTelemetry's own unit.
"""

from __future__ import annotations

import difflib
import ipaddress
import math
import os
import re
import ssl
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_serializer, field_validator

from otel_tool_exporter._internal import log

__all__ = [
    "DEFAULT_BASE_URL",
    "DURATION_FIELDS",
    "ConfigurationError",
    "Settings",
    "env_name",
    "is_loopback_url",
    "parse_env_value",
    "unknown_variables",
]

DEFAULT_BASE_URL = "https://api.humanloop.com/v5"
STUB_API_KEY = "local-stub"

DEFAULT_REDACT_KEYS = (
    "api_key",
    "apikey",
    "api-key",
    "x-api-key",
    "authorization",
    "password",
    "passwd",
    "secret",
    "client_secret",
    "token",
    "access_token",
    "refresh_token",
    "cookie",
    "set-cookie",
    "private_key",
    "credentials",
)


_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # an HTTP header name


def _is_header_value(value: str) -> bool:
    """Printable ASCII and tabs only: no CR/LF (which would end the header and start another)."""
    return all(ch == "\t" or " " <= ch <= "~" for ch in value)


class ConfigurationError(ValueError):
    """A setting is missing or invalid; the message names the environment variable."""


class Settings(BaseModel):
    """All options. Field descriptions double as the README's configuration table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    api_key: SecretStr | None = Field(None, description="Humanloop API key (sent as `X-API-KEY`).")
    base_url: str = Field(DEFAULT_BASE_URL, description="API base URL; `POST {base_url}/tools/log`.")
    path_prefix: str = Field("", description="Prefix for Tool paths: `{path_prefix}{tool name}`, e.g. `agents/`.")
    version_id: str | None = Field(None, description="Query `version_id`: log to this Tool version.")
    environment: str | None = Field(None, description="Query `environment`: log to the version deployed there.")
    save: bool | None = Field(None, description="Body `save` for every Log (unset: server default).")
    max_parent_wait: float = Field(
        300.0, gt=0, description="Seconds a child waits for its parent's Log id before it is sent unresolved."
    )
    max_pending: int = Field(
        10_000, ge=1, description="Children that may wait for a parent at once; beyond it they are sent unresolved."
    )
    max_concurrency: int = Field(
        64, ge=1, le=1024, description="Upper bound of requests in flight (adaptive below it)."
    )
    max_queue: int = Field(
        100_000,
        ge=1,
        description="Spans held in memory awaiting processing; beyond it spill to the spool or count a drop.",
    )
    max_field_bytes: int = Field(
        262_144, ge=1024, description="Cap per value field (inputs, output, error, stdout, metadata, …) in bytes."
    )
    max_elapsed: float = Field(300.0, gt=0, description="Seconds to keep retrying one Log before it fails for good.")
    max_retry_after: float = Field(120.0, gt=0, description="Upper bound honoured for a server's `Retry-After`.")
    timeout: float = Field(30.0, gt=0, description="Seconds for one HTTP request (whole exchange).")
    connect_timeout: float = Field(10.0, gt=0, description="Seconds to open a connection.")
    shutdown_timeout: float = Field(
        10.0, gt=0, description="Seconds `shutdown()` may take: flush, send waiting children unresolved, close."
    )
    spool_dir: str | None = Field(None, description="Directory of the durable SQLite spool (off when unset).")
    trace_ttl: float = Field(900.0, gt=0, description="Seconds a trace's ancestry is kept after its last span.")
    max_tracked_spans: int = Field(200_000, ge=100, description="Global cap on spans remembered for ancestry.")
    allow_insecure_http: bool = Field(False, description="Allow `http://` base URLs to non-loopback hosts.")
    transport: Literal["aiohttp", "httpx"] = Field(
        "aiohttp", description="HTTP library that delivers: `aiohttp` (default) or `httpx` (see README: HTTP)."
    )
    ca_file: str | None = Field(
        None,
        description="PEM file of the CAs to trust for the API's certificate, instead of the system's "
        "(which honours `SSL_CERT_FILE`).",
    )
    headers: dict[str, str] = Field(
        default_factory=dict, description="Extra request headers, env form `k=v,k2=v2` (values masked in `repr`)."
    )
    redact_keys: tuple[str, ...] = Field(
        DEFAULT_REDACT_KEYS, description="Keys whose values are replaced by `[REDACTED]` (comma-separated)."
    )

    @field_validator("transport", mode="before")
    @classmethod
    def _known_transport(cls, value: Any) -> Any:
        if value == "http11":
            raise ValueError("the built-in HTTP/1.1 client was removed: use 'aiohttp' (the default) or 'httpx'")
        return value

    @field_validator("api_key")
    @classmethod
    def _key_is_one_header_value(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _is_header_value(value.get_secret_value()):
            raise ValueError("must be printable ASCII without line breaks or control characters (value not shown)")
        return value

    @field_validator("headers")
    @classmethod
    def _headers_are_headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, item in value.items():
            if not _TOKEN.fullmatch(name):
                raise ValueError(f"header name {name!r} is not a valid HTTP header name")
            if not _is_header_value(item):
                raise ValueError(
                    f"the value of header {name!r} has a line break or another control character (or is not "
                    "ASCII): refused, it would let one header write others"
                )
        return value

    @field_serializer("headers")
    def _masked_headers(self, value: dict[str, str]) -> dict[str, str]:
        return {name: "***" for name in value}

    def __repr__(self) -> str:  # the key is a SecretStr, header values are masked (_masked_headers)
        shown = ", ".join(f"{k}={v!r}" for k, v in self.model_dump(exclude={"api_key"}).items())
        return f"Settings(api_key={'***' if self.api_key else None}, {shown})"

    __str__ = __repr__

    def __repr_args__(self) -> Any:  # what rich and pydantic's own printers show
        yield from self.model_dump(exclude={"api_key"}).items()

    @property
    def api_key_value(self) -> str:
        return self.api_key.get_secret_value() if self.api_key else ""

    @property
    def log_url(self) -> str:
        return self.base_url.rstrip("/") + "/tools/log"

    @classmethod
    def resolve(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Merge arguments (``None`` means 'not given') over the environment over defaults."""
        settings, _ = cls.resolve_with_sources(environ, **overrides)
        return settings

    @classmethod
    def resolve_with_sources(
        cls, environ: Mapping[str, str] | None = None, *, warn_unknown: bool = True, **overrides: Any
    ) -> tuple[Settings, dict[str, str]]:
        """As :meth:`resolve`, plus where each value came from. ``warn_unknown=False`` leaves the
        misspelt-variable warning to the caller (``doctor`` lists them with its other problems)."""
        env = os.environ if environ is None else environ
        unknown = set(overrides) - set(cls.model_fields)
        if unknown:
            raise TypeError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}
        for name in cls.model_fields:
            given = overrides.get(name)
            if given is not None:
                values[name] = given
                sources[name] = "argument"
                continue
            found = _from_environment(name, env)
            if found is not None:
                var, values[name] = found
                sources[name] = f"environment ({var})"
            else:
                sources[name] = "default"
        if warn_unknown:
            _warn_unknown_variables(env)
        try:
            settings = cls(**values)
        except ValidationError as exc:
            raise ConfigurationError(_describe(exc, sources)) from None
        settings._check_url(sources)
        settings._check_tls_and_proxy(env, sources)
        if settings.api_key is None:
            if is_loopback_url(settings.base_url):
                settings = settings.model_copy(update={"api_key": SecretStr(STUB_API_KEY)})
                sources["api_key"] = "default (loopback base URL: local stub)"
            else:
                raise ConfigurationError(
                    "HUMANLOOP_API_KEY is not set: pass api_key=... or set the HUMANLOOP_API_KEY "
                    "environment variable (not needed when base_url points at the local stub)"
                )
        return settings, sources

    def _check_url(self, sources: Mapping[str, str]) -> None:
        where = _where("base_url", sources)
        try:
            parts = urlsplit(self.base_url)
            parts.port  # noqa: B018 - parsing the port is what raises for 'host:99999' or 'host:x'
        except ValueError as exc:
            raise ConfigurationError(f"{where}: {self.base_url!r} is not a valid URL ({exc})") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationError(f"{where}: {self.base_url!r} is not an http(s) URL")
        if parts.scheme == "http" and not is_loopback_url(self.base_url) and not self.allow_insecure_http:
            raise ConfigurationError(
                f"{where}: refusing plain http:// to non-loopback host {parts.hostname!r} (the API key "
                f"would travel unencrypted); use https:// or set {env_name('allow_insecure_http')}=true"
            )

    def _check_tls_and_proxy(self, env: Mapping[str, str], sources: Mapping[str, str]) -> None:
        if self.ca_file:
            try:
                ssl.create_default_context(cafile=self.ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigurationError(
                    f"{_where('ca_file', sources)}: cannot read CA certificates from {self.ca_file!r} ({exc})"
                ) from None
        from otel_tool_exporter._internal.delivery.transports import proxy_for

        try:
            proxy_for(self.base_url, env)
        except ValueError as exc:
            raise ConfigurationError(f"proxy for {self.base_url}: {exc}") from None


def env_name(field: str) -> str:
    if field == "api_key":
        return "HUMANLOOP_API_KEY"
    if field == "base_url":
        return "HUMANLOOP_BASE_URL"
    return "OTEL_TOOL_EXPORTER_" + field.upper()


def is_loopback_url(url: str) -> bool:
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return False
    return is_loopback_host(host)


def is_loopback_host(host: str) -> bool:
    """``host`` (a name or an address, IPv6 with or without brackets) only reaches this machine."""
    host = host.strip().strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# Settings that are durations: seconds as arguments; in the environment seconds or a unit suffix
# on the plain variable, or milliseconds in a ``_MS`` variable (OpenTelemetry's own unit).
DURATION_FIELDS = frozenset(
    {"max_parent_wait", "max_elapsed", "max_retry_after", "timeout", "connect_timeout", "shutdown_timeout", "trace_ttl"}
)
# a bare number of seconds beyond this is more likely milliseconds written in the wrong variable
_PLAUSIBLE_SECONDS = {
    "timeout": 600.0,
    "connect_timeout": 600.0,
    "shutdown_timeout": 600.0,
    "max_retry_after": 3600.0,
    "max_elapsed": 86_400.0,
    "max_parent_wait": 86_400.0,
    "trace_ttl": 7 * 86_400.0,
}
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION = re.compile(r"(?P<number>[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*(?P<unit>ms|s|m|h)?")


def _from_environment(name: str, env: Mapping[str, str]) -> tuple[str, Any] | None:
    """``(variable, parsed value)`` for a setting set in the environment, else ``None``."""
    var = env_name(name)
    raw = env.get(var, "").strip()
    if name not in DURATION_FIELDS:
        return (var, parse_env_value(name, raw, var)) if raw else None
    ms_var = var + "_MS"
    raw_ms = env.get(ms_var, "").strip()
    if raw and raw_ms:
        raise ConfigurationError(f"{var} and {ms_var} are both set: keep one of them")
    if raw_ms:
        return ms_var, _number(raw_ms, ms_var) / 1000.0
    return (var, parse_env_value(name, raw, var)) if raw else None


def _number(raw: str, var: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"{var}={raw!r}: expected a number of milliseconds, e.g. {var}=10000") from None
    if not math.isfinite(value):
        raise ConfigurationError(f"{var}={raw!r}: expected a finite number of milliseconds")
    return value


def _human(seconds: float) -> str:
    """``10000`` → ``almost 3 hours``: the size of a duration at a glance."""
    for unit, size in (("day", 86_400.0), ("hour", 3600.0), ("minute", 60.0)):
        if seconds >= size:
            exact = seconds / size
            whole = max(1, round(exact))
            qualifier = "almost " if whole > exact else "over " if whole < exact else ""
            return f"{qualifier}{whole} {unit}{'s' if whole != 1 else ''}"
    return f"{seconds:g} seconds"


def parse_duration(name: str, raw: str, var: str | None = None) -> float:
    """Seconds from ``10``, ``10s``, ``500ms``, ``2m`` or ``1h``. A bare number is seconds, and
    refused when implausibly large for the setting (most likely milliseconds in the wrong variable)."""
    var = var or env_name(name)
    match = _DURATION.fullmatch(raw.strip())
    if match is None:
        raise ConfigurationError(
            f"{var}={raw!r}: expected a duration such as 30 (seconds), 30s, 500ms or 2m, "
            f"or milliseconds in {env_name(name)}_MS"
        )
    value = float(match["number"])
    unit = match["unit"]
    if unit is None and value > _PLAUSIBLE_SECONDS.get(name, math.inf):
        shown = match["number"]
        raise ConfigurationError(
            f"{var}={raw}: {shown} s is {_human(value)}; "
            f"did you mean {shown}ms or {env_name(name)}_MS={shown}? (write {shown}s if you meant seconds)"
        )
    return value * _UNITS[unit or "s"]


def parse_env_value(name: str, raw: str, var: str | None = None) -> Any:
    """A setting's value from its environment form: ``k=v,k2=v2`` (percent-decoded, as
    ``OTEL_EXPORTER_OTLP_HEADERS``) for headers, a comma-separated list for redact keys, a
    duration for the time settings; other text is left to the model's own validation."""
    raw = raw.strip()
    var = var or env_name(name)
    if name == "headers":
        out: dict[str, str] = {}
        for pair in (p for p in raw.split(",") if p.strip()):
            key, sep, value = pair.partition("=")
            if not sep or not key.strip():
                raise ConfigurationError(f"{var}: expected k=v pairs separated by commas, got {pair!r}")
            out[unquote(key).strip()] = unquote(value).strip()
        return out
    if name == "redact_keys":
        return tuple(k.strip().lower() for k in raw.split(",") if k.strip())
    if name in DURATION_FIELDS:
        return parse_duration(name, raw, var)
    return raw


_warned: set[str] = set()
# read elsewhere, not settings of the exporter: never "unknown"
_OTHER_VARIABLES = frozenset({"OTEL_TOOL_EXPORTER_AUTH_TOKEN"})  # `serve --auth-token`
# the Humanloop ecosystem's own variables (its SDK reads more): only a near-miss of ours is suspect
_HUMANLOOP_CUTOFF = 0.85


def known_variables() -> list[str]:
    names = [env_name(name) for name in Settings.model_fields]
    names += [env_name(name) + "_MS" for name in sorted(DURATION_FIELDS)]
    return sorted(names)


def unknown_variables(env: Mapping[str, str] | None = None) -> list[tuple[str, str | None]]:
    """Variables that look like settings but are none: ``(name, the setting it is closest to)``.

    Every ``OTEL_TOOL_EXPORTER_*`` name that is not a setting; a ``HUMANLOOP_*`` name only when it
    is a near miss of ``HUMANLOOP_API_KEY`` / ``HUMANLOOP_BASE_URL`` that is itself not set."""
    env = os.environ if env is None else env
    known = known_variables()
    ours = {env_name("api_key"), env_name("base_url")}
    found: list[tuple[str, str | None]] = []
    for var in sorted(env):
        if var in known or var in _OTHER_VARIABLES:
            continue
        if var.startswith("OTEL_TOOL_EXPORTER_"):
            close = difflib.get_close_matches(var, known, n=1)
            found.append((var, close[0] if close else None))
        elif var.startswith("HUMANLOOP"):
            close = difflib.get_close_matches(var, sorted(ours), n=1, cutoff=_HUMANLOOP_CUTOFF)
            if close and not env.get(close[0], "").strip():
                found.append((var, close[0]))
    return found


def describe_unknown(var: str, close: str | None) -> str:
    hint = f" (did you mean {close}?)" if close else ""
    return f"unknown setting {var} ignored{hint}"


def _warn_unknown_variables(env: Mapping[str, str]) -> None:
    """A misspelt variable would silently do nothing: say so, once per name (a warning, not an
    error, so a variable of a newer release does not break an older one)."""
    for var, close in unknown_variables(env):
        if var not in _warned:
            _warned.add(var)
            log.warning("%s", describe_unknown(var, close))


def _where(field: str, sources: Mapping[str, str]) -> str:
    source = sources.get(field, "default")
    return env_name(field) if source.startswith("environment") else field


def _describe(exc: ValidationError, sources: Mapping[str, str]) -> str:
    problems = []
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else "?"
        shown = "" if field == "api_key" else f" (got {err.get('input')!r})"
        problems.append(f"{_where(field, sources)}: {err['msg']}{shown}")
    return "invalid configuration: " + "; ".join(problems)
