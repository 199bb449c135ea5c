"""SPEC §8: the local Humanloop-compatible server, exercised over real HTTP on loopback."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from otel_tool_exporter.stub import StubServer

HEADERS = {"X-API-KEY": "test-key"}


@pytest.fixture
def http(stub: StubServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stub.root_url, headers=HEADERS, timeout=10) as client:
        yield client


def tool(name: str = "get_weather", **function: Any) -> dict[str, Any]:
    return {"function": {"name": name, **function}}


def post(http: httpx.Client, body: dict[str, Any], **kwargs: Any) -> httpx.Response:
    return http.post("/v5/tools/log", json=body, **kwargs)


def log(http: httpx.Client, path: str = "get_weather", **fields: Any) -> dict[str, Any]:
    response = post(http, {"path": path, "tool": tool(path.rsplit("/", 1)[-1]), **fields})
    assert response.status_code == 200, response.text
    return response.json()


# ----------------------------------------------------------------------------------- happy path
def test_valid_log_is_stored_and_answered(stub: StubServer, http: httpx.Client) -> None:
    body = {
        "path": "demo/get_weather",
        "tool": tool(description="d", parameters={"type": "object", "properties": {}}),
        "inputs": {"city": "Paris"},
        "output": "Sunny",
        "start_time": "2025-01-01T00:00:00.000001Z",
        "end_time": "2025-01-01T00:00:01.500000Z",
        "provider_latency": 1.5,
        "metadata": {"otel": {"span_id": "ab"}},
    }
    response = post(http, body)
    assert response.status_code == 200
    reply = response.json()
    assert set(reply) >= {"id", "tool_id", "version_id"}
    stored = stub.store.get(reply["id"])
    assert stored is not None
    assert stored["inputs"] == {"city": "Paris"} and stored["output"] == "Sunny"
    assert stored["start_time"] == "2025-01-01T00:00:00.000001Z"
    assert (stored["tool_id"], stored["version_id"]) == (reply["tool_id"], reply["version_id"])


# ------------------------------------------------------------------------------------- auth
@pytest.mark.parametrize("headers", [{}, {"X-API-KEY": ""}])
def test_missing_or_empty_key_is_401(stub: StubServer, headers: dict[str, str]) -> None:
    response = httpx.post(f"{stub.base_url}/tools/log", json={"path": "p"}, headers=headers, timeout=10)
    assert response.status_code == 401
    assert response.json()["detail"]
    assert stub.store.count() == 0


# ------------------------------------------------------------------------------- validation
def _detail(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, list) and detail
    for item in detail:
        assert set(item) >= {"loc", "msg", "type"}
        assert item["loc"][0] == "body"
        assert isinstance(item["msg"], str)
    return detail


def test_unknown_field_is_422(stub: StubServer, http: httpx.Client) -> None:
    detail = _detail(post(http, {"path": "p", "outputs": "typo"}))
    assert detail[0]["loc"] == ["body", "outputs"]
    assert detail[0]["type"] == "extra_forbidden"
    assert stub.store.count() == 0


def test_unknown_nested_tool_field_is_422(http: httpx.Client) -> None:
    detail = _detail(post(http, {"path": "p", "tool": {"function": {"name": "p", "params": {}}}}))
    assert detail[0]["loc"] == ["body", "tool", "function", "params"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("output", {"an": "object"}),
        ("inputs", ["a", "list"]),
        ("save", "perhaps"),
        ("provider_latency", "slow"),
        ("metadata", "text"),
        ("tool", {"function": {"description": "no name"}}),
    ],
)
def test_wrong_types_are_422(http: httpx.Client, field: str, value: Any) -> None:
    detail = _detail(post(http, {"path": "p", field: value}))
    assert detail[0]["loc"][1] == field


@pytest.mark.parametrize("value", ["yesterday", "2025-13-01T00:00:00Z", "2025-01-01T25:00:00Z", ""])
def test_bad_datetimes_are_422(http: httpx.Client, value: str) -> None:
    detail = _detail(post(http, {"path": "p", "start_time": value}))
    assert detail[0]["loc"] == ["body", "start_time"]


def test_body_that_is_not_json_is_422(http: httpx.Client) -> None:
    response = http.post("/v5/tools/log", content=b"{not json", headers={"Content-Type": "application/json"})
    _detail(response)


def test_unknown_trace_parent_id_is_rejected(stub: StubServer, http: httpx.Client) -> None:
    response = post(http, {"path": "p", "tool": tool("p"), "trace_parent_id": "log_does_not_exist"})
    assert response.status_code in (400, 404, 422)
    assert "log_does_not_exist" in response.text
    assert stub.store.count() == 0


def test_known_trace_parent_id_nests(stub: StubServer, http: httpx.Client) -> None:
    parent = log(http, "parent")
    child = log(http, "child", trace_parent_id=parent["id"])
    stored = stub.store.get(child["id"])
    assert stored is not None and stored["trace_parent_id"] == parent["id"]
    assert stored["trace_id"] == stub.store.get(parent["id"])["trace_id"]  # type: ignore[index]


def test_path_or_id_is_required(http: httpx.Client) -> None:
    assert post(http, {"inputs": {"a": 1}}).status_code == 400


# ---------------------------------------------------------------------------------- versions
def test_same_tool_details_reuse_the_version(http: httpx.Client) -> None:
    a = post(
        http, {"path": "t", "tool": {"function": {"name": "t", "description": "d", "parameters": {"a": 1, "b": 2}}}}
    )
    b = post(
        http, {"path": "t", "tool": {"function": {"parameters": {"b": 2, "a": 1}, "description": "d", "name": "t"}}}
    )
    assert a.json()["version_id"] == b.json()["version_id"]
    assert a.json()["tool_id"] == b.json()["tool_id"]


def test_different_tool_details_make_a_new_version_of_the_same_tool(http: httpx.Client) -> None:
    a = post(http, {"path": "t", "tool": tool("t", description="one")}).json()
    b = post(http, {"path": "t", "tool": tool("t", description="two")}).json()
    assert a["version_id"] != b["version_id"]
    assert a["tool_id"] == b["tool_id"]
    c = post(http, {"path": "other", "tool": tool("t", description="one")}).json()
    assert c["tool_id"] != a["tool_id"]


def test_version_id_query_targets_a_known_version(http: httpx.Client) -> None:
    first = log(http, "t")
    again = post(http, {"path": "t", "output": "x"}, params={"version_id": first["version_id"]})
    assert again.status_code == 200 and again.json()["version_id"] == first["version_id"]
    assert post(http, {"path": "t"}, params={"version_id": "tv_unknown"}).status_code == 404


def test_log_by_tool_id(http: httpx.Client) -> None:
    first = log(http, "t")
    by_id = post(http, {"id": first["tool_id"], "output": "x"})
    assert by_id.status_code == 200 and by_id.json()["tool_id"] == first["tool_id"]
    assert post(http, {"id": "tl_unknown"}).status_code == 404


# ----------------------------------------------------------------------------------- listing
def test_list_logs_and_filters(http: httpx.Client) -> None:
    root = log(http, "agents/a")
    log(http, "agents/b", trace_parent_id=root["id"], error="boom")
    other = log(http, "tools/c")
    everything = http.get("/v5/logs").json()
    assert everything["total"] == 3
    assert [r["path"] for r in everything["records"]] == ["agents/a", "agents/b", "tools/c"]
    assert {r["path"] for r in http.get("/v5/logs", params={"path": "agents/"}).json()["records"]} == {
        "agents/a",
        "agents/b",
    }
    trace = http.get("/v5/logs", params={"trace_id": root["id"]}).json()
    assert trace["total"] == 2
    errors = http.get("/v5/logs", params={"has_error": "true"}).json()["records"]
    assert [r["path"] for r in errors] == ["agents/b"]
    assert len(http.get("/v5/logs", params={"has_error": "false"}).json()["records"]) == 2
    page = http.get("/v5/logs", params={"size": 1, "page": 3}).json()
    assert page["total"] == 3 and [r["id"] for r in page["records"]] == [other["id"]]
    assert http.get("/v5/logs", params={"page": "x"}).status_code == 422
    assert http.get(f"/v5/logs/{root['id']}").json()["path"] == "agents/a"
    assert http.get("/v5/logs/log_missing").status_code == 404


def test_index_page_renders(http: httpx.Client) -> None:
    log(http, "demo/get_weather", inputs={"city": "Paris"})
    page = http.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "demo/get_weather" in page.text


# ------------------------------------------------------------------------------------ faults
def test_fail_next_with_status_and_retry_after(stub: StubServer, http: httpx.Client) -> None:
    stub.set_faults(fail_next=2, status=429, retry_after="3")
    for _ in range(2):
        response = post(http, {"path": "p"})
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "3"
    assert post(http, {"path": "p"}).status_code == 200
    assert stub.store.count() == 1


def test_error_rate(stub: StubServer, http: httpx.Client) -> None:
    stub.set_faults(error_rate=1.0, status=500)
    assert {post(http, {"path": "p"}).status_code for _ in range(5)} == {500}
    stub.set_faults(error_rate=0.0)
    assert post(http, {"path": "p"}).status_code == 200


def test_latency(stub: StubServer, http: httpx.Client) -> None:
    stub.set_faults(latency_ms=300)
    started = time.monotonic()
    assert post(http, {"path": "p"}).status_code == 200
    assert time.monotonic() - started >= 0.3


def test_reset_drops_the_connection(stub: StubServer, http: httpx.Client) -> None:
    stub.set_faults(reset_next=1)
    with pytest.raises(httpx.TransportError):
        post(http, {"path": "p"})
    assert post(http, {"path": "p"}).status_code == 200


def test_reject_paths(stub: StubServer, http: httpx.Client) -> None:
    stub.set_faults(reject_paths=["bad"])
    assert post(http, {"path": "bad"}).status_code == 400
    assert post(http, {"path": "good"}).status_code == 200


def test_faults_over_http_and_stats(stub: StubServer, http: httpx.Client) -> None:
    assert http.post("/_stub/faults", json={"fail_next": 1, "status": 503}).json()["fail_next"] == 1
    assert post(http, {"path": "p"}).status_code == 503
    assert http.post("/_stub/faults", json={"no_such_fault": 1}).status_code == 400
    assert post(http, {"path": "p"}).status_code == 200
    stats = http.get("/_stub/stats").json()
    assert stats["by_status"] == {"503": 1, "200": 1}
    assert stats["logs"] == 1
    assert http.post("/_stub/reset", json={}).json() == {"ok": True}
    assert stub.store.count() == 0


def test_file_database_persists_across_restarts(tmp_path: Any) -> None:
    db = str(tmp_path / "stub.db")
    with StubServer(db=db) as first:
        reply = httpx.post(
            f"{first.base_url}/tools/log", json={"path": "p", "tool": tool("p")}, headers=HEADERS, timeout=10
        ).json()
    with StubServer(db=db) as second:
        assert second.store.get(reply["id"]) is not None


def test_path_filter_is_a_plain_substring_not_a_like_pattern(http: httpx.Client) -> None:
    for path in ("tools/a_b", "tools/axb", "tools/100%"):
        log(http, path)
    assert [r["path"] for r in http.get("/v5/logs", params={"path": "a_b"}).json()["records"]] == ["tools/a_b"]
    assert [r["path"] for r in http.get("/v5/logs", params={"path": "0%"}).json()["records"]] == ["tools/100%"]
    assert [r["path"] for r in http.get("/v5/logs", params={"path": "A_B"}).json()["records"]] == ["tools/a_b"]


# ------------------------------------------------------------------ control endpoints, queries
@pytest.mark.parametrize("endpoint", ["/_stub/faults", "/_stub/reset"])
@pytest.mark.parametrize(
    ("content", "headers", "status"),
    [
        # what a cross-site page can send without a preflight: a form, or text/plain JSON
        (b"latency_ms=5000", {"Content-Type": "application/x-www-form-urlencoded"}, 415),
        (b'{"latency_ms": 5000}', {"Content-Type": "text/plain"}, 415),
        (b'{"latency_ms": 5000}', {"Content-Type": "application/json", "Origin": "https://evil.example"}, 403),
        (b'{"latency_ms": 5000}', {"Content-Type": "application/json", "Origin": "null"}, 403),
        (b'{"latency_ms": 5000}', {"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"}, 403),
    ],
)
def test_control_endpoints_refuse_cross_site_requests(
    stub: StubServer, http: httpx.Client, endpoint: str, content: bytes, headers: dict[str, str], status: int
) -> None:
    log(http, "kept")
    assert http.post(endpoint, content=content, headers=headers).status_code == status
    assert stub.state.faults.latency_ms == 0 and stub.store.count() == 1, "nothing changed"


def test_control_endpoints_take_same_origin_json(stub: StubServer, http: httpx.Client) -> None:
    own = {"Origin": stub.root_url.rstrip("/"), "Sec-Fetch-Site": "same-origin"}
    assert http.post("/_stub/faults", json={"latency_ms": 1}, headers=own).status_code == 200
    assert stub.state.faults.latency_ms == 1
    assert http.post("/_stub/reset", json={}).status_code == 200  # no Origin: a script, not a browser
    assert stub.state.faults.latency_ms == 0


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("page=100000000000000000000", "page"),
        ("page=0", "page"),
        ("page=-1", "page"),
        ("size=-5", "size"),
        ("size=0", "size"),
        ("size=10001", "size"),
        ("size=abc", "size"),
        ("page=" + "9" * 5000, "page"),
    ],
)
def test_out_of_range_query_values_get_422(http: httpx.Client, query: str, name: str) -> None:
    response = http.get(f"/v5/logs?{query}")
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["query", name]
