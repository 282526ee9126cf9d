"""Demo data for a first look: an account with money, tasks in several states, and work."""

from __future__ import annotations

from dataclasses import dataclass, field

from gql_server.models import Account
from gql_server.models.enums import MemberRole, ProofKind
from gql_server.services import (
    accounts,
    members,
    projects,
    review,
    submissions,
    task_lifecycle,
    tasks,
)
from gql_server.services.principals import MemberPrincipal, WorkerPrincipal
from gql_server.services.workers import register_worker

DEMO_ACCOUNT_NAME = "Demo Requester"


@dataclass
class Demo:
    account_id: int
    owner_api_key: str | None
    worker_api_keys: list[str] = field(default_factory=list)

    def describe(self) -> str:
        if self.owner_api_key is None:
            return f"The demo account ({self.account_id}) exists already; nothing was added."
        lines = [
            f"Demo account {self.account_id} created.",
            f"Owner API key (shown once): {self.owner_api_key}",
            "Worker API keys:",
            *(f"  {key}" for key in self.worker_api_keys),
        ]
        return "\n".join(lines)


def _draft(title: str, reward: str, budget: str, **extra: object) -> tasks.TaskDraft:
    return tasks.TaskDraft(
        title=title,
        instructions=f"{title}. Follow the steps and attach the proof asked for.",
        reward=reward,
        budget=budget,
        time_limit_seconds=3600,
        proof_requirements=[
            tasks.ProofRequirementDraft(name="screenshot", kind=ProofKind.SCREENSHOT_URL),
            tasks.ProofRequirementDraft(name="notes", kind=ProofKind.TEXT, required=False),
        ],
        **extra,  # type: ignore[arg-type]
    )


async def seed_demo(*, skip_if_present: bool = False) -> Demo:
    existing = await Account.filter(name=DEMO_ACCOUNT_NAME).first()
    if skip_if_present and existing is not None:
        return Demo(account_id=existing.id, owner_api_key=None)

    created = await accounts.create_account(
        name=DEMO_ACCOUNT_NAME,
        owner_name="Dana Owner",
        owner_email="owner@demo.example",
        timezone="America/Los_Angeles",
    )
    owner = MemberPrincipal(
        member_id=created.owner.id,
        account_id=created.account.id,
        role=MemberRole.OWNER,
        api_key_id=0,
    )
    await members.create_member(
        created.account.id, "Avery Auditor", "auditor@demo.example", MemberRole.AUDITOR
    )
    await accounts.fund_account(owner, 50_000)
    project = await projects.create_project(
        owner, "App store reviews", "Install, use and review partner apps."
    )

    open_task = await tasks.create_task(
        owner,
        project.id,
        _draft(
            "Install the app and rate it", "1.50", "150.00", category="apps", max_submissions=100
        ),
    )
    await tasks.create_task(
        owner,
        project.id,
        _draft("Sign up for the newsletter", "0.40", "20.00", variant_group="signup"),
    )
    second = await tasks.create_task(
        owner,
        project.id,
        _draft("Write a short store review", "3.00", "90.00", variant_group="signup"),
    )
    await task_lifecycle.publish_task(owner, open_task.id)
    await task_lifecycle.publish_task(owner, second.id)

    demo = Demo(account_id=created.account.id, owner_api_key=created.owner_api_key)
    countries = ["US", "DE", "IN", "BR", "PH", "NG"]
    workers = []
    for index, country in enumerate(countries):
        registered = await register_worker(f"Worker {index + 1}", country)
        assert registered.api_key is not None
        demo.worker_api_keys.append(registered.api_key)
        workers.append(WorkerPrincipal(worker_id=registered.worker.id, api_key_id=0))

    proof = {"screenshot": "https://img.example/proof.png", "notes": "Done as asked."}
    for index, worker in enumerate(workers):
        started = await submissions.start_submission(worker, open_task.id)
        if index == 0:
            continue  # stays STARTED
        await submissions.submit_submission(worker, started.id, proof)
        if index == 1:
            await review.approve_submission(owner, started.id)
        elif index == 2:
            await review.reject_submission(
                owner, started.id, "The screenshot does not show the rating."
            )
        # the others wait in the review queue
    return demo
