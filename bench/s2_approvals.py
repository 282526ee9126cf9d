"""S2, reviews on one task: `approveSubmission` from concurrent clients on one task, beside
the same three writes (submission state, task figures, ledger row) in raw asyncpg, one
transaction per review, on as many connections; and the same approvals on a task with the
5 quality-control rules of `bench.data.five_rules`, beside those on the task without
rules. PostgreSQL only: SQLite serves one connection, so there is nothing concurrent to
compare. Also counts the SQL statements of one approval (in-process). After the run each
task's figures are checked against its ledger."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
import httpx

from bench import data
from bench.harness import Figure, product_server, sql_statements
from gql_server.models import ApiKey, LedgerEntry, Project, Task
from gql_server.models.enums import ProofKind
from gql_server.services import accounts, ledger, rules, skills, submissions
from gql_server.services.global_ids import global_id
from gql_server.services.principals import MemberPrincipal, WorkerPrincipal
from gql_server.services.streams import latest_version, task_queue_channel
from gql_server.services.task_lifecycle import publish_task
from gql_server.services.tasks import ProofRequirementDraft, TaskDraft, create_task
from gql_server.services.workers import register_worker
from gql_server.settings import Settings

APPROVE = (
    "mutation ($id: ID!) { approveSubmission(input: {submissionId: $id}) "
    "{ submission { state } userErrors { code message } } }"
)
PER_CLIENT = 20


async def _requester() -> tuple[MemberPrincipal, str]:
    created = await accounts.create_account(
        name="Bench", owner_name="Owner", owner_email=f"{uuid.uuid4().hex}@bench.test"
    )
    key = await ApiKey.get(member_id=created.owner.id)
    principal = MemberPrincipal(created.owner.id, created.account.id, created.owner.role, key.id)
    await accounts.fund_account(principal, 10**10)
    return principal, created.owner_api_key


async def _task_with_submitted(
    principal: MemberPrincipal, count: int, workers: int, *, ruled: bool = False
) -> tuple[Task, list[int]]:
    project = await Project.create(
        account_id=principal.account_id, name=f"P {uuid.uuid4().hex[:6]}"
    )
    draft = TaskDraft(
        title="Bench",
        instructions="Approve me.",
        reward="0.01",
        budget=f"{count * 2}.00",
        time_limit_seconds=3600,
        proof_requirements=[ProofRequirementDraft("answer", ProofKind.TEXT)],
        max_submissions_per_worker=count,
    )
    task = await create_task(principal, project.id, draft)
    task = await publish_task(principal, task.id)
    if ruled:
        skill = await skills.create_skill(principal, f"Accuracy {uuid.uuid4().hex[:6]}")
        for rule in data.five_rules(skill.id):
            await rules.create_rule(principal, rules.RuleScope(task_id=task.id), rule)
    people = []
    for index in range(workers):
        issued = await register_worker(f"W{index}", "DE")
        key = await ApiKey.get(worker_id=issued.worker.id)
        people.append(WorkerPrincipal(issued.worker.id, key.id))
    ids = []
    for index in range(count):
        worker = people[index % workers]
        started = await submissions.start_submission(worker, task.id)
        await submissions.submit_submission(worker, started.id, {"answer": f"a{index}"})
        ids.append(started.id)
    return task, ids


async def _concurrently(
    clients: int, ids: list[int], approve: Callable[[int], Awaitable[None]]
) -> tuple[float, list[float]]:
    queue = list(reversed(ids))
    latencies: list[float] = []

    async def client() -> None:
        while queue:
            pk = queue.pop()
            started = time.monotonic()
            await approve(pk)
            latencies.append(time.monotonic() - started)

    began = time.monotonic()
    await asyncio.gather(*(client() for _ in range(clients)))
    return len(ids) / (time.monotonic() - began), latencies


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000


async def run(
    settings: Settings, env: dict[str, str], rounds: int, seconds: float, clients: int
) -> list[Figure]:
    if settings.is_sqlite:
        print("S2 needs PostgreSQL (set DATABASE_URL): skipped")
        return []
    per_round = clients * (PER_CLIENT if seconds >= 1 else 2)
    principal, key = await _requester()
    product_task, product_ids = await _task_with_submitted(principal, per_round * rounds, clients)
    _, base_ids = await _task_with_submitted(principal, per_round * rounds, clients)
    ruled_task, ruled_ids = await _task_with_submitted(
        principal, per_round * rounds, clients, ruled=True
    )
    rate = Figure(
        "S2",
        f"approvals/s, {clients} clients, one task",
        "/s",
        True,
        baseline_name="raw asyncpg, 3 writes",
    )
    p99 = Figure("S2", "approval p99", "ms", False, baseline_name="raw asyncpg")
    ruled_rate = Figure(
        "S2", f"approvals/s with 5 rules, {clients} clients", "/s", True, baseline_name="no rules"
    )
    headers = {"Authorization": f"Bearer {key}"}
    pool = await asyncpg.create_pool(
        settings.database_url.replace("postgres://", "postgresql://", 1),
        min_size=clients,
        max_size=clients,
    )

    async def raw(pk: int) -> None:
        async with pool.acquire() as connection, connection.transaction():
            row = await connection.fetchrow(
                "UPDATE submission SET state = 'APPROVED', reviewed_at = now(), "
                "paid_minor = reward_minor, version = version + 1 "
                "WHERE id = $1 AND state = 'SUBMITTED' RETURNING task_id, worker_id, reward_minor",
                pk,
            )
            assert row is not None
            await connection.execute(
                "UPDATE task SET committed_minor = committed_minor - $2, "
                "spent_minor = spent_minor + $2 WHERE id = $1 AND committed_minor >= $2",
                row["task_id"],
                row["reward_minor"],
            )
            await connection.execute(
                "INSERT INTO ledger_entry (account_id, task_id, submission_id, worker_id, "
                "from_bucket, to_bucket, amount_minor, reason, actor_kind, created_at) VALUES "
                "($1, $2, $3, $4, 'TASK_COMMITTED', 'TASK_SPENT', $5, 'PAY', 'MEMBER', now())",
                principal.account_id,
                row["task_id"],
                pk,
                row["worker_id"],
                row["reward_minor"],
            )

    queued = await latest_version(task_queue_channel(product_task.id))
    try:
        with product_server({**env, "GQL_DB_POOL_SIZE": str(clients + 2)}) as base:
            async with httpx.AsyncClient(
                base_url=base, timeout=120, limits=httpx.Limits(max_connections=clients)
            ) as http:

                async def product(pk: int) -> None:
                    response = await http.post(
                        "/graphql",
                        json={"query": APPROVE, "variables": {"id": global_id("Submission", pk)}},
                        headers=headers,
                    )
                    answer = response.json()["data"]["approveSubmission"]
                    assert (
                        answer["userErrors"] == [] and answer["submission"]["state"] == "APPROVED"
                    ), answer

                for index in range(rounds):
                    chunk = slice(index * per_round, (index + 1) * per_round)
                    product_rate, product_latencies = await _concurrently(
                        clients, product_ids[chunk], product
                    )
                    base_rate, base_latencies = await _concurrently(clients, base_ids[chunk], raw)
                    with_rules, _ = await _concurrently(clients, ruled_ids[chunk], product)
                    rate.product.append(product_rate)
                    ruled_rate.product.append(with_rules)
                    ruled_rate.baseline.append(product_rate)
                    rate.baseline.append(base_rate)
                    p99.product.append(_p99(product_latencies))
                    p99.baseline.append(_p99(base_latencies))
    finally:
        await pool.close()
    for checked in (product_task, ruled_task):
        figures = await ledger.task_figures_from_ledger(checked.id)
        task = await Task.get(id=checked.id)
        assert (task.committed_minor, task.spent_minor, task.remaining_minor) == (
            figures.committed_minor,
            figures.spent_minor,
            figures.remaining_minor,
        ), "the task's figures differ from its ledger"
        assert (
            await LedgerEntry.filter(task_id=checked.id, reason="PAY").count() == per_round * rounds
        )
    # Under load one sequencing pass covers the approvals that committed while the one
    # before it ran: fewer messages (and passes) than approvals.
    messages = await latest_version(task_queue_channel(product_task.id)) - queued
    print(
        f"S2: {await _statements_per_approval(settings, principal, key)} SQL statements for "
        f"one approval alone; {per_round * rounds} approvals on one task made {messages} "
        "messages of its queue stream"
    )
    return [rate, p99, ruled_rate]


async def _statements_per_approval(settings: Settings, principal: MemberPrincipal, key: str) -> int:
    _, ids = await _task_with_submitted(principal, 2, 1)
    pending = iter(ids)
    return await sql_statements(
        settings,
        key,
        lambda: {"query": APPROVE, "variables": {"id": global_id("Submission", next(pending))}},
    )
