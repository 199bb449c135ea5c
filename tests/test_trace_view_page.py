"""The stub's trace view over plain HTTP: what the server renders and serves (the browser test,
``test_trace_view.py``, checks what a person sees and clicks)."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import httpx

from otel_tool_exporter.stub import StubServer
from tests.trace_view_util import send_demo_trace, send_single_tool, send_unresolved_child


def _sections(page: str) -> list[str]:
    """Each trace's HTML, newest first (a trace section holds field sections of its own)."""
    return ['<section class="trace"' + part for part in page.split('<section class="trace"')[1:]]


def _rows(section: str) -> dict[str, str]:
    """path → the row's opening tag and summary (classes, data attributes, badges)."""
    rows = re.findall(r'(<details class="log[^>]*>.*?</summary>)', section, flags=re.S)
    return {re.search(r'data-path="([^"]*)"', r).group(1): r for r in rows}  # type: ignore[union-attr]


def test_page_renders_the_nested_demo_trace_with_times_and_status(stub: StubServer, provider_for: Any) -> None:
    send_demo_trace(provider_for)
    page = httpx.get(stub.root_url + "/").text
    (section,) = _sections(page)
    rows = _rows(section)
    assert list(rows) == ["demo/get_weather", "demo/lookup_user", "demo/fail_tool", "demo/research", "demo/search_web"]
    research_id = re.search(r'data-log-id="([^"]+)"', rows["demo/research"]).group(1)  # type: ignore[union-attr]
    assert 'data-depth="1"' in rows["demo/search_web"]
    assert f'data-parent-id="{research_id}"' in rows["demo/search_web"]
    assert '<span class="status error">error</span>' in rows["demo/fail_tool"]
    assert '<span class="status ok">ok</span>' in rows["demo/get_weather"]
    assert all('class="bar" style="left:' in row for row in rows.values())  # every Log on the time axis
    assert "1 error" in section and "5 Logs" in section
    # the details are in the page itself: inputs, output and error, pretty-printed
    assert '<span class="j-k">&quot;city&quot;</span>: <span class="j-s">&quot;Paris&quot;</span>' in page
    assert "ValueError: boom: disk full" in page


def test_unresolved_parent_is_marked_with_its_reason_inside_its_own_trace(stub: StubServer, provider_for: Any) -> None:
    send_unresolved_child(stub, provider_for)
    page = httpx.get(stub.root_url + "/").text
    (section,) = _sections(page)  # the orphan is shown beside its parent: same OpenTelemetry trace
    rows = _rows(section)
    assert set(rows) == {"demo/slow_parent", "demo/orphan"}
    assert "unresolved parent: max_parent_wait" in rows["demo/orphan"]
    assert "unresolved" not in rows["demo/slow_parent"]
    assert "1 unresolved parent" in section


def test_newest_trace_first_and_filters_by_path_and_error(stub: StubServer, provider_for: Any) -> None:
    send_demo_trace(provider_for)
    send_single_tool(provider_for, "ok_tool")
    page = httpx.get(stub.root_url + "/").text
    first, second = _sections(page)
    assert "demo/ok_tool" in first and "demo/fail_tool" in second

    errors_only = _sections(httpx.get(stub.root_url + "/", params={"errors": "1"}).text)
    assert len(errors_only) == 1 and "demo/fail_tool" in errors_only[0]

    by_path = httpx.get(stub.root_url + "/", params={"path": "SEARCH"}).text  # case-insensitive
    (section,) = _sections(by_path)
    rows = _rows(section)
    assert "match" in rows["demo/search_web"].split(">")[0]
    assert "dim" in rows["demo/get_weather"].split(">")[0]

    nothing = httpx.get(stub.root_url + "/", params={"path": "no-such-tool"}).text
    assert _sections(nothing) == [] and "No trace matches these filters." in nothing


def test_refresh_endpoint_answers_only_when_logs_arrived(stub: StubServer, provider_for: Any) -> None:
    empty = httpx.get(stub.root_url + "/_stub/traces").json()
    assert empty["changed"] and "No Logs yet" in empty["html"]
    same = httpx.get(stub.root_url + "/_stub/traces", params={"stamp": empty["stamp"]}).json()
    assert same == {"stamp": empty["stamp"], "changed": False}

    send_single_tool(provider_for)
    after = httpx.get(stub.root_url + "/_stub/traces", params={"stamp": empty["stamp"]}).json()
    assert after["changed"] and after["stamp"] != empty["stamp"]
    assert "demo/ok_tool" in after["html"]


def test_page_uses_only_packaged_assets(stub: StubServer, provider_for: Any) -> None:
    send_demo_trace(provider_for)
    page = httpx.get(stub.root_url + "/").text
    assets = re.findall(r"(?:src|href)=['\"]([^'\"]+)['\"]", page)
    assert sorted(assets) == ["/_static/favicon.svg", "/_static/trace-view.css", "/_static/trace-view.js"]
    css = httpx.get(stub.root_url + "/_static/trace-view.css")
    js = httpx.get(stub.root_url + "/_static/trace-view.js")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert "http://" not in css.text + js.text and "https://" not in css.text + js.text
    assert httpx.get(stub.root_url + "/_static/../server.py").status_code == 404  # no escape from static/


def test_favicon_is_served_where_browsers_ask_for_it(stub: StubServer) -> None:
    for path in ("/favicon.ico", "/_static/favicon.svg"):
        response = httpx.get(stub.root_url + path)
        assert response.status_code == 200, path
        assert response.headers["content-type"] == "image/svg+xml" and response.text.startswith("<svg")


def test_log_details_show_the_tools_description_and_schema(stub: StubServer, provider_for: Any) -> None:
    send_demo_trace(provider_for)
    page = httpx.get(stub.root_url + "/").text
    (section,) = _sections(page)
    weather = section.split('data-path="demo/get_weather"', 1)[1].split("</details>", 1)[0]
    tool = re.search(r'<section class="field f-tool">(.*?)</section>', weather, flags=re.S)
    assert tool, weather
    assert '<p class="tool-desc">Get the weather for a city.</p>' in tool.group(1)
    schema = html.unescape(re.sub(r"<[^>]+>", "", tool.group(1).split('<pre class="tool-schema">', 1)[1]))
    assert json.loads(schema) == {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    }
