"""SPEC §5 field caps (``max_field_bytes``) through the public surface, and the cutting itself."""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from otel_tool_exporter._internal.limits import truncate_text
from otel_tool_exporter.stub import StubServer

from .conftest import logs_by_path
from .spans_util import tool

CAP = 4096
MARKER = re.compile(r"…\[truncated (\d+) bytes\]$")


def _size(value: Any) -> int:
    return len((value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)).encode())


def test_oversized_fields_are_cut_marked_and_listed(stub: StubServer, provider_for: Any) -> None:
    provider, exporter = provider_for(max_field_bytes=CAP)
    tracer = provider.get_tracer("test")
    big_output = "é" * 50_000  # two bytes each: the cut must land on a character boundary
    with tool(tracer, "fetch", {"url": "u", "body": "x" * 100_000}, big_output, note="n" * 20_000):
        pass
    with tool(tracer, "small", {"q": "otel"}, "ok"):
        pass
    assert exporter.force_flush(10_000)
    logs = logs_by_path(stub)
    log = logs["fetch"][0]
    assert _size(log["output"]) <= CAP
    match = MARKER.search(log["output"])
    assert match and log["output"].startswith("éé")
    assert int(match.group(1)) + len(log["output"][: match.start()].encode()) == len(big_output.encode())
    assert _size(log["inputs"]) <= CAP
    assert log["inputs"]["url"] == "u"  # the largest leaf is cut first; small keys survive
    assert MARKER.search(log["inputs"]["body"])
    assert _size({k: v for k, v in log["metadata"].items() if k != "otel"}) <= CAP
    assert set(log["metadata"]["otel"]["truncated"]) >= {"output", "inputs", "metadata"}
    assert log["metadata"]["otel"]["span_id"]  # identity is never cut
    small = logs["small"][0]
    assert small["output"] == "ok" and "truncated" not in small["metadata"]["otel"]


@settings(max_examples=200, deadline=None)
@given(text=st.text(min_size=0, max_size=3000), cap=st.integers(min_value=64, max_value=2048))
def test_truncate_text_respects_the_cap_and_keeps_a_prefix(text: str, cap: int) -> None:
    cut = truncate_text(text, cap)
    assert len(cut.encode()) <= cap
    if len(text.encode()) <= cap:
        assert cut == text
    else:
        match = MARKER.search(cut)
        assert match
        assert text.startswith(cut[: match.start()])
