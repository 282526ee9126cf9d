"""Sandboxes through GraphQL: an owner makes a sandbox twin, funds it, and fills a task's
review queue with simulated workers through the worker use cases (a rule fires on their
answers, a callback is delivered); nothing of it reaches the live account's keys or real
workers, and nothing live reaches the sandbox."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from pytest_httpserver import HTTPServer

from gql_server.models import Account, Project, Worker
from gql_server.models.enums import MemberRole, ProofKind
from gql_server.schema.relay import to_global_id
from gql_server.services import rules, tasks
from gql_server.services.api_keys import SANDBOX_KEY_PREFIX, identify
from gql_server.services.principals import MemberPrincipal
from gql_server.services.task_lifecycle import publish_task
from tests import REPO_ROOT
from tests.callbacks.receiver import Receiver, deliver_to
from tests.factories import Requester, new_task, new_worker
from tests.graphql_client import Api

TWIN = """
mutation { createSandboxTwin(input: {}) {
  account { id name sandbox } apiKey userErrors { code message } } }
"""
SIMULATE = """
mutation ($task: ID!, $good: Int!, $empty: Int!, $duplicate: Int!, $fast: Int!) {
  simulateWorkers(input: {taskId: $task, good: $good, empty: $empty, duplicate: $duplicate,
                          tooFast: $fast}) {
    workerCount submissions { id state } refusals { kind code } userErrors { code message }
  }
}
"""
QUEUE = "{ reviewQueue(first: 50) { totalCount } }"
AVAILABLE = "{ availableTasks(first: 50) { edges { node { id } } } }"


async def _sandbox_task(principal: MemberPrincipal, callback_url: str | None = None) -> Any:
    project = await Project.create(account_id=principal.account_id, name="Sandbox project")
    draft = tasks.TaskDraft(
        title="Describe the picture",
        instructions="Say what it shows.",
        reward="0.10",
        budget="10.00",
        time_limit_seconds=600,
        proof_requirements=[tasks.ProofRequirementDraft("answer", ProofKind.TEXT)],
        callback_url=callback_url,
    )
    task = await tasks.create_task(principal, project.id, draft)
    return await publish_task(principal, task.id)


async def test_a_sandbox_twin_is_filled_by_simulated_workers_and_stays_apart(
    api: Api, requester: Requester, httpserver: HTTPServer
) -> None:
    made = (await api.data(TWIN, key=requester.key))["createSandboxTwin"]
    assert made["userErrors"] == [] and made["account"]["sandbox"] is True
    key = made["apiKey"]
    assert key.startswith(SANDBOX_KEY_PREFIX)
    again = (await api.data(TWIN, key=requester.key))["createSandboxTwin"]
    assert [e["code"] for e in again["userErrors"]] == ["DUPLICATE"]

    funded = await api.data(
        'mutation { fundAccount(input: {amount: "50.00"}) { account { balance { amount } } } }',
        key=key,
    )
    assert funded["fundAccount"]["account"]["balance"]["amount"] == "50.00"
    caller = await identify(key)
    assert caller is not None and isinstance(caller.principal, MemberPrincipal)
    owner = caller.principal
    receiver = Receiver(httpserver, [200])
    task = await _sandbox_task(owner, callback_url=receiver.url)
    # A rule on the simulated answers: a copied proof is rejected as it arrives.
    await rules.create_rule(
        owner,
        rules.RuleScope(task_id=task.id),
        rules.RuleDraft(
            "AUTOMATION",
            None,
            [{"metric": "DUPLICATE_PROOF_COUNT", "operator": "GT", "value": 0}],
            {"type": "REJECT", "reason": "Copied proof."},
        ),
    )
    simulated = (
        await api.data(
            SIMULATE,
            {
                "task": to_global_id("Task", task.id),
                "good": 3,
                "empty": 1,
                "duplicate": 1,
                "fast": 1,
            },
            key=key,
        )
    )["simulateWorkers"]
    assert simulated["userErrors"] == [] and simulated["workerCount"] == 6
    assert [r["kind"] for r in simulated["refusals"]] == ["EMPTY"]
    assert len(simulated["submissions"]) == 5
    # The duplicate was rejected by the rule as it arrived; the other four wait.
    firings = await api.data("{ ruleFirings(first: 10) { totalCount } }", key=key)
    assert firings["ruleFirings"]["totalCount"] == 1
    assert (await api.data(QUEUE, key=key))["reviewQueue"]["totalCount"] == 4
    await deliver_to(receiver)
    assert receiver.requests, "the sandbox task's callback was delivered"

    # Nothing of the sandbox reaches the live account or real workers, and back.
    assert (await api.data(QUEUE, key=requester.key))["reviewQueue"]["totalCount"] == 0
    assert (await api.data("{ workers { totalCount } }", key=requester.key))["workers"][
        "totalCount"
    ] == 0
    real = await new_worker()
    shown = (await api.data(AVAILABLE, key=real.key))["availableTasks"]["edges"]
    assert to_global_id("Task", task.id) not in [edge["node"]["id"] for edge in shown]
    live = await new_task(requester)
    node = await api.data(
        "query ($id: ID!) { node(id: $id) { id } }", {"id": to_global_id("Task", live.id)}, key=key
    )
    assert node == {"node": None}
    assert await Worker.filter(simulated=True, submissions__task_id=live.id).count() == 0


async def test_simulated_workers_exist_only_in_a_sandbox(api: Api, requester: Requester) -> None:
    task = await new_task(requester)
    refused = (
        await api.data(
            SIMULATE,
            {
                "task": to_global_id("Task", task.id),
                "good": 2,
                "empty": 0,
                "duplicate": 0,
                "fast": 0,
            },
            key=requester.key,
        )
    )["simulateWorkers"]
    assert [e["code"] for e in refused["userErrors"]] == ["INVALID_STATE"]
    assert await Worker.filter(simulated=True, submissions__task_id=task.id).count() == 0
    manager = await requester.member(MemberRole.MANAGER)
    body = await api.post(TWIN, key=manager.key)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    assert not await Account.exists(twin_of_id=requester.account_id)


def test_the_command_line_makes_a_sandbox_account(tmp_path: Any) -> None:
    env = {"DATABASE_URL": f"sqlite://{tmp_path / 'cli.sqlite3'}", "PATH": "/usr/bin:/bin"}
    run = [sys.executable, "-m", "gql_server"]
    subprocess.run([*run, "migrate"], cwd=REPO_ROOT, env=env, check=True, capture_output=True)
    made = subprocess.run(
        [
            *run,
            "create-account",
            "--name",
            "Try",
            "--owner-name",
            "A",
            "--owner-email",
            "a@try.example",
            "--sandbox",
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith("Sandbox account")
    assert made.stdout.splitlines()[-1].startswith(SANDBOX_KEY_PREFIX)
