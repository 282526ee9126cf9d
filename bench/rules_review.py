"""What rules cost a review: approving a submission on a task with 5 enabled rules, against
approving one on a task with none.

    .venv/bin/python bench/rules_review.py [--iterations 300] [--workers 10] [--history 30]

runs on the embedded default (a fresh SQLite file in a temporary folder), and also on
PostgreSQL when DATABASE_URL names a server (in a fresh database that is dropped after).
It prints the median and 90th percentile of `approve_submission` (the whole use case: its
transaction, ledger, stream messages and, on the ruled task, the rules) for both tasks and
the ratio of the medians. The target is a ratio of at most 2.0.

The 5 rules are the kind the seeds describe, all evaluated after a review: a ban for more
than half rejected, skill := accepted % after 3 reviewed, a suspension for a low accepted
share over the last 10 (project-wide), a suspension for more than $1000 earned in 24 hours,
and a permanent ban for more than 80% rejected over the last 20 (project-wide). Each worker
has `--history` reviewed submissions before the timing starts, and the two tasks are timed
in alternation so that drift affects both alike.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from gql_server import db
from gql_server.models import ApiKey, Project
from gql_server.models.enums import ProofKind
from gql_server.services import accounts, review, rules, skills, submissions
from gql_server.services.principals import MemberPrincipal, WorkerPrincipal
from gql_server.services.task_lifecycle import publish_task
from gql_server.services.tasks import ProofRequirementDraft, TaskDraft, create_task
from gql_server.settings import load_settings


def _rules(skill_id: int) -> list[rules.RuleDraft]:
    def cond(metric: str, operator: str, value: float) -> dict[str, object]:
        return {"metric": metric, "operator": operator, "value": value}

    review = "REVIEW_RESULTS"
    return [
        rules.RuleDraft(
            review,
            None,
            [cond("REJECTED_PERCENT", "GT", 50), cond("REVIEWED_COUNT", "GTE", 4)],
            {"type": "BAN", "scope": "PROJECT", "days": 15, "reason": "Too many mistakes."},
        ),
        rules.RuleDraft(
            review,
            None,
            [cond("REVIEWED_COUNT", "GTE", 3)],
            {"type": "SET_SKILL_FROM_ACCEPTED_PERCENT", "skill_id": skill_id},
        ),
        rules.RuleDraft(
            review,
            10,
            [cond("ACCEPTED_PERCENT", "LT", 30), cond("REVIEWED_COUNT", "GTE", 10)],
            {"type": "SUSPEND_IN_TASK", "days": 7},
        ),
        rules.RuleDraft(
            "EARNINGS",
            None,
            [cond("INCOME_LAST_24_HOURS", "GT", 100_000)],
            {"type": "SUSPEND_IN_TASK", "days": 1},
        ),
        rules.RuleDraft(
            review,
            20,
            [cond("REJECTED_PERCENT", "GT", 80)],
            {"type": "BAN", "scope": "ACCOUNT", "permanent": True},
        ),
    ]


async def _setup(
    workers: int, history: int, iterations: int
) -> tuple[MemberPrincipal, list[tuple[int, list[int]]]]:
    """An account with a plain task and a ruled task; per task, the submissions to approve."""
    created = await accounts.create_account(
        name=f"Bench {uuid.uuid4().hex[:6]}",
        owner_name="Owner",
        owner_email=f"{uuid.uuid4().hex}@bench.test",
    )
    owner = created.owner
    api_key = await ApiKey.get(member_id=owner.id)
    principal = MemberPrincipal(owner.id, created.account.id, owner.role, api_key.id)
    await accounts.fund_account(principal, 10**9)
    project = await Project.create(account_id=created.account.id, name="Bench")
    skill = await skills.create_skill(principal, "Accuracy")
    people = []
    for _ in range(workers):
        worker = await accounts.register_worker(name="Bench worker", country="DE")
        worker_key = await ApiKey.get(worker_id=worker.id)
        people.append(WorkerPrincipal(worker.id, worker_key.id))
    per_worker = history + iterations // workers + 2
    prepared = []
    for ruled in (False, True):
        draft = TaskDraft(
            title="Label the picture",
            instructions="Say what it shows.",
            reward="0.01",
            budget="100000.00",
            time_limit_seconds=3600,
            proof_requirements=[ProofRequirementDraft("answer", ProofKind.TEXT)],
            max_submissions_per_worker=per_worker,
        )
        task = await create_task(principal, project.id, draft)
        await publish_task(principal, task.id)
        if ruled:
            for rule in _rules(skill.id):
                await rules.create_rule(principal, rules.RuleScope(task_id=task.id), rule)
        pending = []
        for worker in people:
            for index in range(per_worker):
                started = await submissions.start_submission(worker, task.id)
                await submissions.submit_submission(worker, started.id, {"answer": f"a {index}"})
                if index < history:
                    await review.approve_submission(principal, started.id)
                else:
                    pending.append(started.id)
        # Round robin over the workers, as a review queue would mix them.
        pending.sort(key=lambda pk: (pk % workers, pk))
        prepared.append((task.id, pending))
    return principal, prepared


async def _time_one(principal: MemberPrincipal, submission_id: int) -> float:
    start = time.perf_counter()
    await review.approve_submission(principal, submission_id)
    return time.perf_counter() - start


async def run(url: str, label: str, iterations: int, workers: int, history: int) -> float:
    settings = load_settings({"DATABASE_URL": url})
    await db.apply_migrations(settings)
    await db.open_database(settings)
    try:
        principal, [(_, plain), (_, ruled)] = await _setup(workers, history, iterations)
        warmup = min(20, iterations // 10)
        timings: dict[str, list[float]] = {"no rules": [], "5 rules": []}
        for index in range(iterations):
            for name, queue in (("no rules", plain), ("5 rules", ruled)):
                elapsed = await _time_one(principal, queue[index])
                if index >= warmup:
                    timings[name].append(elapsed)
    finally:
        await db.close_database()
    print(
        f"{label}: {iterations - warmup} approvals each "
        f"({workers} workers, {history} reviewed each before)"
    )
    medians = {}
    for name, values in timings.items():
        values.sort()
        medians[name] = statistics.median(values)
        p90 = values[int(len(values) * 0.9)]
        print(f"  {name:>8}: median {medians[name] * 1000:7.2f} ms, p90 {p90 * 1000:7.2f} ms")
    ratio = medians["5 rules"] / medians["no rules"]
    print(f"  ratio of the medians: {ratio:.2f} (target <= 2.0)")
    return ratio


async def _postgres(url: str, args: argparse.Namespace) -> float:
    name = f"gqs_bench_{uuid.uuid4().hex[:12]}"
    admin = url.replace("postgres://", "postgresql://", 1)
    connection = await asyncpg.connect(admin)
    await connection.execute(f'CREATE DATABASE "{name}"')
    await connection.close()
    parts = urlsplit(url)
    target = urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))
    try:
        return await run(target, "PostgreSQL", args.iterations, args.workers, args.history)
    finally:
        connection = await asyncpg.connect(admin)
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.close()


async def _one(args: argparse.Namespace) -> float:
    if args.backend == "postgres":
        return await _postgres(os.environ["DATABASE_URL"], args)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite://{Path(folder) / 'bench.sqlite3'}"
        return await run(url, "SQLite", args.iterations, args.workers, args.history)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--workers", type=int, default=10)
    parser.add_argument("--history", type=int, default=30)
    parser.add_argument("--backend", choices=("sqlite", "postgres"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.backend is not None:
        return 0 if asyncio.run(_one(args)) <= 2.0 else 1
    # One process per back end: the ORM is configured once per process.
    backends = ["sqlite"]
    if os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        backends.append("postgres")
    codes = [
        subprocess.run([sys.executable, __file__, *sys.argv[1:], "--backend", backend]).returncode
        for backend in backends
    ]
    return max(codes)


if __name__ == "__main__":
    sys.exit(main())
