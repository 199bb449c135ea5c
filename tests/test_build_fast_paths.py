"""The build stage's shortcuts give exactly what the careful way gives.

Each shortcut (reading a whole JSON object in one step, copying JSON-safe members without a call,
sorting schema keys, folding flattened keys into lists) is checked against the plain,
step-by-step way it replaces, on ordinary and on hostile values: a user can never tell which way
built their Log.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otel_tool_exporter._internal.build.conventions._base import AttrReader
from otel_tool_exporter._internal.build.conventions._envelopes import decoded, take_decoded
from otel_tool_exporter._internal.build.conventions.humanloop import unflatten
from otel_tool_exporter._internal.build.values import (
    MISSING,
    _decode_text,
    canonical,
    decode_json,
    json_safe,
    whole_json,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


@st.composite
def json_texts(draw: st.DrawFn) -> str:
    """JSON as attributes carry it: compact or spaced, encoded twice, cut off, padded, as text."""
    doc = json.dumps(draw(json_values), separators=draw(st.sampled_from([(",", ":"), (", ", ": ")])))
    kind = draw(st.sampled_from(["whole", "twice", "cut", "padded", "literal", "text"]))
    if kind == "twice":
        return json.dumps(doc)
    if kind == "cut":
        return doc[: draw(st.integers(0, len(doc)))]
    if kind == "padded":
        return draw(st.sampled_from([" ", "\n", "\u00a0"])) + doc + " "
    if kind == "literal":
        return repr(json.loads(doc))
    return doc if kind == "whole" else draw(st.text(max_size=12))


def same(a: Any, b: Any) -> bool:
    """Equal, NaN included, and of the same types all the way down."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


@settings(max_examples=300, deadline=None)
@given(json_texts())
def test_a_whole_json_object_read_in_one_step_is_what_the_steps_read(text: str) -> None:
    whole = whole_json(text)
    if whole is not MISSING:
        assert same(whole, _decode_text(text, 3))
    assert same(decode_json(text), _decode_text(text, 3))


@pytest.mark.parametrize(
    "text",
    [
        json.dumps(json.dumps({"city": "Paris"})),  # encoded twice: an object in the end
        '"[1, 2]"',
        "1.50",  # a number written so is text
        "-0",
        ' {"a": 1}',  # padded: the steps strip it first
        "{'id': 42}",  # a Python literal, not JSON
        "[1, 2",  # cut off
        "null",
    ],
)
def test_only_exactly_one_json_object_or_array_takes_the_one_step_way(text: str) -> None:
    assert whole_json(text) is MISSING
    assert same(decode_json(text), _decode_text(text, 3))


def _json_safe_member_by_member(value: Any, depth: int = 0) -> Any:
    """json_safe as it reads without its shortcut: one call per member."""
    if type(value) is dict and depth < 64:
        return {
            json_safe(k) if type(k) is str else json_safe(str(k)): _json_safe_member_by_member(v, depth + 1)
            for k, v in value.items()
        }
    if type(value) in (list, tuple) and depth < 64:
        return [_json_safe_member_by_member(v, depth + 1) for v in value]
    return json_safe(value, depth)


odd_members = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(alphabet=st.characters(blacklist_categories=()), max_size=6)
    | st.binary(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=3).map(tuple)
        | st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=4) | st.integers(), inner, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(odd_members)
def test_json_safe_members_taken_as_they_are_are_the_ones_a_call_leaves_alone(value: Any) -> None:
    assert same(json_safe(value), _json_safe_member_by_member(value))


def test_json_safe_still_cleans_members_that_need_it() -> None:
    cleaned = json_safe({"a": "\udc80", "b": [float("nan"), "é\ud800"], "c": (1, b"\xff")})
    assert cleaned == {"a": "?", "b": ["nan", "é?"], "c": [1, "\ufffd"]}


def _canonical_reference(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _canonical_reference(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, list):
        return [_canonical_reference(v) for v in value]
    return value


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_canonical_is_the_plain_recursive_sort(value: Any) -> None:
    assert same(canonical(value), _canonical_reference(value))


def test_canonical_sorts_every_level_and_every_kind_of_mapping() -> None:
    schema = {
        "type": "object",
        "properties": MappingProxyType({"b": {"z": 1, "a": [{"y": 2, "x": 3}]}, "a": {"type": "string"}}),
        "required": ["b"],
        10: "ten",
        9: "nine",
    }
    result = canonical(schema)
    assert list(result) == [10, 9, "properties", "required", "type"]  # by their text, as before
    assert list(result["properties"]) == ["a", "b"]
    assert list(result["properties"]["b"]) == ["a", "z"]
    assert list(result["properties"]["b"]["a"][0]) == ["x", "y"]


def _listify_reference(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    value = {k: _listify_reference(v) for k, v in value.items()}
    if value and all(k.isdigit() for k in value) and sorted(int(k) for k in value) == list(range(len(value))):
        return [value[str(i)] for i in range(len(value))]
    return value


@pytest.mark.parametrize(
    "attrs",
    [
        {"p.name": "get_weather", "p.parameters.type": "object", "p.parameters.required": ("city",)},
        {"p.args.0": "a", "p.args.1": "b", "p.args.2.x": 1},  # a list, with an object in it
        {"p.args.1": "b", "p.args.0": "a"},  # out of order: still a list, in index order
        {"p.a.0": 1, "p.a.2": 3},  # a gap: stays an object
        {"p.a.0": 1, "p.a.x": 2},  # not every key an index
        {"p.a.x": 2, "p.a.0": 1},
        {"p.10": "j", "p.0": "a"},
        {"p.0.0.0": "deep"},
        {"other": 1},
    ],
)
def test_unflatten_folds_index_levels_into_lists_as_before(attrs: dict[str, Any]) -> None:
    folded, used = unflatten(attrs, "p.")
    reference: dict[str, Any] = {}
    for key, value in attrs.items():
        if key.startswith("p."):
            node = reference
            *path, last = key[2:].split(".")
            for part in path:
                node = node.setdefault(part, {})
            node[last] = value
    assert same(folded, _listify_reference(reference))
    assert used == {k for k in attrs if k.startswith("p.")}


def test_unflatten_never_changes_the_span_s_own_values() -> None:
    inner = {"0": "x"}
    attrs = MappingProxyType({"p.a": inner, "p.b.0": "y", "p.c": {"k": 1}, "p.c.m": 2})
    folded, _ = unflatten(attrs, "p.")
    assert folded == {"a": ["x"], "b": ["y"], "c": {"k": 1, "m": 2}}
    assert inner == {"0": "x"}
    assert attrs["p.c"] == {"k": 1}  # a longer key folds into a copy of it


def test_unflatten_of_an_index_it_cannot_read_fails_as_before() -> None:
    # "²" is a digit to str.isdigit but no int: the recogniser fails (and the registry moves on)
    with pytest.raises(ValueError):
        unflatten({"p.a.²": 1}, "p.")


@pytest.mark.parametrize(
    "raw",
    [
        '{"city": "Paris", "days": 5}',
        "[1, 2, 3]",
        '{"city": "Par',  # cut off: salvaged, and the raw attribute kept
        json.dumps(json.dumps({"a": 1})),
        "plain text",
        "1.50",
        42,
        ("a", "b"),
        None,
    ],
)
def test_take_decoded_reads_an_attribute_as_decoded_does(raw: Any) -> None:
    reader = AttrReader({"k": raw, "other": 1})
    value = take_decoded(reader, "k")
    expected, cut = decoded(raw)
    assert same(value, expected)
    assert reader.consumed == (set() if cut else {"k"})
