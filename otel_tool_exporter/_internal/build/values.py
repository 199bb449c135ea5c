"""Turning attribute values into JSON-safe Python values, and back into compact JSON text.

Attribute values come from other people's code: JSON in a string (sometimes twice), truncated
JSON, NaN, bytes, lone surrogates. Everything here is total: it returns a value, never raises.
"""

from __future__ import annotations

import ast
import json
import math
import os
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import pydantic_core

__all__ = [
    "MISSING",
    "SCALARS",
    "canonical",
    "decode_json",
    "dumps_compact",
    "is_cut_json",
    "json_safe",
    "python_literal",
    "salvage_json",
    "whole_json",
]


class _Missing:
    """Marks 'not recorded' as distinct from a recorded ``None``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()

_MAX_DEPTH = 64


def _clean_str(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "replace").decode("utf-8")
    return value


_AS_THEY_ARE = frozenset((int, bool, type(None)))


def json_safe(value: Any, _depth: int = 0) -> Any:
    """A copy of ``value`` that ``json.dumps(allow_nan=False)`` accepts and any server can read.

    Non-finite floats and bytes become strings, lone surrogates are replaced, tuples become
    lists, non-string keys become strings, anything exotic becomes its ``str``; nesting beyond
    64 levels is cut to a string.
    """
    kind = type(value)  # exact-type fast paths first: this runs on every attribute of every tool span
    if kind is str:
        return value if value.isascii() else _clean_str(value)
    if value is None or kind is int or kind is bool:
        return value
    if kind is float:
        return value if math.isfinite(value) else str(value)
    if _depth < _MAX_DEPTH:
        # members that are already safe (ASCII text, ints, None) are taken without a call
        if kind is dict:
            return {
                k if type(k) is str and k.isascii() else _clean_str(str(k)): v
                if (type(v) is str and v.isascii()) or type(v) in _AS_THEY_ARE
                else json_safe(v, _depth + 1)
                for k, v in value.items()
            }
        if kind is list or kind is tuple:
            return [
                v if (type(v) is str and v.isascii()) or type(v) in _AS_THEY_ARE else json_safe(v, _depth + 1)
                for v in value
            ]
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, str):
        return _clean_str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if _depth >= _MAX_DEPTH:
        return _clean_str(str(value)[:1000])
    if isinstance(value, Mapping):
        return {_clean_str(str(k)): json_safe(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [json_safe(v, _depth + 1) for v in value]
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "replace")
    try:
        return _clean_str(str(value))
    except Exception:
        return f"<unprintable {type(value).__name__}>"


def decode_json(value: Any, *, max_depth: int = 3) -> Any:
    """Decode JSON carried in a string, repeatedly (values are sometimes encoded twice).

    Non-strings are returned as they are; text that is not JSON is returned unchanged, except a
    Python literal container (``"{'id': 42}"``, the ``str()`` of a dict that many instrumentations
    record), which is read as the data it spells (:func:`python_literal`). Only strings that look
    like JSON documents are tried, so plain text never pays for a parse.
    """
    if not isinstance(value, str):
        return value  # the usual call on an already decoded value: no loop
    if max_depth > 0:
        whole = whole_json(value)
        if whole is not MISSING:
            return whole
    return _decode_text(value, max_depth)


def _decode_text(value: str, max_depth: int) -> Any:
    """:func:`decode_json` for text, step by step."""
    for _ in range(max_depth):
        if not isinstance(value, str):
            return value
        text = value.strip()
        if not text or (text[0] not in '{["(' and text not in ("null", "true", "false") and not _numberish(text)):
            return value
        try:
            decoded = _loads(text)
        except (ValueError, RecursionError):
            literal = python_literal(text)
            return value if literal is MISSING else literal
        if type(decoded) in (int, float) and dumps_compact(decoded) != text:
            return value  # "1.50", "1e5", "-0": a number written so is text; reading it would change it
        value = decoded
    return value


_MAX_LITERAL_CHARS = 100_000
_MAX_LITERAL_DEPTH = 32
_OPENERS = frozenset("([{")
_CLOSERS_SET = frozenset(")]}")


def python_literal(text: str) -> Any:
    """A Python literal container (dict, list, tuple, set) written as text, as the data it is;
    ``MISSING`` for anything else. ``ast.literal_eval`` reads literals only (never evaluates code);
    the text is bounded in size and nesting before it is parsed. Tuples and sets become lists."""
    text = text.strip()
    if not text or text[0] not in _OPENERS or len(text) > _MAX_LITERAL_CHARS:
        return MISSING
    depth = deepest = 0
    for char in text:  # brackets inside strings count too: an over-estimate, so on the safe side
        if char in _OPENERS:
            depth += 1
            deepest = max(deepest, depth)
        elif char in _CLOSERS_SET:
            depth -= 1
    if deepest > _MAX_LITERAL_DEPTH:
        return MISSING
    try:
        value = ast.literal_eval(text)
    except Exception:  # SyntaxError, ValueError (not a literal, too many digits), MemoryError, …
        return MISSING
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    return value if isinstance(value, (dict, list)) else MISSING


def whole_json(text: str) -> Any:
    """``text`` as the object or array it is when it is exactly one JSON object or array, with
    nothing around it, that pydantic-core's parser reads; else ``MISSING``. What
    :func:`decode_json` gives for such text, in one step (most JSON attributes are one)."""
    if text[:1] not in ("{", "["):
        return MISSING  # text that is a JSON string or number: the steps decide what it is
    try:
        return pydantic_core.from_json(text)
    except (ValueError, TypeError):
        return MISSING  # the steps decide (json.loads, a Python literal, or text as it is)


def _loads(text: str) -> Any:
    """``json.loads``, in Rust (pydantic-core's parser, twice as fast) where it agrees: it refuses
    lone-surrogate escapes and nesting beyond ~200 levels, which ``json.loads`` then reads (and
    text holding a lone surrogate itself, which it cannot take at all)."""
    try:
        return pydantic_core.from_json(text)
    except (ValueError, TypeError):
        return json.loads(text)


def _numberish(text: str) -> bool:
    first = text[0]
    return first.isdigit() or (first == "-" and len(text) > 1 and text[1].isdigit())


def dumps_compact(value: Any) -> str:
    """Compact JSON text of a value (non-ASCII kept readable), never failing.

    pydantic-core's serializer (four times ``json.dumps``) takes JSON-native values; anything it
    would spell differently from :func:`json_safe` — NaN/Infinity, lone surrogates, invalid bytes,
    types it does not know, deep nesting — takes the careful walk instead."""
    try:
        data = pydantic_core.to_json(value, inf_nan_mode="constants", fallback=_refuse)
    except (ValueError, TypeError, RecursionError):
        pass
    else:
        text = data.decode()
        # NaN/Infinity: a one-letter search (memchr) first, the word only where the letter is
        if ("N" not in text or "NaN" not in text) and ("I" not in text or "Infinity" not in text):
            return text
    return json.dumps(json_safe(value), separators=(",", ":"), ensure_ascii=False)


def _refuse(value: Any) -> Any:
    raise TypeError(type(value).__name__)


def canonical(value: Any) -> Any:
    """Same content with every mapping's keys sorted, so equal things serialise identically."""
    kind = type(value)  # JSON's own types first: an isinstance test against Mapping is slow
    if kind in SCALARS:
        return value
    if kind is dict or isinstance(value, Mapping):
        ordered = {}
        for key in sorted(value, key=str):
            member = value[key]
            ordered[key] = member if type(member) in SCALARS else canonical(member)
        return ordered
    if isinstance(value, list):
        return [member if type(member) in SCALARS else canonical(member) for member in value]
    return value


SCALARS = frozenset((str, int, float, bool, type(None)))  # the types of JSON's scalar values


_CLOSERS = {"{": "}", "[": "]"}
_MAX_SALVAGE_CHARS = 1_000_000


_PARTIAL_ESCAPE = re.compile(r"(\\u[dD][89abAB][0-9a-fA-F]{2}|\\u[0-9a-fA-F]{0,3})$")


@lru_cache(maxsize=1)
def _length_limits() -> frozenset[int]:
    """The attribute length limits the OpenTelemetry SDK of this process cuts values at."""
    found = set()
    for name in ("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT"):
        raw = os.environ.get(name, "").strip()
        if raw.isdigit() and int(raw) > 0:
            found.add(int(raw))
    return frozenset(found)


def is_cut_json(text: str) -> bool:
    """Whether ``text`` is JSON that was cut short, as opposed to text that merely starts with
    ``{`` or ``[`` (a log line, a Python ``repr``).

    It must be the beginning of a JSON document (checked by pydantic-core's partial JSON parser),
    not a whole one, and show that it was cut: its length is an attribute length limit of this
    process's OpenTelemetry SDK, or it ends where only a cut can end JSON — inside a string, or
    right after a ``,`` or ``:``. ``[1, 2, 3`` is kept as text unless it is as long as a limit."""
    stripped = text.strip()
    if not stripped or stripped[0] not in "{[":
        return False
    try:
        pydantic_core.from_json(stripped, allow_partial=True)
    except ValueError:
        return False  # not JSON at all, not even a prefix of it
    try:
        _loads(stripped)
    except (ValueError, RecursionError):
        pass
    else:
        return False  # whole JSON
    if len(text) in _length_limits():
        return True
    if stripped[-1] in ",:":
        return True
    scan = _scan(stripped)
    return scan is not None and scan.in_string


def salvage_json(text: Any) -> tuple[Any, bool]:
    """Decode JSON that may have been cut short, as instrumentations do at the attribute length limit.

    Returns ``(value, salvaged)``: what :func:`decode_json` returns and ``False`` for whole JSON,
    Python literals and for any text that is not known to be cut (:func:`is_cut_json`), which
    stays exactly as written; for a cut-off object or array, the longest prefix that closes
    cleanly and ``True`` (the caller should keep the raw text too). When nothing at all could be
    read from the cut text, the text itself is kept. Never raises.
    """
    value = decode_json(text)
    if not isinstance(text, str) or value is not text:
        return value, False
    stripped = text.strip()
    if not stripped or stripped[0] not in "{[" or len(stripped) > _MAX_SALVAGE_CHARS or not is_cut_json(text):
        return text, False
    salvaged = _salvage_prefix(stripped)
    if salvaged is MISSING or salvaged in ({}, []):
        return text, False
    return salvaged, True


class _Scan:
    """Where cut-off JSON could be closed: after every complete member, the closers needed."""

    __slots__ = ("cuts", "escaped", "in_string", "stack")

    def __init__(self) -> None:
        self.stack: list[str] = []
        self.cuts: list[tuple[int, str]] = []
        self.in_string = self.escaped = False


def _scan(stripped: str) -> _Scan | None:
    """One pass over cut-off JSON text; ``None`` when a closer has no opener."""
    scan = _Scan()
    stack, cuts = scan.stack, scan.cuts
    in_string = escaped = False
    for index, char in enumerate(stripped):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            continue
        if char == '"':
            in_string = True
        elif char in _CLOSERS:
            stack.append(_CLOSERS[char])
            cuts.append((index + 1, "".join(reversed(stack))))
        elif char in "}]":
            if not stack:
                return None
            stack.pop()
            cuts.append((index + 1, "".join(reversed(stack))))
        elif char == ",":
            cuts.append((index, "".join(reversed(stack))))
    scan.in_string, scan.escaped = in_string, escaped
    return scan


def _salvage_prefix(stripped: str) -> Any:
    """The longest prefix of cut-off JSON that closes cleanly, else ``MISSING``."""
    scan = _scan(stripped)
    if scan is None:
        return MISSING
    # A cut inside a string value: keep what there is of it, marked with "…", and close every
    # open container (this fails, harmlessly, when the cut fell inside a key)
    if scan.in_string and not scan.escaped:
        head = _PARTIAL_ESCAPE.sub("", _PARTIAL_ESCAPE.sub("", stripped))  # half an escape is no text
        try:
            return json.loads(head + '…"' + "".join(reversed(scan.stack)))
        except (ValueError, RecursionError):
            pass
    for end, closers in reversed(scan.cuts[-64:]):
        try:
            return json.loads(stripped[:end] + closers)
        except (ValueError, RecursionError):
            continue
    return MISSING
