"""The stub's trace view in a real headless browser (Debian's Chromium driven by Playwright).

What a person does after ``otel-tool-exporter demo``: open the page, see the nested trace, click
a Log to read its inputs; leave the page open and see new traces arrive; filter. A screenshot of
the page is saved under ``test-artifacts/``.

Skips (with the reason) where no browser can be had: the ``browser`` extra (part of ``dev``)
installs Playwright, which drives the system Chromium (Playwright's own browser downloads are never
used); ``.ci/run`` installs Chromium when it is missing.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from otel_tool_exporter.stub import StubServer
from tests.trace_view_util import send_demo_trace, send_single_tool, wait_for_logs

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _chromium() -> str | None:
    for candidate in (os.environ.get("CHROMIUM_PATH"), shutil.which("chromium"), "/usr/bin/chromium"):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="Playwright is not installed (the browser extra: pip install -e '.[browser]')"
    )
    executable = _chromium()
    if executable is None:
        pytest.skip("no Chromium on this machine (apt-get install -y chromium; .ci/run does this when it can)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def test_demo_trace_is_shown_nested_and_a_click_opens_inputs(stub: StubServer, provider_for: Any, page: Any) -> None:
    send_demo_trace(provider_for)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(stub.root_url + "/")

    assert page.title() == "Tool Logs · otel-tool-exporter stub"
    trace = page.locator("section.trace")
    assert trace.count() == 1
    rows = trace.locator("details.log")
    paths = [rows.nth(i).locator(".path").inner_text() for i in range(rows.count())]
    assert paths == ["demo/get_weather", "demo/lookup_user", "demo/fail_tool", "demo/research", "demo/search_web"]

    research = page.locator("details.log[data-path='demo/research']")
    search = page.locator("details.log[data-path='demo/search_web']")
    assert search.get_attribute("data-parent-id") == research.get_attribute("data-log-id")
    # nested: drawn indented under its parent, and starts within its parent on the time axis
    assert search.locator(".path").bounding_box()["x"] > research.locator(".path").bounding_box()["x"] + 10
    parent_bar = research.locator(".bar").bounding_box()
    child_bar = search.locator(".bar").bounding_box()
    assert parent_bar["x"] - 1 <= child_bar["x"] <= parent_bar["x"] + parent_bar["width"] + 1
    assert page.locator("details.log[data-path='demo/fail_tool'] .status").inner_text() == "error"

    weather = page.locator("details.log[data-path='demo/get_weather']")
    inputs = weather.locator("pre.inputs")
    assert not inputs.is_visible()
    weather.locator("summary").click()
    assert inputs.is_visible()
    assert '"city": "Paris"' in inputs.inner_text()
    assert weather.locator("pre.output").inner_text() == "Sunny, 21C in Paris"

    failing = page.locator("details.log[data-path='demo/fail_tool']")
    failing.locator("summary").click()
    assert failing.locator("pre.error").inner_text() == "ValueError: boom: disk full"

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "trace-view.png"), full_page=True)
    assert (ARTIFACTS / "trace-view.png").stat().st_size > 10_000
    assert requests and all(url.startswith(stub.root_url + "/") for url in requests)  # works offline


@pytest.mark.slow
def test_new_traces_appear_without_a_reload_and_open_logs_stay_open(
    stub: StubServer, provider_for: Any, page: Any
) -> None:
    page.goto(stub.root_url + "/")
    assert "No Logs yet" in page.locator("main").inner_text()
    assert stub.root_url in page.locator(".base-url").inner_text()

    send_demo_trace(provider_for)
    page.locator("section.trace").wait_for()
    weather = page.locator("details.log[data-path='demo/get_weather']")
    weather.locator("summary").click()
    opened = weather.get_attribute("data-log-id")

    send_single_tool(provider_for, "later_tool")
    wait_for_logs(stub, 6)
    page.locator("details.log[data-path='demo/later_tool']").wait_for()
    sections = page.locator("section.trace")
    assert sections.count() == 2
    assert sections.nth(0).locator(".path").all_inner_texts() == ["demo/later_tool"]  # newest first
    assert page.locator(f"details.log[data-log-id='{opened}']").get_attribute("open") is not None
    assert page.locator("#live").inner_text().startswith("live")


def test_filters_by_path_and_by_error_without_a_reload(stub: StubServer, provider_for: Any, page: Any) -> None:
    send_demo_trace(provider_for)
    send_single_tool(provider_for, "ok_tool")
    page.goto(stub.root_url + "/")
    assert page.locator("section.trace").count() == 2

    page.locator("label.check").click()  # errors only
    page.wait_for_function("document.querySelectorAll('section.trace').length === 1")
    assert page.locator("details.log[data-path='demo/fail_tool']").count() == 1
    assert "errors=1" in page.url

    page.locator("label.check").click()
    page.locator("input[name=path]").fill("ok_tool")
    page.wait_for_function(
        "document.querySelectorAll('section.trace').length === 1"
        " && document.querySelector('details.log.match')?.dataset.path === 'demo/ok_tool'"
    )
    assert "path=ok_tool" in page.url


def test_a_narrow_window_keeps_every_column_whole_and_nothing_404s(
    stub: StubServer, provider_for: Any, browser: Any
) -> None:
    send_demo_trace(provider_for)
    context = browser.new_context(viewport={"width": 420, "height": 800})
    page = context.new_page()
    page.set_default_timeout(10_000)
    failed: list[str] = []
    page.on("response", lambda response: failed.append(response.url) if response.status >= 400 else None)
    page.on("console", lambda message: failed.append(message.text) if message.type == "error" else None)
    try:
        page.goto(stub.root_url + "/")
        page.wait_for_load_state("networkidle")
        assert page.evaluate("document.documentElement.scrollWidth") <= 420  # no sideways scrolling
        for cell in ("details.log .path", "details.log .status", "details.log summary .dur"):
            for i in range(page.locator(cell).count()):
                box = page.locator(cell).nth(i).bounding_box()
                assert box is not None and box["width"] > 0 and box["x"] + box["width"] <= 420, (cell, i, box)
        page.locator("details.log[data-path='demo/get_weather'] > summary").click()
        tool = page.locator("details.log[data-path='demo/get_weather'] .f-tool")
        assert tool.locator(".tool-desc").inner_text() == "Get the weather for a city."
        assert '"city"' in tool.locator(".tool-schema").inner_text()
        assert page.evaluate("document.documentElement.scrollWidth") <= 420
    finally:
        context.close()
    assert failed == []  # e.g. no /favicon.ico 404 in the console
