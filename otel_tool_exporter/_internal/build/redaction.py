"""Secrets out of Logs: key-based redaction, then the user's hook (fail closed)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from otel_tool_exporter._internal.build.values import decode_json, dumps_compact
from otel_tool_exporter.models import ToolLogRequest

__all__ = ["REDACTED", "RedactHook", "RedactHookError", "Redactor", "apply_hook"]

REDACTED = "[REDACTED]"
RedactHook = Callable[[ToolLogRequest], "ToolLogRequest | None"]


class Redactor:
    """Replaces values whose key looks like a secret, at any depth of the value fields.

    A key matches when its last dotted segment (lower-cased, ``-`` read as ``_``) is one of the
    configured keys or ends with ``_<key>``: ``api_key``, ``OPENAI_API_KEY``,
    ``http.request.header.authorization`` and ``db_password`` all match; ``max_tokens`` does not.
    """

    def __init__(self, keys: Iterable[str]) -> None:
        self._keys = frozenset(k.lower().replace("-", "_") for k in keys)
        self._suffixes = tuple("_" + k for k in self._keys)
        self._cache: dict[str, bool] = {}

    def is_secret_key(self, key: str) -> bool:
        hit = self._cache.get(key)
        if hit is None:
            segment = key.rsplit(".", 1)[-1].lower().replace("-", "_")
            hit = segment in self._keys or segment.endswith(self._suffixes)
            if len(self._cache) < 10_000:
                self._cache[key] = hit
        return hit

    def has_secret(self, value: Any) -> bool:
        """Whether ``scrub`` would change anything: the same walk, without building a copy (most
        Logs hold no secret-looking key, and this runs on every one)."""
        cache = self._cache
        stack = [value]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                for k, v in item.items():
                    hit = cache.get(k) if type(k) is str else None
                    if hit or (hit is None and self.is_secret_key(str(k))):
                        return True
                    if isinstance(v, (dict, list)):
                        stack.append(v)
            elif isinstance(item, list):
                stack.extend(v for v in item if isinstance(v, (dict, list)))
        return False

    def _may_name_secret(self, text: str) -> bool:
        """False only when no configured key occurs in ``text`` at all, so its JSON cannot hold a
        secret-looking key (JSON escapes could spell a key in other letters: those texts are
        always decoded)."""
        if "\\u" in text:
            return True
        folded = text.lower().replace("-", "_")
        return any(key in folded for key in self._keys)

    def scrub(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: REDACTED if self.is_secret_key(str(k)) else self.scrub(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.scrub(v) for v in value]
        return value

    def _scrub_text(self, text: str) -> str:
        stripped = text.lstrip()
        if not stripped or stripped[0] not in "{[" or not self._may_name_secret(text):
            return text
        decoded = decode_json(text, max_depth=1)
        if not isinstance(decoded, (dict, list)):
            return text
        scrubbed = self.scrub(decoded)
        return text if scrubbed == decoded else dumps_compact(scrubbed)

    def apply(self, request: ToolLogRequest) -> None:
        """Redact in place: inputs, output (when it is JSON), metadata, provider payloads."""
        if not self._keys:
            return
        for name in ("inputs", "metadata", "provider_request", "provider_response"):
            value = getattr(request, name)
            if value and self.has_secret(value):
                setattr(request, name, self.scrub(value))
        if request.output:
            request.output = self._scrub_text(request.output)


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
