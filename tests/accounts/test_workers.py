"""Workers through GraphQL: the operator registers them (idempotent by external reference)
and manages their keys; an operator key reads no account's data and an account's key
registers no one; members see the workers who did their account's work, and only theirs."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from gql_server.models import Worker
from gql_server.schema.relay import to_global_id
from gql_server.services.api_keys import issue_operator_key
from gql_server.services.review import approve_submission
from gql_server.services.submissions import start_submission, submit_submission
from tests import REPO_ROOT
from tests.factories import Requester, answer, new_requester, new_task
from tests.graphql_client import Api

REGISTER = """
mutation ($name: String!, $country: String!, $ref: String) {
  registerWorker(input: {name: $name, country: $country, externalRef: $ref}) {
    worker { id name country } created apiKey userErrors { code field message }
  }
}
"""
ISSUE = """
mutation ($id: ID!) {
  issueWorkerKey(input: {workerId: $id, name: "phone"}) {
    key { id prefix name revokedAt } secret userErrors { code }
  }
}
"""
REVOKE = """
mutation ($id: ID!) { revokeWorkerKey(input: {keyId: $id}) { key { revokedAt } userErrors { code } } }
"""
UPDATE = """
mutation ($id: ID!) {
  updateWorker(input: {workerId: $id, country: "fr"}) { worker { country } userErrors { code } }
}
"""
ME = "{ me { __typename ... on Worker { id country } ... on Operator { name } } }"
WORKERS = """
query ($filter: WorkerFilter) { workers(filter: $filter) { totalCount edges { node { id } } } }
"""


def _codes(body: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]


async def _register(api: Api, key: str, ref: str | None, country: str = "DE") -> dict[str, Any]:
    body = await api.data(REGISTER, {"name": "Kim", "country": country, "ref": ref}, key=key)
    return body["registerWorker"]


async def test_the_operator_registers_a_worker_once_per_external_reference(api: Api) -> None:
    operator = await issue_operator_key("signup app")
    assert (await api.data(ME, key=operator))["me"] == {
        "__typename": "Operator",
        "name": "signup app",
    }
    first = await _register(api, operator, "app-user-17")
    assert first["userErrors"] == [] and first["created"] is True
    assert (await api.data(ME, key=first["apiKey"]))["me"]["id"] == first["worker"]["id"]
    again = await _register(api, operator, "app-user-17")
    assert again["worker"] == first["worker"] and again["created"] is False
    assert again["apiKey"] is None
    assert await Worker.filter(external_ref="app-user-17").count() == 1
    bad = await _register(api, operator, "app-user-18", country="Germany")
    assert [(e["code"], e["field"]) for e in bad["userErrors"]] == [
        ("VALIDATION", ["input", "country"])
    ]


async def test_the_operator_issues_and_revokes_worker_keys_and_updates_profiles(api: Api) -> None:
    operator = await issue_operator_key()
    worker = (await _register(api, operator, None))["worker"]
    issued = (await api.data(ISSUE, {"id": worker["id"]}, key=operator))["issueWorkerKey"]
    secret = issued["secret"]
    assert issued["key"]["name"] == "phone" and secret.startswith(issued["key"]["prefix"])
    assert (await api.data(ME, key=secret))["me"]["id"] == worker["id"]
    updated = (await api.data(UPDATE, {"id": worker["id"]}, key=operator))["updateWorker"]
    assert updated == {"worker": {"country": "FR"}, "userErrors": []}
    revoked = await api.data(REVOKE, {"id": issued["key"]["id"]}, key=operator)
    assert revoked["revokeWorkerKey"]["key"]["revokedAt"] is not None
    assert _codes(await api.post(ME, key=secret)) == ["UNAUTHENTICATED"]


async def test_an_accounts_key_registers_no_one_and_the_operator_reads_no_account(
    api: Api, requester: Requester
) -> None:
    account = requester
    refused = await api.post(REGISTER, {"name": "X", "country": "DE", "ref": "x"}, key=account.key)
    assert _codes(refused) == ["FORBIDDEN"]
    operator = await issue_operator_key()
    task = await new_task(account)
    for document, variables in (
        ("{ account { id } }", {}),
        ("{ tasks { totalCount } }", {}),
        (WORKERS, {}),
        ("{ members { totalCount } }", {}),
    ):
        assert _codes(await api.post(document, variables, key=operator)) == ["FORBIDDEN"]
    node = await api.data(
        "query ($id: ID!) { node(id: $id) { id } }",
        {"id": to_global_id("Task", task.id)},
        key=operator,
    )
    assert node == {"node": None}


async def test_members_see_the_workers_of_their_accounts_work_only(
    api: Api, requester: Requester, worker: Any
) -> None:
    account, other_account = requester, await new_requester()
    operator = await issue_operator_key()
    idle = await _register(api, operator, None, country="US")
    ours = await new_task(account, budget="10.00")
    theirs = await new_task(other_account, budget="10.00")
    submission = await start_submission(worker.principal, ours.id)
    await submit_submission(worker.principal, submission.id, answer())
    await approve_submission(account.principal, submission.id)
    elsewhere = await start_submission(worker.principal, theirs.id)
    await submit_submission(worker.principal, elsewhere.id, answer())

    listed = (await api.data(WORKERS, key=account.key))["workers"]
    assert [edge["node"]["id"] for edge in listed["edges"]] == [worker.global_id]
    # Its history here counts this account's work only, not the other account's.
    history = await api.data(
        "{ workers { edges { node { history { submissions pending paid rejected "
        "earned { amount } } } } } }",
        key=account.key,
    )
    assert history["workers"]["edges"][0]["node"]["history"] == {
        "submissions": 1,
        "pending": 0,
        "paid": 1,
        "rejected": 0,
        "earned": {"amount": "1.00"},
    }
    mine = await api.data("{ me { ... on Worker { history { paid } } } }", key=worker.key)
    assert mine == {"me": {"history": None}}
    assert idle["worker"]["id"] not in str(listed)
    by_country = await api.data(WORKERS, {"filter": {"country": "us"}}, key=account.key)
    assert by_country["workers"]["totalCount"] == 0
    on_task = await api.data(
        WORKERS, {"filter": {"taskId": to_global_id("Task", theirs.id)}}, key=account.key
    )
    assert on_task["workers"]["totalCount"] == 0  # another account's task: nobody


def test_the_command_line_registers_a_worker_and_makes_an_operator_key(
    tmp_path: Any,
) -> None:
    env = {"DATABASE_URL": f"sqlite://{tmp_path / 'cli.sqlite3'}", "PATH": "/usr/bin:/bin"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gql_server", *args],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert run("migrate").returncode == 0
    made = run("create-worker", "--name", "Kim", "--country", "de", "--external-ref", "k-1")
    assert made.returncode == 0, made.stderr
    assert made.stdout.splitlines()[-1].startswith("cwk_")
    again = run("create-worker", "--name", "Kim", "--country", "DE", "--external-ref", "k-1")
    assert again.returncode == 0 and "registered with that reference before" in again.stdout
    bad = run("create-worker", "--name", "Kim", "--country", "Germany")
    assert bad.returncode == 2 and "alpha-2" in bad.stderr
    operator = run("create-operator-key", "--name", "signup app")
    assert operator.returncode == 0 and operator.stdout.splitlines()[-1].startswith("cwo_")


async def test_the_operator_does_not_manage_simulated_workers(api: Api) -> None:
    operator = await issue_operator_key()
    simulated = await Worker.create(name="Simulated", country="US", simulated=True)
    issued = (await api.data(ISSUE, {"id": to_global_id("Worker", simulated.id)}, key=operator))[
        "issueWorkerKey"
    ]
    assert issued["secret"] is None and [e["code"] for e in issued["userErrors"]] == ["NOT_FOUND"]
    updated = (await api.data(UPDATE, {"id": to_global_id("Worker", simulated.id)}, key=operator))[
        "updateWorker"
    ]
    assert [e["code"] for e in updated["userErrors"]] == ["NOT_FOUND"]
    assert (await Worker.get(id=simulated.id)).country == "US"
