"""Secrets out of Logs: key-based redaction, then the user's hook (fail closed)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from otel_tool_exporter._internal.build.values import decode_json, dumps_compact
from otel_tool_exporter.models import ToolLogRequest

__all__ = ["REDACTED", "RedactHook", "RedactHookError", "Redactor", "apply_hook"]

REDACTED = "[REDACTED]"
RedactHook = Callable[[ToolLogRequest], "ToolLogRequest | None"]


def _fold(key: str) -> str:
    """A key in one spelling: lower case, no separators (``accessToken`` = ``access_token`` =
    ``ACCESS-TOKEN`` = ``accesstoken``)."""
    return key.lower().replace("_", "").replace("-", "")


# a quoted key followed by ``:`` or ``=`` and its value (a quoted string, possibly cut off at the
# end of the text, or a bare word): JSON, Python reprs, ``key=value`` lines
_KEY_VALUE = re.compile(
    r"""(?P<q>["'])(?P<key>[^"'\\\n]{1,200})(?P=q)(?P<sep>\s*[:=]\s*)"""
    r"""(?P<value>(?P<vq>["'])(?:\\.|(?!(?P=vq))[^\\])*(?:(?P=vq)|\Z)|[^\s,}\]{\[][^\s,}\]]*)"""
)
# ``key=value`` with a bare key (query strings, log lines)
_BARE_KEY_VALUE = re.compile(r"(?<![\w.\-])(?P<key>[A-Za-z][\w.\-]{0,200})=(?P<value>[^\s&,;\"']+)")
_MAX_TEXT_DEPTH = 4
_MAX_REMEMBERED_KEYS = 10_000
# verdicts of _may_name_secret remembered for texts up to this long, this many of them
_MAX_REMEMBERED_TEXT = 256
_MAX_REMEMBERED_TEXTS = 4096


# letters from the most to the least frequent in English words (keys are mostly such words)
_LETTER_ORDER = "etaoinsrhldcumfpgwybvkxjqz"


def _gated(probes: Iterable[str]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """``probes`` grouped by their rarest letter (any other character counts as rarer still)."""
    groups: dict[str, list[str]] = {}
    for probe in probes:
        gate = max(probe, key=lambda c: _LETTER_ORDER.find(c) if c in _LETTER_ORDER else len(_LETTER_ORDER))
        groups.setdefault(gate, []).append(probe)
    return tuple((gate, tuple(group)) for gate, group in groups.items())


def _contains_any(text: str, gated: tuple[tuple[str, tuple[str, ...]], ...]) -> bool:
    """Whether one of the probes occurs in ``text``. A one-character search runs as ``memchr``,
    many times faster than a word search: a probe is searched for only where its rarest letter
    occurs (most texts lack several of the rare ones)."""
    for gate, probes in gated:
        if gate in text:
            for probe in probes:
                if probe in text:
                    return True
    return False


class Redactor:
    """Replaces values whose key looks like a secret, wherever a value can land in a Log.

    A key matches when its last dotted segment, folded to lower case without ``-``/``_``
    separators, is one of the configured keys (folded alike), ends with one, or contains one of
    six letters or more (other than a ``…token``): ``api_key``, ``OPENAI_API_KEY``, ``apiKey``,
    ``http.request.header.authorization``, ``db_password``, ``accessToken``, ``client-secret``,
    ``PRIVATE_KEY``, ``aws_secret_access_key`` and ``api_key_header`` all match; ``max_tokens``
    does not.

    Values are followed into text too: JSON held in a string (also encoded twice) is decoded,
    redacted and encoded again; text that is not JSON as a whole (a cut-off argument kept raw in
    ``metadata.attributes``, a Python ``repr``, ``stdout`` lines) has the value after each quoted
    secret-looking key replaced.
    """

    def __init__(self, keys: Iterable[str]) -> None:
        self._keys = frozenset(folded for folded in (_fold(k) for k in keys) if folded)
        self._suffixes = tuple(self._keys)
        # long keys are unambiguous anywhere in a key (aws_secret_access_key, api_key_header,
        # password_hash); short ones only at its end (max_tokens is no token)
        self._words = tuple(k for k in self._keys if len(k) >= 6 and not k.endswith("token"))
        # the keys to look for in text: one that contains another is found through it
        self._probes = tuple(k for k in sorted(self._keys) if not any(o != k and o in k for o in self._keys))
        self._gated = _gated(self._probes)
        self._cache: dict[str, bool] = {}
        self._texts: dict[str, bool] = {}
        self._plain: set[str] = set()  # keys judged not secret-looking (those of _cache)

    def is_secret_key(self, key: str) -> bool:
        hit = self._cache.get(key)
        if hit is None:
            segment = _fold(key.rsplit(".", 1)[-1])
            hit = bool(segment) and (
                segment in self._keys
                or segment.endswith(self._suffixes)
                or any(word in segment for word in self._words)
            )
            if len(self._cache) < _MAX_REMEMBERED_KEYS:
                self._cache[key] = hit
                if not hit:
                    self._plain.add(key)
        return hit

    def has_secret(self, value: Any) -> bool:
        """Whether ``scrub`` may change anything: the same walk, without building a copy (most
        Logs hold no secret-looking key, and this runs on every one). Text is looked into only
        when a configured key occurs in it at all."""
        plain = self._plain
        may_name = self._may_name_secret
        stack = [value]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                if not plain.issuperset(item):  # one test in C when every key was judged before
                    for k in item:
                        if self.is_secret_key(str(k)):
                            return True
                values: Iterable[Any] = item.values()
            elif isinstance(item, list):
                values = item
            else:
                if type(item) is str and may_name(item):
                    return True
                continue
            for v in values:
                kind = type(v)
                if kind is str:
                    # the cheap half of _may_name_secret first: most values are short words
                    if (":" in v or "=" in v) and may_name(v):
                        return True
                elif kind is dict or kind is list or isinstance(v, (dict, list)):
                    stack.append(v)
        return False

    def _may_name_secret(self, text: str) -> bool:
        """False when ``text`` cannot hold a secret-looking key: it has no ``:``/``=`` (no key
        and value) or no configured key occurs in it in any spelling. JSON escapes could spell a
        key in other letters: such texts are always looked into. Short texts recur from Log to
        Log (service and scope names, resource values): their verdict is remembered."""
        if len(text) < 4 or (":" not in text and "=" not in text):
            return False
        short = len(text) <= _MAX_REMEMBERED_TEXT
        if short:
            hit = self._texts.get(text)
            if hit is not None:
                return hit
        hit = "\\u" in text or _contains_any(_fold(text), self._gated)
        if short:
            if len(self._texts) >= _MAX_REMEMBERED_TEXTS:
                self._texts.clear()  # texts that change from Log to Log (times, ids) must not crowd out the rest
            self._texts[text] = hit
        return hit

    def scrub(self, value: Any, _depth: int = 0) -> Any:
        if isinstance(value, dict):
            return {k: REDACTED if self.is_secret_key(str(k)) else self.scrub(v, _depth) for k, v in value.items()}
        if isinstance(value, list):
            return [self.scrub(v, _depth) for v in value]
        if type(value) is str:
            return self.scrub_text(value, _depth)
        return value

    def scrub_text(self, text: str, _depth: int = 0) -> str:
        """``text`` with secrets replaced; the same text when there is nothing to replace."""
        if _depth >= _MAX_TEXT_DEPTH or not self._may_name_secret(text):
            return text
        stripped = text.lstrip()
        if stripped[:1] in ("{", "[", '"'):
            decoded = decode_json(text, max_depth=1)
            if decoded is not text and isinstance(decoded, (dict, list, str)):
                scrubbed = self.scrub(decoded, _depth + 1)
                return text if scrubbed == decoded else dumps_compact(scrubbed)
        text = _KEY_VALUE.sub(self._replace_quoted, text)
        return _BARE_KEY_VALUE.sub(self._replace_bare, text) if "=" in text else text

    def _replace_quoted(self, match: re.Match[str]) -> str:
        if not self.is_secret_key(match.group("key")):
            return match.group(0)
        quote = match.group("vq") or match.group("q")
        return f"{match.group('q')}{match.group('key')}{match.group('q')}{match.group('sep')}{quote}{REDACTED}{quote}"

    def _replace_bare(self, match: re.Match[str]) -> str:
        return f"{match.group('key')}={REDACTED}" if self.is_secret_key(match.group("key")) else match.group(0)

    def apply(self, request: ToolLogRequest) -> None:
        """Redact in place: inputs, output, stdout, error, metadata (with the raw attribute
        copies), provider payloads."""
        if not self._keys:
            return
        for name in ("inputs", "metadata", "provider_request", "provider_response"):
            value = getattr(request, name)
            if value and self.has_secret(value):
                setattr(request, name, self.scrub(value))
        for name in ("output", "stdout", "error"):
            text = getattr(request, name)
            if text:
                scrubbed = self.scrub_text(text)
                if scrubbed is not text:  # the model's __setattr__ is not free: only on a change
                    setattr(request, name, scrubbed)


class RedactHookError(Exception):
    """The user's hook returned something that cannot be sent: the Log is dropped (fail closed)."""


def apply_hook(hook: RedactHook, request: ToolLogRequest) -> ToolLogRequest | None:
    """Run the user's ``redact(request) -> request | None`` hook and check what it returned.

    ``None`` drops the Log. Anything that is not a valid ``ToolLogRequest`` raises
    :class:`RedactHookError` (the caller drops and counts the Log: a hook that went wrong must not
    let unredacted or malformed data through). The ``metadata.otel`` ids that identify a Log and
    its retried duplicates are put back if the hook removed them.
    """
    otel = request.metadata.get("otel") if isinstance(request.metadata, dict) else None
    result = hook(request)
    if result is None:
        return None
    if not isinstance(result, ToolLogRequest):
        raise RedactHookError(f"redact hook returned {type(result).__name__}, not ToolLogRequest or None")
    try:
        # warnings=False: a wrongly typed field is the validation error below, not a UserWarning
        # from pydantic's serializer in the application's output
        checked = ToolLogRequest.model_validate(result.model_dump(mode="json", exclude_none=True, warnings=False))
    except Exception as exc:
        raise RedactHookError(f"redact hook returned an invalid request: {type(exc).__name__}") from None
    if otel is not None:
        metadata = checked.metadata if isinstance(checked.metadata, dict) else {}
        if not isinstance(metadata.get("otel"), dict):
            metadata["otel"] = otel
        checked.metadata = metadata
    return checked
