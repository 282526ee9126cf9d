"""The dashboard page against a real server, in a real browser: a pasted key shows the
demo account, the figures move live, the review actions work and fail as people read them,
and a restarted server is resumed from without a missed version."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from playwright.async_api import BrowserContext, Route, expect

from gql_server.services.demo import Demo
from gql_server.settings import Settings
from tests.dashboard.conftest import (
    ARTIFACTS,
    dashboard_env,
    open_dashboard,
    open_dashboard_with_notice,
    stream_row,
    task_id_of,
)
from tests.factories import api_start_and_submit, api_task_action, new_worker
from tests.graphql_client import Api
from tests.server import Http, ServerProcess, server_process

# Requests of 101 points (a connection and its hundred nodes), 10 and 1: spent in turn,
# each until refused, they leave a key's budget empty.
SPENDING_DOWN = (
    "{ tasks(first: 100) { edges { node { id } } } }",
    "{ tasks(first: 9) { edges { node { id } } } }",
    "{ __typename }",
)

FIGURES = "query ($t: ID!) { task(id: $t) { figures { committed { amount } spent { amount } } } }"


async def test_a_pasted_key_shows_the_demo_account_live(
    context: BrowserContext, dashboard_server: ServerProcess, demo: Demo
) -> None:
    assert demo.owner_api_key is not None
    page = await open_dashboard(context, dashboard_server.base, demo.owner_api_key)

    await expect(page.locator("#account-name")).to_contain_text("Demo Requester")
    await expect(page.locator("#task-select option:checked")).to_have_text(
        "Install the app and rate it (open)"
    )
    # The demo's open task: budget 150.00, one approval (1.50 spent), one started and three
    # submitted (6.00 committed), three waiting for review.
    await expect(page.locator("#task-budget")).to_have_text("$150.00")
    await expect(page.locator("#task-committed")).to_have_text("$6.00")
    await expect(page.locator("#task-spent")).to_have_text("$1.50")
    await expect(page.locator("#task-remaining")).to_have_text("$142.50")
    await expect(page.locator("#queue-length")).to_have_text("3")
    await expect(page.locator("#queue-rows tr")).to_have_count(3)
    await expect(page.locator("#account-balance")).to_have_text("$260.00")
    await expect(page.locator("#events-feed li")).to_contain_text(["Status: open"])
    await expect(page.locator("#chart svg")).to_be_visible()
    # The key is in the tab's session storage, never in the address.
    assert demo.owner_api_key not in page.url
    stored = await page.evaluate("() => Object.values(sessionStorage)")
    assert stored == [demo.owner_api_key]
    assert page.errors == []  # type: ignore[attr-defined]

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=ARTIFACTS / "dashboard.png", full_page=True)
    await page.set_viewport_size({"width": 360, "height": 800})
    await expect(page.locator("#task-committed")).to_be_in_viewport()
    width = await page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 360, "the page scrolls sideways in a narrow window"
    await page.screenshot(path=ARTIFACTS / "dashboard-narrow.png", full_page=True)


async def test_a_workers_start_moves_committed_within_a_second(
    context: BrowserContext, dashboard_server: ServerProcess, demo: Demo
) -> None:
    assert demo.owner_api_key is not None
    page = await open_dashboard(context, dashboard_server.base, demo.owner_api_key)
    await expect(page.locator("#task-committed")).to_have_text("$6.00")
    task_id = await task_id_of(page)
    worker = await new_worker()
    http = Http(dashboard_server.base)
    try:
        began = time.monotonic()
        await api_start_and_submit(http, worker.key, task_id, submit=False)
        left_ms = 1000 - (time.monotonic() - began) * 1000
        # Playwright reads a timeout of 0 as none at all.
        assert left_ms > 0, "starting the work alone took the whole second"
        await expect(page.locator("#task-committed")).to_have_text("$7.50", timeout=left_ms)
        await expect(page.locator("#account-committed")).to_have_text("$7.50")
    finally:
        await http.client.aclose()


async def test_an_approval_clicked_moves_the_figures_and_shortens_the_queue(
    context: BrowserContext, dashboard_server: ServerProcess, demo: Demo
) -> None:
    assert demo.owner_api_key is not None
    page = await open_dashboard(context, dashboard_server.base, demo.owner_api_key)
    await expect(page.locator("#queue-length")).to_have_text("3")
    first = page.locator("#queue-rows tr").first
    submission_id = await first.get_attribute("data-submission-id")

    await first.get_by_role("button", name="Approve").click()

    await expect(page.locator("#queue-length")).to_have_text("2")
    await expect(page.locator("#account-queue-length")).to_have_text("2")
    await expect(page.locator("#task-committed")).to_have_text("$4.50")
    await expect(page.locator("#task-spent")).to_have_text("$3.00")
    await expect(
        page.locator(f'#queue-rows tr[data-submission-id="{submission_id}"]')
    ).to_have_count(0)
    await expect(page.locator("#queue-rows tr")).to_have_count(2)

    # Bulk approval of a selection made with the keyboard.
    rows = page.locator("#queue-rows tr")
    await rows.nth(0).locator("input.select").focus()
    await page.keyboard.press("Space")
    await expect(page.locator("#selected-count")).to_have_text("1")
    await page.get_by_role("button", name="Approve selected (1)").click()
    await expect(page.locator("#queue-length")).to_have_text("1")
    await expect(page.locator("#task-spent")).to_have_text("$4.50")
    await expect(page.locator("#selected-count")).to_have_text("0")


async def test_a_reject_without_feedback_shows_the_error_and_changes_nothing(
    context: BrowserContext, dashboard_server: ServerProcess, demo: Demo, api: Api
) -> None:
    assert demo.owner_api_key is not None
    page = await open_dashboard(context, dashboard_server.base, demo.owner_api_key)
    await expect(page.locator("#queue-length")).to_have_text("3")
    task_id = await task_id_of(page)
    before = await api.data(FIGURES, {"t": task_id}, key=demo.owner_api_key)
    row = page.locator("#queue-rows tr").first

    await row.get_by_role("button", name="Reject").click()

    await expect(row.locator(".error")).to_have_text("A rejection needs feedback for the worker.")
    await expect(row.get_by_role("button", name="Reject")).to_be_enabled()
    assert await api.data(FIGURES, {"t": task_id}, key=demo.owner_api_key) == before
    await expect(page.locator("#queue-length")).to_have_text("3")
    await expect(page.locator("#queue-rows tr")).to_have_count(3)
    await expect(page.locator("#task-committed")).to_have_text("$6.00")

    # With feedback, typed and sent with Enter, the same row is rejected.
    await row.get_by_label("Feedback for").fill("The screenshot does not show the rating.")
    await row.get_by_label("Feedback for").press("Enter")
    await expect(page.locator("#queue-length")).to_have_text("2")
    await expect(page.locator("#task-committed")).to_have_text("$4.50")


async def test_a_retry_after_a_network_failure_sends_the_same_idempotency_key(
    context: BrowserContext, dashboard_server: ServerProcess, demo: Demo
) -> None:
    assert demo.owner_api_key is not None
    page = await open_dashboard(context, dashboard_server.base, demo.owner_api_key)
    await expect(page.locator("#queue-length")).to_have_text("3")
    sent: list[str] = []

    async def lose_the_first_approval(route: Route) -> None:
        body = json.loads(route.request.post_data or "{}")
        if "approveSubmission" not in body.get("query", ""):
            await route.continue_()
            return
        sent.append(body["variables"]["k"])
        if len(sent) == 1:
            await route.abort("connectionreset")
        else:
            await route.continue_()

    await page.route("**/graphql", lose_the_first_approval)
    row = page.locator("#queue-rows tr").first
    await row.get_by_role("button", name="Approve").click()
    await expect(row.locator(".error")).to_contain_text("The server cannot be reached")
    await row.get_by_role("button", name="Approve").click()

    await expect(page.locator("#queue-length")).to_have_text("2")
    await expect(page.locator("#task-spent")).to_have_text("$3.00")
    assert len(sent) == 2 and sent[0] == sent[1]

    # The next action gets a key of its own.
    await page.locator("#queue-rows tr").first.get_by_role("button", name="Approve").click()
    await expect(page.locator("#queue-length")).to_have_text("1")
    assert len(sent) == 3 and sent[2] != sent[0]


async def test_the_tasks_events_arrive_in_the_feed(
    context: BrowserContext, dashboard_server: ServerProcess, demo: Demo
) -> None:
    assert demo.owner_api_key is not None
    page = await open_dashboard(context, dashboard_server.base, demo.owner_api_key)
    task_id = await task_id_of(page)
    http = Http(dashboard_server.base)
    try:
        await api_task_action(http, demo.owner_api_key, "pauseTask", task_id)
        await expect(page.locator("#events-feed li").first).to_contain_text("Task paused")
        await expect(page.locator("#task-status")).to_have_text("PAUSED")
        await api_task_action(http, demo.owner_api_key, "closeTask", task_id)
        await expect(page.locator("#events-feed li").first).to_contain_text("Task closed (manual)")
        await expect(page.locator("#task-select option:checked")).to_contain_text("(closed)")
    finally:
        await http.client.aclose()


ADD_AUDITOR = """mutation { addMember(input: {name: "Ana Auditor", email: "ana@demo.example",
  role: AUDITOR}) { apiKey userErrors { code } } }"""
COMPLETED = "{ completedSubmissions(first: 1) { edges { node { id } } } }"
START_AUDIT = """mutation ($id: ID!) { startAudit(input: {submissionId: $id}) {
  lock { held } userErrors { code } } }"""


async def test_an_audit_lock_taken_shows_who_holds_it_since_when_and_until_when(
    context: BrowserContext, dashboard_server: ServerProcess, demo: Demo
) -> None:
    assert demo.owner_api_key is not None
    page = await open_dashboard(context, dashboard_server.base, demo.owner_api_key)
    await expect(page.locator("#locks-count")).to_have_text("0")
    http = Http(dashboard_server.base)
    try:
        auditor = (await http.data(ADD_AUDITOR, key=demo.owner_api_key))["addMember"]["apiKey"]
        done = await http.data(COMPLETED, key=demo.owner_api_key)
        submission = done["completedSubmissions"]["edges"][0]["node"]["id"]
        taken = await http.data(START_AUDIT, {"id": submission}, key=auditor)
        assert taken["startAudit"]["lock"] == {"held": True}
    finally:
        await http.client.aclose()

    await expect(page.locator("#locks-count")).to_have_text("1")
    row = page.locator(f'#locks-rows tr[data-submission-id="{submission}"]')
    await expect(row.locator("td").nth(0)).to_have_text("Worker 2's work")
    await expect(row.locator("td").nth(1)).to_have_text("Ana Auditor")
    await expect(row.locator("td").nth(2)).not_to_have_text("—")
    await expect(row.locator("td").nth(3)).not_to_have_text("—")


CREATE_KEY = 'mutation { createApiKey(input: {name: "wall screen"}) { key { id } secret } }'
REVOKE = "mutation ($id: ID!) { revokeApiKey(input: {keyId: $id}) { userErrors { code } } }"


async def test_a_key_that_is_not_valid_is_told_plainly(
    context: BrowserContext, dashboard_server: ServerProcess
) -> None:
    page = await open_dashboard_with_notice(
        context, dashboard_server.base, "cwk_not_a_key_at_all", "This API key is not valid"
    )
    await expect(page.locator("#dashboard")).to_be_hidden()


async def test_a_key_revoked_under_the_page_is_told_plainly(
    context: BrowserContext, dashboard_server: ServerProcess, demo: Demo, api: Api
) -> None:
    assert demo.owner_api_key is not None
    created = (await api.data(CREATE_KEY, key=demo.owner_api_key))["createApiKey"]
    page = await open_dashboard(context, dashboard_server.base, created["secret"])

    revoked = await api.data(REVOKE, {"id": created["key"]["id"]}, key=demo.owner_api_key)
    assert revoked["revokeApiKey"]["userErrors"] == []

    # The server closes the page's websocket (4403) within its key check's period.
    await expect(page.locator("#connection")).to_have_attribute("data-phase", "key-rejected")
    await expect(page.locator("#notice")).to_contain_text("This API key is not valid")
    await expect(page.get_by_label("Paste a member's API key")).to_be_focused()


async def test_a_rate_limit_is_told_with_the_time_to_wait(
    context: BrowserContext, database: Settings, tmp_path: Path, demo: Demo
) -> None:
    assert demo.owner_api_key is not None
    # A budget the page's requests fit, spent to its last point before the page opens
    # (points come back at 500 a minute, far fewer than its first request's 103 by the time
    # it asks): that request is refused RATE_LIMITED, with a wait.
    env = {**dashboard_env(database), "GQL_RATE_LIMITS": "owner=500"}
    with server_process(env, tmp_path) as server:
        http = Http(server.base)
        headers = {"Authorization": f"Bearer {demo.owner_api_key}"}
        try:
            for query in SPENDING_DOWN:
                for _ in range(500):
                    answer = await http.client.post(
                        "/graphql", json={"query": query}, headers=headers
                    )
                    if "RATE_LIMITED" in answer.text:
                        break
                assert "RATE_LIMITED" in answer.text
        finally:
            await http.client.aclose()
        await open_dashboard_with_notice(
            context,
            server.base,
            demo.owner_api_key,
            re.compile(r"Too many requests for this key: try again in \d+ seconds\."),
        )


async def test_a_key_whose_budget_no_request_fits_is_told_so(
    context: BrowserContext, database: Settings, tmp_path: Path, demo: Demo
) -> None:
    assert demo.owner_api_key is not None
    env = {**dashboard_env(database), "GQL_RATE_LIMITS": "owner=1"}
    with server_process(env, tmp_path) as server:
        await open_dashboard_with_notice(
            context,
            server.base,
            demo.owner_api_key,
            re.compile(r"costs \d+ points, more than the 1 this key may spend on one: no wait"),
        )


async def test_a_restarted_server_is_resumed_from_the_last_version_seen(
    context: BrowserContext, database: Settings, tmp_path: Path, demo: Demo, api: Api
) -> None:
    assert demo.owner_api_key is not None
    with server_process(dashboard_env(database), tmp_path) as server:
        page = await open_dashboard(context, server.base, demo.owner_api_key)
        await expect(page.locator("#task-committed")).to_have_text("$6.00")
        budget = stream_row(page, "task budget")
        seen = int(await budget.get_attribute("data-version") or "")
        task_id = await task_id_of(page)

        server.stop()
        await expect(page.locator("#connection")).to_have_attribute("data-phase", "reconnecting")
        await expect(page.locator("#notice")).to_contain_text("reconnecting")
        # A change while the page is away, made by this process on the same database: the
        # server that comes back has it only in its stored stream messages.
        await api_start_and_submit(api, (await new_worker()).key, task_id, submit=False)

        server.start(timeout=60)  # a loaded machine starts Python slowly
        await expect(page.locator("#connection")).to_have_attribute("data-phase", "resumed")
        await expect(page.locator("#connection-text")).to_contain_text(f"task budget v{seen}")
        # The change it missed arrives as the next version, not as a snapshot.
        await expect(budget).to_have_attribute("data-version", str(seen + 1))
        await expect(budget.locator(".missed")).to_have_text("0")
        await expect(page.locator("#task-committed")).to_have_text("$7.50")
        await expect(page.locator("#notice")).to_be_hidden()

        # And it is live again: the next change comes through as usual.
        http = Http(server.base)
        try:
            await api_start_and_submit(http, (await new_worker()).key, task_id, submit=False)
        finally:
            await http.client.aclose()
        await expect(page.locator("#task-committed")).to_have_text("$9.00")
        await expect(budget).to_have_attribute("data-version", str(seen + 2))
