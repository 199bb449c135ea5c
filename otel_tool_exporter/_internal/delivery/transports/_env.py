"""What the environment says about reaching an origin: its proxy, its ``~/.netrc`` login, the CA.

Every shipped transport asks these same functions, so ``HTTPS_PROXY``, ``HTTP_PROXY``,
``ALL_PROXY``, ``NO_PROXY``, ``~/.netrc`` and ``SSL_CERT_FILE`` mean the same whichever library
delivers. The answer is looked up once per origin (scheme, host, port) and kept: reading the
variables and ``~/.netrc`` for every request cost more CPU than the request itself (aiohttp's
own ``trust_env`` does exactly that, on executor threads).
"""

from __future__ import annotations

import base64
import hashlib
import netrc
import os
import ssl
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

_bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]  # NO_PROXY rules

__all__ = ["PROXY_SCHEMES", "Route", "RouteCache", "proxy_for", "ssl_context"]

PROXY_SCHEMES = ("http",)  # what both aiohttp and httpx can speak to a proxy, with CONNECT for https
_MAX_ORIGINS = 64


@dataclass(frozen=True, slots=True)
class Route:
    """How to reach one origin: through ``proxy`` (``None``: directly), with the ``Authorization``
    header ``~/.netrc`` names for the host, if any."""

    proxy: str | None
    netrc_authorization: str | None


def proxy_for(url: str, environ: Mapping[str, str] | None = None) -> tuple[str | None, str]:
    """The proxy the environment names for ``url`` and the variable that named it.

    ``HTTPS_PROXY`` for https, ``HTTP_PROXY`` for http, else ``ALL_PROXY`` (as curl reads them);
    ``NO_PROXY`` exempts hosts. Raises ``ValueError`` for a proxy neither library can use (for
    example ``socks5://``), naming the variable: traffic must never go direct while a proxy is set.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    proxies = _proxies(os.environ if environ is None else environ)
    bypass = bool(host) and bool(_bypass(host, proxies))
    scheme = parts.scheme.lower()
    for key in (scheme, "all"):
        proxy = proxies.get(key)
        if proxy:
            variable = f"{key.upper()}_PROXY"
            break
    else:
        return None, ""
    if bypass:
        return None, ""
    proxy_scheme = urlsplit(proxy if "://" in proxy else f"http://{proxy}").scheme.lower()
    if proxy_scheme not in PROXY_SCHEMES:
        raise ValueError(
            f"{variable}={_without_password(proxy)!r}: a {proxy_scheme}:// proxy is not supported (only "
            f"http:// proxies, which tunnel https with CONNECT); unset it or exempt {host} with NO_PROXY"
        )
    return (proxy if "://" in proxy else f"http://{proxy}"), variable


def _proxies(environ: Mapping[str, str]) -> dict[str, str]:
    """``{"https": ..., "all": ..., "no": ...}`` from ``*_proxy`` variables; lower case wins, as in urllib."""
    found: dict[str, str] = {}
    for name in sorted(environ, key=lambda n: n.islower()):  # upper case first, lower case overrides
        value = environ[name]
        if value and name.lower().endswith("_proxy"):
            found[name.lower()[:-6]] = value
    if "REQUEST_METHOD" in environ:  # under CGI, HTTP_PROXY is a request header (httpoxy), not ours
        found.pop("http", None)
    return found


def _without_password(proxy: str) -> str:
    parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    if parts.password is None:
        return proxy
    return proxy.replace(f":{parts.password}@", ":***@", 1)


def _netrc_authorization(host: str) -> str | None:
    path = os.environ.get("NETRC") or os.path.expanduser("~/.netrc")
    try:
        found = netrc.netrc(path).authenticators(host)
    except (OSError, netrc.NetrcParseError):
        return None
    if not found:
        return None
    login, _, password = found
    return "Basic " + base64.b64encode(f"{login}:{password or ''}".encode()).decode("ascii")


class RouteCache:
    """``route(url)``: the explicit ``proxy`` when given, else (with ``trust_env``) what the
    environment says; computed once per origin."""

    def __init__(self, *, proxy: str | None = None, trust_env: bool = True) -> None:
        self._proxy = proxy
        self._trust_env = trust_env
        self._routes: dict[tuple[str, str, int | None], Route] = {}
        self._by_url: dict[str, Route] = {}

    def route(self, url: str) -> Route:
        found = self._by_url.get(url)  # delivery posts to one URL: no parsing per request
        if found is not None:
            return found
        parts = urlsplit(url)
        origin = (parts.scheme, parts.hostname or "", parts.port)
        found = self._routes.get(origin)
        if found is not None:
            return found
        proxy = self._proxy
        authorization = None
        if self._trust_env:
            if proxy is None:
                proxy, _ = proxy_for(url)
            authorization = _netrc_authorization(parts.hostname or "")
        found = Route(proxy, authorization)
        if len(self._routes) < _MAX_ORIGINS:
            self._routes[origin] = found
            self._by_url[url] = found
        return found


def ssl_context(ca_file: str | None = None) -> ssl.SSLContext:
    """Verification on, always. ``ca_file`` replaces the system's CAs; without it the system's
    store is used, which honours ``SSL_CERT_FILE`` and ``SSL_CERT_DIR``.

    Loading a CA store takes tens of milliseconds, so a context is shared by every transport
    asking for the same CAs: the same ``ca_file`` (or ``SSL_CERT_FILE`` and ``SSL_CERT_DIR``),
    with the same contents (a file's digest, a directory's modification time)."""
    key = (ca_file or None, *_ca_source(ca_file))
    known = _CONTEXTS.get(key)
    if known is not None:
        return known
    context = ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()
    if len(_CONTEXTS) >= _MAX_CONTEXTS:
        _CONTEXTS.clear()
    _CONTEXTS[key] = context
    return context


_CONTEXTS: dict[tuple[object, ...], ssl.SSLContext] = {}
_MAX_CONTEXTS = 8


def _ca_source(ca_file: str | None) -> tuple[object, ...]:
    """What the CAs of a context are read from, as it stands now: each file's path and digest
    (a certificate bundle is small), the directory's path and modification time."""
    files = (ca_file,) if ca_file else (os.environ.get("SSL_CERT_FILE"),)
    found: list[object] = []
    for path in files:
        try:
            with open(path, "rb") as f:  # type: ignore[arg-type]
                digest: object = hashlib.sha256(f.read()).digest()
        except (OSError, TypeError, ValueError):
            digest = None
        found += (path, digest)
    if not ca_file:
        directory = os.environ.get("SSL_CERT_DIR")
        try:
            stamp: object = os.stat(directory).st_mtime_ns if directory else None
        except OSError:
            stamp = None
        found += (directory, stamp)
    return tuple(found)
