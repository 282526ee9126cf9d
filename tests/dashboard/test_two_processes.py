"""Two pages on two server processes sharing PostgreSQL and Redis: what one page does, the
other sees live. Several processes need PostgreSQL and Redis; the embedded default is one
process, so this runs where DATABASE_URL and REDIS_URL name them (as the repository's other
tests of several processes do)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from gql_server.services.demo import Demo
from gql_server.settings import Settings
from tests.dashboard.conftest import dashboard_env, open_dashboard
from tests.server import server_process

pytestmark = pytest.mark.skipif(
    not (
        os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))
        and os.environ.get("REDIS_URL")
    ),
    reason="several processes need PostgreSQL and Redis (set DATABASE_URL and REDIS_URL)",
)


async def test_a_second_browser_on_another_process_sees_the_same_changes(
    browser: Browser, database: Settings, tmp_path: Path, demo: Demo
) -> None:
    assert demo.owner_api_key is not None
    env = dashboard_env(database)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with (
        server_process(env, tmp_path / "a") as first,
        server_process(env, tmp_path / "b") as second,
    ):
        contexts = [await browser.new_context(locale="en-US") for _ in range(2)]
        try:
            here = await open_dashboard(contexts[0], first.base, demo.owner_api_key)
            there = await open_dashboard(contexts[1], second.base, demo.owner_api_key)
            for page in (here, there):
                await expect(page.locator("#queue-length")).to_have_text("3")
                await expect(page.locator("#task-spent")).to_have_text("$1.50")

            await here.locator("#queue-rows tr").first.get_by_role("button", name="Approve").click()

            for page in (here, there):
                await expect(page.locator("#queue-length")).to_have_text("2")
                await expect(page.locator("#task-spent")).to_have_text("$3.00")
                await expect(page.locator("#task-committed")).to_have_text("$4.50")
                await expect(page.locator("#queue-rows tr")).to_have_count(2)
                await expect(page.locator("#account-spent")).to_have_text("$3.00")
        finally:
            for context in contexts:
                await context.close()
