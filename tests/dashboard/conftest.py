"""The dashboard in a real browser: Debian's chromium, driven by Playwright, against real
server processes (tests/server.py) on loopback ports.

Playwright cannot download its own browsers here, so it launches the system's chromium
(`CHROMIUM`, /usr/bin/chromium unless GQL_TEST_CHROMIUM names another). A missing browser
fails these tests with how to install it; it never skips them.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from re import Pattern

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from gql_server.services.demo import Demo, seed_demo
from gql_server.settings import Settings
from tests.server import SUITE_RATE_LIMITS, ServerProcess, server_process

CHROMIUM = Path(os.environ.get("GQL_TEST_CHROMIUM", "/usr/bin/chromium"))
# A fresh profile per launch (Playwright makes a temporary user data dir), and nothing the
# browser would fetch by itself.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "artifacts"
# How long a page condition may take to appear before the test fails.
PAGE_TIMEOUT_MS = 20_000

expect.set_options(timeout=PAGE_TIMEOUT_MS)


def dashboard_env(database: Settings) -> dict[str, str]:
    env = {
        "DATABASE_URL": database.database_url,
        "GQL_BACKGROUND_IN_PROCESS": "false",
        "GQL_RATE_LIMITS": SUITE_RATE_LIMITS,
        # On whatever the back end (it is off by default outside the embedded default).
        "GQL_DASHBOARD": "true",
    }
    if database.redis_url:
        env["REDIS_URL"] = database.redis_url
    return env


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.fail(
            f"The dashboard's browser tests need Chromium at {CHROMIUM}: on Debian or Ubuntu "
            "run `apt-get install -y chromium` as root (`make test` and .ci/run do it when "
            "they can), or set GQL_TEST_CHROMIUM to another Chromium's executable."
        )
    return CHROMIUM


@pytest_asyncio.fixture(scope="session")
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest_asyncio.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A browser context of its own (cookies, storage) per test, in US English."""
    created = await browser.new_context(
        locale="en-US", timezone_id="UTC", viewport={"width": 1280, "height": 900}
    )
    try:
        yield created
    finally:
        await created.close()


@pytest.fixture(scope="module")
def dashboard_server(
    database: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """One server with the dashboard on, for the module's tests (each has its own demo)."""
    with server_process(dashboard_env(database), tmp_path_factory.mktemp("dash")) as server:
        yield server


@pytest_asyncio.fixture
async def demo(database: Settings) -> Demo:
    """The demo account `make run` seeds, seeded anew for the test (another account)."""
    return await seed_demo()


async def _connect(context: BrowserContext, base: str, key: str) -> Page:
    """A new page with the key pasted and Connect pressed; `page.errors` collects the
    page's script errors from its first load on."""
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors  # type: ignore[attr-defined]
    await page.goto(f"{base}/dashboard")
    await page.get_by_label("Paste a member's API key").fill(key)
    await page.get_by_role("button", name="Connect").click()
    return page


async def open_dashboard(context: BrowserContext, base: str, key: str) -> Page:
    """The page, with the key pasted, once it is live and shows the task's figures."""
    page = await _connect(context, base, key)
    await expect(page.locator("#connection")).to_have_attribute("data-phase", "live")
    await expect(page.locator("#task-committed")).not_to_have_text("—")
    return page


async def open_dashboard_with_notice(
    context: BrowserContext, base: str, key: str, notice: str | Pattern[str]
) -> Page:
    """The page, with the key pasted, once its notice (the alert a person reads) says
    `notice`: the text, or a match of the pattern."""
    page = await _connect(context, base, key)
    await expect(page.get_by_role("alert")).to_contain_text(notice)
    return page


def stream_row(page: Page, name: str):  # type: ignore[no-untyped-def]
    return page.locator(f'#stream-rows tr[data-stream="{name}"]')


async def task_id_of(page: Page) -> str:
    return str(await page.locator("#task-select").input_value())
