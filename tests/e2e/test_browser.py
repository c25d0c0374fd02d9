"""The console and /docs in a real headless Chromium, with every request off the server blocked.

Chromium is Debian's package (/usr/bin/chromium), driven by Playwright's Python client with
``executable_path`` (Playwright's own browser download is never used). `.ci/run` installs it;
elsewhere these tests skip, saying so. Every request whose host is not the test server is
aborted and recorded, and each test asserts that the page asked for none.

The console screenshot in the README (docs/console.png) is written by
``test_sign_in_see_a_workflow_and_watch_a_run_finish`` when UPDATE_SCREENSHOTS=1 is set or the
file is missing; otherwise it goes to the test's temporary folder.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import DevServer, start_dev_server

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(
        "browser tests need Debian's chromium at /usr/bin/chromium (apt-get install chromium; .ci/run does)",
        allow_module_level=True,
    )
sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need playwright (the dev extra)")
Page = sync_api.Page
expect = sync_api.expect

TASKS = Path(__file__).resolve().parent / "holding_tasks.py"
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "console.png"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 30_000


@dataclass
class Browser:
    server: DevServer
    context: Any
    origin: str
    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def page(self, width: int = 1366, height: int = 768) -> Page:
        page = self.context.new_page()
        page.set_viewport_size({"width": width, "height": height})
        page.set_default_timeout(TIMEOUT_MS)
        page.on("pageerror", lambda err: self.errors.append(str(err)))
        return page

    def assert_offline_and_clean(self) -> None:
        assert self.blocked == [], f"the page asked for outside resources: {self.blocked}"
        assert self.errors == [], f"script errors on the page: {self.errors}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    workdir = tmp_path_factory.mktemp("browser-server")
    started = start_dev_server(workdir, workdir / "data", "--tasks", str(TASKS))
    try:
        yield started
    finally:
        started.assert_clean_stop()


@pytest.fixture(scope="module")
def chromium(server: DevServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            headless=True,
            args=FLAGS,
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def browser(server: DevServer, chromium: Any) -> Iterator[Browser]:
    origin = server.root_url
    b = Browser(server, chromium, origin)

    def gate(route: Any) -> None:
        url = route.request.url
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" == origin:
            route.continue_()
        else:
            b.blocked.append(url)
            route.abort()

    chromium.route("**/*", gate)
    try:
        yield b
    finally:
        chromium.unroute("**/*", gate)
        for page in chromium.pages:
            page.close()


def sign_in(browser: Browser, page: Page) -> None:
    page.goto(f"{browser.origin}/console")  # redirects to /v1/console
    expect(page).to_have_url(re.compile(r"/v1/console"))
    # Keyboard only: the key field has the focus; Enter submits.
    key = page.get_by_label("API key")
    expect(key).to_be_focused()
    page.keyboard.type(browser.server.api_key)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Workflows")).to_be_visible()
    stored = page.evaluate("() => [sessionStorage.length, localStorage.length, document.cookie]")
    assert stored == [1, 0, ""], stored


def create_workflow(server: DevServer, name: str, tasks: list[dict[str, Any]]) -> str:
    response = server.client().post("/workflows", json={"name": name, "tasks": tasks})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def execute(server: DevServer, workflow_id: str, parameters: dict[str, Any]) -> str:
    response = server.client().post(f"/workflows/{workflow_id}/execute", json={"parameters": parameters})
    assert response.status_code == 202, response.text
    return str(response.json()["executionId"])


def no_horizontal_scroll(page: Page) -> bool:
    return bool(page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1"))


# -- /docs -------------------------------------------------------------------------------------------------
def test_docs_render_offline_from_the_bundled_swagger_ui(browser: Browser) -> None:
    page = browser.page()
    page.goto(f"{browser.origin}/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Orchestration API")
    expect(page.locator(".opblock-summary-path", has_text="/workflows/{workflowId}/execute")).to_be_visible()
    version = page.evaluate(
        "() => window.versions && window.versions.swaggerUi && window.versions.swaggerUi.version"
    )
    assert version in (None, "5.32.0"), version
    browser.assert_offline_and_clean()


# -- the console -------------------------------------------------------------------------------------------
def test_without_a_key_the_console_shows_only_the_sign_in_form(browser: Browser) -> None:
    page = browser.page()
    page.goto(f"{browser.origin}/v1/console#/workflows")
    expect(page.get_by_label("API key")).to_be_visible()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(page.get_by_role("heading", name="Workflows")).to_have_count(0)
    # A wrong key is refused with a message, and nothing is kept.
    page.get_by_label("API key").fill("orch_not-a-key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert").filter(has_text="Sign-in failed")).to_be_visible()
    assert page.evaluate("() => sessionStorage.length") == 0
    browser.assert_offline_and_clean()


def test_sign_in_see_a_workflow_and_watch_a_run_finish(browser: Browser, tmp_path: Path) -> None:
    name = f"Nightly ETL {uuid.uuid4().hex[:6]}"
    tasks = [
        {"name": "extract", "type": "noop"},
        {"name": "clean", "type": "noop", "dependsOn": ["extract"]},
        {"name": "enrich", "type": "noop", "dependsOn": ["extract"]},
        {"name": "load", "type": "noop", "dependsOn": ["clean", "enrich"]},
        {"name": "report", "type": "transform", "config": {"expression": "inputs"}, "dependsOn": ["load"]},
    ]
    workflow_id = create_workflow(browser.server, name, tasks)
    page = browser.page()
    sign_in(browser, page)

    # The list: search by name and filter by status
    page.get_by_label("Name contains").fill(name)
    page.get_by_role("button", name="Apply").click()
    link = page.get_by_role("link", name=name)
    expect(link).to_be_visible()
    page.get_by_label("Status").select_option("active")
    expect(page.get_by_text("No workflows")).to_be_visible()
    page.get_by_label("Status").select_option("draft")
    expect(link).to_be_visible()
    assert no_horizontal_scroll(page)

    # The workflow: its graph, every task pending before any run
    link.click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    nodes = page.locator(".graph svg g.node")
    expect(nodes).to_have_count(5)
    expect(page.locator(".graph svg polyline.edge")).to_have_count(5)
    assert set(nodes.evaluate_all("ns => ns.map(n => n.dataset.status)")) == {"pending"}
    # dagre ranks left to right: extract first, report last
    xs = {
        n: page.locator(f'g.node[data-task="{n}"] rect').evaluate("r => +r.getAttribute('x')")
        for n in ("extract", "load", "report")
    }
    assert xs["extract"] < xs["load"] < xs["report"], xs

    # Run it and watch it finish
    page.get_by_role("button", name="Run now").click()
    expect(page).to_have_url(re.compile(r"#/executions/ex_"))
    expect(page.locator("#execution-status")).to_have_text("completed")
    expect(page.locator('.graph g.node[data-status="completed"]')).to_have_count(5)
    expect(page.locator("tbody tr")).to_have_count(5)
    expect(page.locator('tr[data-task="report"] td.data')).to_contain_text("load")
    expect(page.get_by_role("button", name="Cancel")).to_be_disabled()
    expect(page.get_by_role("button", name="Redrive")).to_be_disabled()

    # Back on the workflow page the graph shows the latest run
    page.get_by_role("link", name=f"← {name}").click()
    expect(page.locator('.graph g.node[data-status="completed"]')).to_have_count(5)
    expect(page.locator("tbody tr")).to_have_count(1)
    target = (
        SCREENSHOT
        if os.environ.get("UPDATE_SCREENSHOTS") == "1" or not SCREENSHOT.exists()
        else tmp_path / "console.png"
    )
    page.screenshot(path=str(target), full_page=True)
    assert target.stat().st_size > 10_000
    assert workflow_id in page.url
    browser.assert_offline_and_clean()


def test_cancel_a_running_execution(browser: Browser) -> None:
    folder = browser.server.data_dir.parent
    key = uuid.uuid4().hex
    workflow_id = create_workflow(
        browser.server,
        "held",
        [{"name": "first", "type": "hold"}, {"name": "then", "type": "noop", "dependsOn": ["first"]}],
    )
    execution_id = execute(browser.server, workflow_id, {"dir": str(folder), "key": key})
    try:
        page = browser.page()
        sign_in(browser, page)
        page.goto(f"{browser.origin}/v1/console#/executions/{execution_id}")
        expect(page.locator("#execution-status")).to_have_text("running")
        expect(page.locator('g.node[data-task="first"]')).to_have_attribute("data-status", "running")
        # Keyboard: focus Cancel and press Enter (the page redraws each second and keeps the focus)
        page.get_by_role("button", name="Cancel").focus()
        page.keyboard.press("Enter")
        expect(page.locator("#execution-status")).to_have_text("cancelled")
        expect(page.get_by_role("button", name="Cancel")).to_be_disabled()
        expect(page.get_by_role("button", name="Redrive")).to_be_enabled()
    finally:
        (folder / f"{key}.release").touch()
    browser.assert_offline_and_clean()


def test_the_execution_page_learns_of_the_end_from_a_held_request(browser: Browser) -> None:
    folder = browser.server.data_dir.parent
    key = uuid.uuid4().hex
    workflow_id = create_workflow(browser.server, "watched", [{"name": "only", "type": "hold"}])
    execution_id = execute(browser.server, workflow_id, {"dir": str(folder), "key": key})
    try:
        page = browser.page()
        sign_in(browser, page)
        path = f"/v1/executions/{execution_id}"
        # After the first read, the page asks with the ETag it holds and waitSeconds: the API
        # holds that request until something shown changes.
        with page.expect_request(lambda r: path in r.url and "waitSeconds=" in r.url) as asked:
            page.goto(f"{browser.origin}/v1/console#/executions/{execution_id}")
            expect(page.locator("#execution-status")).to_have_text("running")
        held = asked.value
        assert held.header_value("if-none-match"), held.url
    finally:
        (folder / f"{key}.release").touch()
    answer = held.response()  # the held request itself answers the change
    assert answer is not None and answer.status == 200
    expect(page.locator("#execution-status")).to_have_text("completed")
    browser.assert_offline_and_clean()


def test_redrive_a_failed_execution_at_phone_width(browser: Browser) -> None:
    folder = browser.server.data_dir.parent
    key = uuid.uuid4().hex
    workflow_id = create_workflow(
        browser.server,
        "flaky",
        [{"name": "ok", "type": "noop"}, {"name": "flaky", "type": "flaky", "dependsOn": ["ok"]}],
    )
    execution_id = execute(browser.server, workflow_id, {"dir": str(folder), "key": key})
    page = browser.page(390, 844)
    sign_in(browser, page)
    page.goto(f"{browser.origin}/v1/console#/executions/{execution_id}")
    expect(page.locator("#execution-status")).to_have_text("failed")
    expect(page.locator('g.node[data-task="flaky"]')).to_have_attribute("data-status", "failed")
    expect(page.locator('tr[data-task="flaky"] td.data')).to_contain_text("first run of this task fails")
    assert no_horizontal_scroll(page)
    page.get_by_role("button", name="Redrive").click()
    expect(page.locator("#execution-status")).to_have_text("completed")
    expect(page.locator('g.node[data-status="completed"]')).to_have_count(2)
    browser.assert_offline_and_clean()


def test_schedules_show_upcoming_runs_pause_resume_and_trigger(browser: Browser) -> None:
    workflow_id = create_workflow(browser.server, "scheduled", [{"name": "only", "type": "noop"}])
    response = browser.server.client().post(
        "/schedules",
        json={"workflowId": workflow_id, "cronExpression": "30 2 * * *", "timezone": "Europe/Berlin"},
    )
    assert response.status_code == 201, response.text
    schedule_id = response.json()["id"]
    page = browser.page()
    sign_in(browser, page)
    # The workflow page lists its schedule with the upcoming run times
    page.goto(f"{browser.origin}/v1/console#/workflows/{workflow_id}")
    row = page.locator(f'tr[data-schedule="{schedule_id}"]')
    expect(row).to_contain_text("30 2 * * *")
    expect(row).to_contain_text("Europe/Berlin")
    assert len(row.locator("td.data").inner_text().strip().splitlines()) == 5
    row.get_by_role("button", name="Pause").click()
    expect(row.locator(".badge")).to_have_text("paused")
    # The schedules page: resume it, then trigger a run and watch it finish
    page.get_by_role("link", name="Schedules").click()
    row = page.locator(f'tr[data-schedule="{schedule_id}"]')
    row.get_by_role("button", name="Resume").click()
    expect(row.locator(".badge")).to_have_text("enabled")
    row.get_by_role("button", name="Trigger").click()
    expect(page).to_have_url(re.compile(r"#/executions/ex_"))
    expect(page.locator("#execution-status")).to_have_text("completed")
    browser.assert_offline_and_clean()


def test_the_workflow_list_pages(browser: Browser) -> None:
    prefix = f"paged-{uuid.uuid4().hex[:6]}"
    for n in range(25):
        create_workflow(browser.server, f"{prefix}-{n:02d}", [{"name": "a", "type": "noop"}])
    page = browser.page()
    sign_in(browser, page)
    page.get_by_label("Name contains").fill(prefix)
    page.keyboard.press("Enter")
    expect(page.get_by_text("1\u201320 of 25")).to_be_visible()
    expect(page.locator("tbody tr")).to_have_count(20)
    expect(page.get_by_role("button", name="Previous")).to_be_disabled()
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_text("21\u201325 of 25")).to_be_visible()
    expect(page.locator("tbody tr")).to_have_count(5)
    expect(
        page.get_by_role("link", name=f"{prefix}-00")
    ).to_be_visible()  # newest first: the first made is last
    expect(page.get_by_role("button", name="Next")).to_be_disabled()
    browser.assert_offline_and_clean()
