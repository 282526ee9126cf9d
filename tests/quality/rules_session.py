"""Rules through the API for the rule tests: a requester's funded project, its tasks, rules,
workers' submissions, reviews and the rules' firings, all over GraphQL."""

from __future__ import annotations

import uuid
from typing import Any

from gql_server.models import Rule
from tests.factories import CREATE_PROJECT, Requester, task_input
from tests.graphql_client import Api

RULE_FIELDS = """
  id name type recentValues enabled
  conditions { metric operator value amount { amount } skillId thresholdSeconds }
  action { type skillId value days permanent scope reason amount { amount } cap { amount } }
  task { id } project { id }
"""


CREATE_RULE = f"""
mutation ($input: CreateRuleInput!) {{
  createRule(input: $input) {{ rule {{ {RULE_FIELDS} }} userErrors {{ field code message }} }}
}}
"""


START = "mutation ($id: ID!) { startSubmission(input: {taskId: $id}) { submission { id state } userErrors { code message } } }"


SUBMIT = 'mutation ($id: ID!, $v: String!) { submitSubmission(input: {submissionId: $id, response: [{name: "screenshot", value: $v}]}) { submission { id state } userErrors { field code } } }'


APPROVE = "mutation ($id: ID!) { approveSubmission(input: {submissionId: $id}) { submission { state } userErrors { code } } }"


REJECT = 'mutation ($id: ID!) { rejectSubmission(input: {submissionId: $id, feedback: "Not what was asked."}) { submission { state } userErrors { code } } }'


LISTING = "{ availableTasks(first: 100) { edges { node { id } } } }"


FIRINGS = """
query ($f: RuleFiringFilter) { ruleFirings(filter: $f, first: 50) { totalCount edges { node {
  id rule { id } worker { id } task { id } submission { id } createdAt
  metrics { metric value amount { amount } skillId thresholdSeconds }
  action { type days scope reason }
  outcome { restrictionId skillValue reviewedSubmissionIds amount { amount } restriction { kind reason endsAt } }
} } } }
"""


class RulesSession:
    """A requester's account through the API: a funded project, tasks, rules, reviews."""

    def __init__(self, api: Api, account: Requester) -> None:
        self.api = api
        self.account = account
        self.owner = account.key
        self.project = ""

    async def setup(self, fund: str = "500.00") -> RulesSession:
        data = await self.api.data(CREATE_PROJECT, {"name": "Rules"}, key=self.owner)
        self.project = data["createProject"]["project"]["id"]
        funded = await self.api.data(
            "mutation ($k: String!, $a: Decimal!) { fundAccount(input: {amount: $a, idempotencyKey: $k}) { userErrors { code } } }",
            {"k": uuid.uuid4().hex, "a": fund},
            key=self.owner,
        )
        assert funded["fundAccount"]["userErrors"] == []
        return self

    async def task(self, *, project: str | None = None, **changes: Any) -> str:
        values = {"targeting": {}, "maxSubmissionsPerWorker": 30, **changes}
        created = await self.api.data(
            "mutation ($input: CreateTaskInput!) { createTask(input: $input) { task { id } userErrors { field code } } }",
            {"input": task_input(project or self.project, **values)},
            key=self.owner,
        )
        assert created["createTask"]["userErrors"] == [], created
        task_id = created["createTask"]["task"]["id"]
        published = await self.api.data(
            "mutation ($id: ID!) { publishTask(input: {taskId: $id}) { userErrors { code } } }",
            {"id": task_id},
            key=self.owner,
        )
        assert published["publishTask"]["userErrors"] == []
        return task_id

    async def rule(self, **values: Any) -> dict[str, Any]:
        data = await self.api.data(CREATE_RULE, {"input": values}, key=self.owner)
        payload = data["createRule"]
        assert payload["userErrors"] == [], payload
        return payload["rule"]

    async def refused(self, **values: Any) -> list[dict[str, Any]]:
        before = await Rule.filter(account_id=self.account.account_id).count()
        data = await self.api.data(CREATE_RULE, {"input": values}, key=self.owner)
        payload = data["createRule"]
        assert payload["rule"] is None and payload["userErrors"], payload
        assert await Rule.filter(account_id=self.account.account_id).count() == before
        return payload["userErrors"]

    async def start(self, worker: str, task_id: str) -> dict[str, Any]:
        data = await self.api.data(START, {"id": task_id}, key=worker)
        return data["startSubmission"]

    async def submitted(self, worker: str, task_id: str, value: str | None = None) -> str:
        started = await self.start(worker, task_id)
        assert started["userErrors"] == [], started
        sid = started["submission"]["id"]
        proof = value or f"https://img.example/{uuid.uuid4().hex}.png"
        sent = await self.api.data(SUBMIT, {"id": sid, "v": proof}, key=worker)
        assert sent["submitSubmission"]["userErrors"] == [], sent
        return sid

    async def review(self, submission_id: str, approve: bool) -> None:
        data = await self.api.data(
            APPROVE if approve else REJECT, {"id": submission_id}, key=self.owner
        )
        payload = data["approveSubmission" if approve else "rejectSubmission"]
        assert payload["userErrors"] == [], payload

    async def firings(self, **filter: str) -> list[dict[str, Any]]:
        data = await self.api.data(FIRINGS, {"f": filter}, key=self.owner)
        return [edge["node"] for edge in data["ruleFirings"]["edges"]]

    async def visible(self, worker: str) -> set[str]:
        data = await self.api.data(LISTING, key=worker)
        return {edge["node"]["id"] for edge in data["availableTasks"]["edges"]}


async def session(api: Api, account: Requester, fund: str = "500.00") -> RulesSession:
    return await RulesSession(api, account).setup(fund)


async def worker_id(api: Api, key: str) -> str:
    return (await api.data("{ me { ... on Worker { id } } }", key=key))["me"]["id"]


def cond(metric: str, operator: str, value: float | None = None, **extra: Any) -> dict[str, Any]:
    given: dict[str, Any] = {"metric": metric, "operator": operator, **extra}
    if value is not None:
        given["value"] = value
    return given


def metric_values(firing: dict[str, Any]) -> dict[str, Any]:
    return {
        m["metric"]: m["amount"]["amount"] if m["amount"] else m["value"] for m in firing["metrics"]
    }
