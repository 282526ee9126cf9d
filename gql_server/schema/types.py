"""Object types. Each maps one model; nested objects are loaded through per-request loaders."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import strawberry

from gql_server import models
from gql_server.schema.cost import FAQ_ASSUMED, ListSize
from gql_server.schema.enums import (
    AcceptanceMode,
    CloseReason,
    Currency,
    MemberRole,
    ProofKind,
    SkillOperator,
    TaskStatus,
)
from gql_server.schema.relay import Connection, Node, to_global_id
from gql_server.schema.scalars import Decimal
from gql_server.services.money import format_amount
from gql_server.services.principals import MemberPrincipal

# Untyped here: the context type lives with the resolvers, which import these types.
Info = strawberry.Info


def manages(info: Info) -> bool:
    """The caller is an OWNER or a MANAGER of the account (who see its callback URLs)."""
    principal = info.context.principal
    return isinstance(principal, MemberPrincipal) and principal.role in (
        MemberRole.OWNER,
        MemberRole.MANAGER,
    )


@strawberry.type(description="An exact amount of money.")
class Money:
    amount: Decimal
    currency: Currency

    @classmethod
    def of(cls, minor: int, currency: models.enums.Currency) -> Money:
        return cls(amount=Decimal(format_amount(minor, currency)), currency=currency)


@strawberry.type
class Account(Node):
    name: str
    currency: Currency
    timezone: str = strawberry.field(description="IANA zone in which daily limits are counted.")
    balance: Money
    stored_callback_url: strawberry.Private[str | None]

    @strawberry.field(
        description="Where events of tasks without their own callback URL go. Null unless "
        "you are an OWNER or a MANAGER: a URL may carry a secret, as endpoints do."
    )
    def callback_url(self, info: Info) -> str | None:
        return self.stored_callback_url if manages(info) else None

    sandbox: bool = strawberry.field(
        description="Simulated workers only, funded freely; its keys start with cwk_test_."
    )
    response_target_seconds: int = strawberry.field(
        description="A worker's question is due this long after it was asked "
        "(setThreadResponseTarget)."
    )
    created_at: datetime

    @classmethod
    def from_model(cls, account: models.Account) -> Account:
        return cls(
            id=to_global_id("Account", account.id),
            response_target_seconds=account.response_target_seconds,
            sandbox=account.sandbox,
            stored_callback_url=account.callback_url,
            name=account.name,
            currency=account.currency,
            timezone=account.timezone,
            balance=Money.of(account.balance_minor, account.currency),
            created_at=account.created_at,
        )


@strawberry.type
class Member(Node):
    name: str
    email: str
    role: MemberRole
    account_pk: strawberry.Private[int]

    @strawberry.field
    async def account(self, info: Info) -> Account:
        return Account.from_model(await info.context.loaders.account.load(self.account_pk))

    @classmethod
    def from_model(cls, member: models.Member) -> Member:
        return cls(
            id=to_global_id("Member", member.id),
            name=member.name,
            email=member.email,
            role=member.role,
            account_pk=member.account_id,
        )


@strawberry.type(description="What a worker did on your account's tasks (never another's).")
class WorkerHistory:
    submissions: int = strawberry.field(description="Started or submitted, in every state.")
    pending: int = strawberry.field(description="Waiting for review.")
    paid: int = strawberry.field(description="Approved, or partly paid after a dispute.")
    rejected: int
    earned: Money = strawberry.field(description="Rewards, partial payments and bonuses.")


@strawberry.type
class Worker(Node):
    name: str = strawberry.field(
        description="Empty to an account the worker never worked for (named by id, in a "
        "restriction or a skill value): a profile is shown to the accounts one worked for."
    )
    country: str = strawberry.field(description="ISO 3166-1 alpha-2 code; empty as the name is.")
    pk: strawberry.Private[int]

    @strawberry.field(
        description="The worker's work on your account's tasks; null unless a member asks."
    )
    async def history(self, info: Info) -> WorkerHistory | None:
        principal = info.context.principal
        if not isinstance(principal, MemberPrincipal):
            return None
        found = await info.context.loaders.worker_history.load((principal.account_id, self.pk))
        currency = (await info.context.account()).currency
        return WorkerHistory(
            submissions=found.submissions,
            pending=found.pending,
            paid=found.paid,
            rejected=found.rejected,
            earned=Money.of(found.earned_minor, currency),
        )

    @classmethod
    def from_model(cls, worker: models.Worker) -> Worker:
        return cls(
            id=to_global_id("Worker", worker.id),
            name=worker.name,
            country=worker.country,
            pk=worker.id,
        )


@strawberry.type
class Project(Node):
    name: str
    description: str
    created_at: datetime

    @classmethod
    def from_model(cls, project: models.Project) -> Project:
        return cls(
            id=to_global_id("Project", project.id),
            name=project.name,
            description=project.description,
            created_at=project.created_at,
        )


@strawberry.type
class Batch(Node):
    name: str
    created_at: datetime
    pk: strawberry.Private[int]

    @strawberry.field(description="The tasks in the batch.")
    async def task_count(self, info: Info) -> int:
        return (await info.context.loaders.batch_counts.load(self.pk)).tasks

    @strawberry.field(description="The submissions on the batch's tasks, in every state.")
    async def submission_count(self, info: Info) -> int:
        return (await info.context.loaders.batch_counts.load(self.pk)).submissions

    @classmethod
    def from_model(cls, batch: models.Batch) -> Batch:
        return cls(
            id=to_global_id("Batch", batch.id),
            name=batch.name,
            created_at=batch.created_at,
            pk=batch.id,
        )


@strawberry.type(description="Something a worker must attach to a submission.")
class ProofRequirement:
    name: str
    kind: ProofKind
    required: bool
    description: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProofRequirement:
        return cls(
            name=data["name"],
            kind=ProofKind(data["kind"]),
            required=data["required"],
            description=data["description"],
        )


@strawberry.type
class SkillFilter:
    skill_id: strawberry.ID
    operator: SkillOperator
    value: int | None


@strawberry.type(
    description="Who may see and start a task. Banned and suspended workers never can."
)
class Targeting:
    countries_allowed: list[str]
    countries_denied: list[str]
    min_approval_rate: float | None
    min_reviewed_count: int | None
    skill_filters: list[SkillFilter]
    invited_worker_ids: list[strawberry.ID]
    previous_performers_min_approval_rate: float | None = strawberry.field(
        description="Only workers approved this often (%) on the account's earlier tasks."
    )

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Targeting:
        return cls(
            countries_allowed=data.get("countries_allowed", []),
            countries_denied=data.get("countries_denied", []),
            min_approval_rate=data.get("min_approval_rate"),
            min_reviewed_count=data.get("min_reviewed_count"),
            skill_filters=[
                SkillFilter(
                    skill_id=to_global_id("Skill", f["skill_id"]),
                    operator=SkillOperator(f["operator"]),
                    value=f.get("value"),
                )
                for f in data.get("skill_filters", [])
            ],
            invited_worker_ids=[
                to_global_id("Worker", pk) for pk in data.get("invited_worker_ids", [])
            ],
            previous_performers_min_approval_rate=data.get("previous_performers_min_approval_rate"),
        )


@strawberry.type(description="The money of a task; `remaining = budget - committed - spent`.")
class BudgetFigures:
    budget: Money = strawberry.field(description="Allocated to the task from the account balance.")
    committed: Money = strawberry.field(
        description="Reserved for started and submitted submissions."
    )
    spent: Money = strawberry.field(description="Paid: rewards, bonuses and partial payments.")
    remaining: Money = strawberry.field(description="Free to fund new submissions.")


@strawberry.type
class Task(Node):
    title: str
    instructions: str
    proof_requirements: list[ProofRequirement]
    category: str | None
    reward: Money
    requested_budget: Money = strawberry.field(
        description="The budget asked for; allocated from the account balance on publishing."
    )
    figures: BudgetFigures
    max_submissions: int | None
    max_submissions_per_worker: int
    time_limit_seconds: int
    daily_submission_limit: int | None
    starts_at: datetime | None
    expires_at: datetime | None
    acceptance_mode: AcceptanceMode
    auto_approval_delay_seconds: int = strawberry.field(description="0 = never auto-approve.")
    targeting: Targeting
    variant_group: str | None
    stored_callback_url: strawberry.Private[str | None]
    reopen_rejected_slots: bool
    reopen_banned_worker_slots: bool

    @strawberry.field(
        description="Null unless you are an OWNER or a MANAGER: a URL may carry a secret."
    )
    def callback_url(self, info: Info) -> str | None:
        return self.stored_callback_url if manages(info) else None

    status: TaskStatus
    close_reason: CloseReason | None
    published_at: datetime | None
    closed_at: datetime | None
    created_at: datetime
    version: int = strawberry.field(description="Grows with every change live streams report.")
    project_pk: strawberry.Private[int]
    batch_pk: strawberry.Private[int | None]
    id_pk: strawberry.Private[int]

    @strawberry.field
    async def project(self, info: Info) -> Project:
        return Project.from_model(await info.context.loaders.project.load(self.project_pk))

    @strawberry.field
    async def batch(self, info: Info) -> Batch | None:
        if self.batch_pk is None:
            return None
        return Batch.from_model(await info.context.loaders.batch.load(self.batch_pk))

    @strawberry.field(
        description="The task's FAQ, shown to workers with the instructions.",
        # Priced as a well-kept FAQ; MAX_FAQ_ENTRIES bounds the worst case.
        directives=[ListSize(assumed_size=FAQ_ASSUMED)],
    )
    async def faq(self, info: Info) -> list[FaqEntry]:
        return [FaqEntry.from_model(e) for e in await info.context.loaders.faq.load(self.id_pk)]

    @strawberry.field(
        description="Every version of the instructions, oldest first (empty while they never "
        "changed)."
    )
    async def instruction_revisions(self, info: Info) -> list[InstructionRevision]:
        rows = await info.context.loaders.instruction_revisions.load(self.id_pk)
        return [InstructionRevision.from_model(row) for row in rows]

    @classmethod
    def from_model(cls, task: models.Task, currency: models.enums.Currency) -> Task:
        def money(minor: int) -> Money:
            return Money.of(minor, currency)

        return cls(
            id=to_global_id("Task", task.id),
            title=task.title,
            instructions=task.instructions,
            proof_requirements=[ProofRequirement.from_json(p) for p in task.proof_requirements],
            category=task.category,
            reward=money(task.reward_minor),
            requested_budget=money(task.requested_budget_minor),
            figures=BudgetFigures(
                budget=money(task.budget_minor),
                committed=money(task.committed_minor),
                spent=money(task.spent_minor),
                remaining=money(task.remaining_minor),
            ),
            max_submissions=task.max_submissions,
            max_submissions_per_worker=task.max_submissions_per_worker,
            time_limit_seconds=task.time_limit_seconds,
            daily_submission_limit=task.daily_submission_limit,
            starts_at=task.starts_at,
            expires_at=task.expires_at,
            acceptance_mode=task.acceptance_mode,
            auto_approval_delay_seconds=task.auto_approval_delay_seconds,
            targeting=Targeting.from_json(task.targeting),
            variant_group=task.variant_group,
            stored_callback_url=task.callback_url,
            reopen_rejected_slots=task.reopen_rejected_slots,
            reopen_banned_worker_slots=task.reopen_banned_worker_slots,
            status=task.status,
            close_reason=task.close_reason,
            published_at=task.published_at,
            closed_at=task.closed_at,
            created_at=task.created_at,
            version=task.version,
            project_pk=task.project_id,
            batch_pk=task.batch_id,
            id_pk=task.id,
        )


@strawberry.type(description="A question and its answer on a task's FAQ.")
class FaqEntry(Node):
    question: str
    answer: str
    created_at: datetime

    @classmethod
    def from_model(cls, entry: models.FaqEntry) -> FaqEntry:
        return cls(
            id=to_global_id("FaqEntry", entry.id),
            question=entry.question,
            answer=entry.answer,
            created_at=entry.created_at,
        )


@strawberry.type(description="One version of a task's instructions: when it was set and by whom.")
class InstructionRevision:
    number: int = strawberry.field(description="1 for the first version, then one more each.")
    instructions: str
    created_at: datetime
    member_pk: strawberry.Private[int | None]

    @strawberry.field(description="Who set it (null for workers, or a removed author).")
    async def author(self, info: Info) -> Member | None:
        if self.member_pk is None or not isinstance(info.context.principal, MemberPrincipal):
            return None
        return Member.from_model(await info.context.loaders.member.load(self.member_pk))

    @classmethod
    def from_model(cls, row: models.InstructionRevision) -> InstructionRevision:
        return cls(
            number=row.number,
            instructions=row.instructions,
            created_at=row.created_at,
            member_pk=row.member_id,
        )


TaskConnection = Connection[Task]
ProjectConnection = Connection[Project]


@strawberry.type(
    description="The instance's operator: the partner application workers sign up through. "
    "It manages workers and sees no account's data."
)
class Operator:
    name: str


Principal = Annotated[
    Member | Worker | Operator,
    strawberry.union("Principal", description="The caller of the API."),
]
