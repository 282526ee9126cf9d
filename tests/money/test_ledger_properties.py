"""A stateful property test of the money: random sequences of use cases on one account.

Hypothesis drives a RuleBasedStateMachine whose rules call the services (fund, publish,
change budget, pause, resume, close, start, submit, approve with or without an
idempotency key, reject, request revision, bonus, dispute, resolve, bulk review, and time
passing with the expiry and auto-approval sweeps under a FrozenClock). After every step:

- no bucket is negative, and every task's figures and the account balance equal the sums
  of the ledger; the money funded equals the balance plus the tasks' budgets;
- what is committed is the reward of every submission that holds one, what is spent is
  what the submissions were paid, and the slot and approval counters match them;
- a live task is never one that should have closed, and a closed task keeps no remaining;
- every submission moved along an allowed transition, or not at all;
- a use case refused with a UseCaseError changed nothing. Any other exception fails.

The services are async and Tortoise's connections belong to the session event loop; a
sync test runs while that loop is idle, so each rule runs its coroutine on it with
run_until_complete.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from typing import Any, TypeVar

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from tortoise.functions import Sum

from gql_server.clock import FrozenClock
from gql_server.models import LedgerEntry, Submission, Task, TaskWorkerCounter
from gql_server.models.enums import (
    DisputeStatus,
    LedgerBucket,
    ReviewDecision,
    SubmissionState,
    TaskStatus,
)
from gql_server.models.vocabulary import LIVE_TASK_STATUSES as LIVE
from gql_server.services import accounts
from gql_server.services.errors import UseCaseError
from gql_server.services.principals import WorkerPrincipal
from gql_server.services.review import (
    approve_submission,
    auto_approve_due,
    bulk_review,
    pay_bonus,
    reject_submission,
    request_revision,
    resolve_dispute,
)
from gql_server.services.submission_states import TRANSITIONS
from gql_server.services.submissions import (
    dispute_rejection,
    expire_started,
    start_submission,
    submit_submission,
)
from gql_server.services.task_lifecycle import (
    change_budget,
    close_task,
    pause_task,
    publish_task,
    resume_task,
)
from tests.factories import (
    Requester,
    answer,
    assert_ledger_consistent,
    frozen_clock,
    new_requester,
    new_task,
    new_worker,
    snapshot,
)

T = TypeVar("T")
S = SubmissionState
HOLDING = (S.STARTED, S.SUBMITTED, S.REVISION_REQUESTED)  # states that keep a reward committed
# Where `progress` takes a submission next; an upheld dispute is final for it.
NOT_FINAL = (*HOLDING, S.DISPUTED)
RESOLUTIONS = (DisputeStatus.OVERTURNED, DisputeStatus.UPHELD, DisputeStatus.PARTIALLY_PAID)
EXAMPLES = 30
STEPS = 40
FIRST_FUNDING = 800  # the first two tasks take 680 of it

# (reward, budget, configuration, published at the start) of the account's tasks.
TASKS: list[tuple[str, str, dict[str, Any], bool]] = [
    ("1.00", "4.00", {"max_submissions_per_worker": 2, "time_limit_seconds": 900}, True),
    ("0.70", "2.80", {"max_submissions": 3, "auto_approval_delay_seconds": 1800}, True),
    ("1.20", "2.40", {"reopen_rejected_slots": True, "time_limit_seconds": 1200}, False),
]
TASK = st.integers(0, len(TASKS) - 1)
WORKERS = 3

pytestmark = pytest.mark.usefixtures("database")


class Runs:
    """How much the machine did, to prove that examples really ran."""

    examples = 0
    steps = 0
    refused = 0
    outcomes: Counter[str] = Counter()


class LedgerMachine(RuleBasedStateMachine):
    loop: asyncio.AbstractEventLoop  # set by the test: the session loop the database uses

    def __init__(self) -> None:
        super().__init__()
        Runs.examples += 1
        self.task_ids: list[int] = []
        self.submission_ids: list[int] = []
        self.states: dict[int, SubmissionState] = {}
        self.turn = 0
        self.last_snapshot: dict[str, Any] = {}
        self.live: set[int] = set()
        self.task_of: dict[int, int] = {}
        self._clock_context = frozen_clock()
        self.clock: FrozenClock = self._clock_context.__enter__()
        try:
            self.requester: Requester = self.run(new_requester(fund_minor=FIRST_FUNDING))
            self.funded = FIRST_FUNDING
            for reward, budget, extra, published in TASKS:
                task = self.run(
                    new_task(
                        self.requester, publish=published, reward=reward, budget=budget, **extra
                    )
                )
                self.task_ids.append(task.id)
            self.workers = [self.run(new_worker()) for _ in range(WORKERS)]
            # A submission on each open task, so that every rule applies from the first step.
            for index, (task_id, task) in enumerate(zip(self.task_ids, TASKS, strict=True)):
                if task[3]:
                    started = self.run(start_submission(self.workers[index].principal, task_id))
                    self.submission_ids.append(started.id)
                    self.states[started.id] = started.state
        except BaseException:
            self._clock_context.__exit__(None, None, None)
            raise
        self.worker_of = {w.id: w.principal for w in self.workers}

    def run(self, coroutine: Awaitable[T]) -> T:
        return self.loop.run_until_complete(coroutine)

    def attempt(self, name: str, make: Callable[[], Awaitable[Any]]) -> None:
        """Run a use case; a refusal must leave everything as it was."""
        Runs.steps += 1
        account_id = self.requester.account_id
        # Taken by the invariant check after the previous step, unless this rule changed
        # something since (a rule may attempt two use cases).
        before = self.last_snapshot or self.run(snapshot(account_id))
        try:
            self.run(make())
        except UseCaseError as refused:
            Runs.refused += 1
            Runs.outcomes[f"{name}: {refused.errors[0].code}"] += 1
            after = self.run(snapshot(account_id))
            assert after == before, f"{name} was refused ({refused}) but changed something"
        else:
            Runs.outcomes[f"{name}: ok"] += 1
            self.last_snapshot = {}

    def pick(self, index: int, *states: SubmissionState) -> int:
        """A submission: for an even index one in `states` if there is one, else any.

        Half the picks thus fit the use case and half are anything, legal or not.
        """
        fitting = [pk for pk in self.submission_ids if self.states[pk] in states]
        pool = fitting if index % 2 == 0 and fitting else self.submission_ids
        return pool[index // 2 % len(pool)]

    def task(self, index: int) -> int:
        return self.task_ids[index % len(self.task_ids)]

    def teardown(self) -> None:
        try:
            account_id = self.requester.account_id
            self.run(assert_ledger_consistent(account_id))
            # Leave no open task behind for other tests' listings of available tasks.
            for task_id in self.task_ids:
                task = self.run(Task.get(id=task_id))
                if task.status in LIVE:
                    self.run(close_task(self.requester.principal, task_id))
            self.run(assert_ledger_consistent(account_id))
        finally:
            self._clock_context.__exit__(None, None, None)

    # --- the rules ------------------------------------------------------------------------
    # Few, broad rules: Hypothesis draws some rules much more often than others, and a
    # broad rule keeps every use case reachable in most examples. Submission picks are
    # biased towards submissions the use case fits (see `pick`), and `progress` and
    # `close_busy_task` make the long chains (start to resolved dispute; review after
    # closure) common.

    @precondition(lambda self: self.submission_ids)
    @rule()
    def progress(self) -> None:
        """Take an unfinished submission one step further along its way.

        Random picks seldom chain the five steps from a start to a resolved dispute; this
        rule does, choosing each review in turn: approve, reject, revise, and for a
        dispute: overturn, uphold, pay part.
        """
        member = self.requester.principal
        moving = [pk for pk in self.submission_ids if self.states[pk] in NOT_FINAL]
        if not moving:
            return
        self.turn += 1
        pk = moving[self.turn % len(moving)]
        state = self.states[pk]

        async def call() -> None:
            if state in (S.STARTED, S.REVISION_REQUESTED):
                await submit_submission(await self._worker_of(pk), pk, answer("a cat"))
            elif state == S.SUBMITTED:
                choice = self.turn % 3
                if choice == 0:
                    await approve_submission(member, pk)
                elif choice == 1:
                    await reject_submission(member, pk, "Wrong.")
                else:
                    await request_revision(member, pk, "Look again.")
            elif state == S.REJECTED:
                await dispute_rejection(await self._worker_of(pk), pk, "It was right.")
            else:
                resolution = RESOLUTIONS[self.turn % 3]
                partial = 50 if resolution == DisputeStatus.PARTIALLY_PAID else None
                await resolve_dispute(member, pk, resolution, "", partial)

        self.attempt(f"progress {state}", call)

    @rule(amount=st.integers(1, 400))
    def fund(self, amount: int) -> None:
        member = self.requester.principal

        async def call() -> None:
            await accounts.fund_account(member, amount)
            self.funded += amount

        self.attempt("fund", call)

    @rule(
        task=TASK,
        action=st.sampled_from(["budget", "budget", "publish", "pause", "resume", "close"]),
        change=st.integers(-250, 400),
    )
    def manage_task(self, task: int, action: str, change: int) -> None:
        member, task_id = self.requester.principal, self.task(task)

        async def new_budget() -> None:
            current = await Task.get(id=task_id)
            base = current.budget_minor if current.published_at else current.requested_budget_minor
            await change_budget(member, task_id, max(0, base + change))

        calls: dict[str, Callable[[], Awaitable[Any]]] = {
            "budget": new_budget,
            "publish": lambda: publish_task(member, task_id),
            "pause": lambda: pause_task(member, task_id),
            "resume": lambda: resume_task(member, task_id),
            "close": lambda: close_task(member, task_id),
        }
        self.attempt(action, calls[action])

    def busy_live_tasks(self) -> list[int]:
        """Live tasks with a submission that holds a reward: closing them leaves work to review."""
        return sorted(
            {self.task_of[pk] for pk, state in self.states.items() if state in HOLDING} & self.live
        )

    # Closing a task with pending work, then reviewing that work, is where late money
    # movements happen; plain closing (in manage_task) seldom meets pending work.
    @precondition(lambda self: self.busy_live_tasks())
    @rule(index=st.integers(0, 3))
    def close_busy_task(self, index: int) -> None:
        busy = self.busy_live_tasks()
        task_id = busy[index % len(busy)]
        self.attempt("close busy", lambda: close_task(self.requester.principal, task_id))

    # One start in five tries the draft (NOT_FOUND until it is published).
    @rule(
        task=st.sampled_from([0, 0, 1, 1, 2]),
        worker=st.integers(0, WORKERS - 1),
        and_submit=st.booleans(),
    )
    def start(self, task: int, worker: int, and_submit: bool) -> None:
        async def call() -> None:
            submission = await start_submission(self.workers[worker].principal, self.task_ids[task])
            self.submission_ids.append(submission.id)
            self.states[submission.id] = submission.state

        known = len(self.submission_ids)
        self.attempt("start", call)
        if and_submit and len(self.submission_ids) > known:
            pk = self.submission_ids[-1]
            self.attempt(
                "submit",
                lambda: submit_submission(self.workers[worker].principal, pk, answer("a cat")),
            )

    async def _worker_of(self, pk: int) -> WorkerPrincipal:
        """The principal of the worker who started the submission."""
        return self.worker_of[(await Submission.get(id=pk)).worker_id]

    @precondition(lambda self: self.submission_ids)
    @rule(index=st.integers(0, 40), text=st.sampled_from(["a cat", "a dog", ""]))
    def submit(self, index: int, text: str) -> None:
        pk = self.pick(index, S.STARTED, S.REVISION_REQUESTED)

        async def call() -> None:
            await submit_submission(await self._worker_of(pk), pk, answer(text))

        self.attempt("submit", call)

    @precondition(lambda self: self.submission_ids)
    @rule(
        index=st.integers(0, 40),
        decision=st.sampled_from(
            ["approve", "approve k1", "approve k2", "reject", "reject", "reject blank", "revise"]
        ),
    )
    def review(self, index: int, decision: str) -> None:
        member, pk = self.requester.principal, self.pick(index, S.SUBMITTED)
        key = decision.split(" ")[1] if decision.startswith("approve ") else None
        calls: dict[str, Callable[[], Awaitable[Any]]] = {
            "approve": lambda: approve_submission(member, pk, key),
            "reject": lambda: reject_submission(member, pk, "Wrong."),
            "reject blank": lambda: reject_submission(member, pk, " "),
            "revise": lambda: request_revision(member, pk, "Look again."),
        }
        action = decision.split(" k")[0]
        self.attempt(action, calls[action])

    @precondition(lambda self: self.submission_ids)
    @rule(
        indexes=st.lists(st.integers(0, 40), min_size=1, max_size=5),
        decision=st.sampled_from([ReviewDecision.APPROVED, ReviewDecision.REJECTED]),
    )
    def bulk(self, indexes: list[int], decision: ReviewDecision) -> None:
        ids: list[int | None] = [self.pick(i, S.SUBMITTED) for i in indexes]
        self.attempt("bulk", lambda: bulk_review(self.requester.principal, ids, decision, "Bulk."))

    @precondition(lambda self: self.submission_ids)
    @rule(index=st.integers(0, 40), amount=st.integers(1, 250))
    def bonus(self, index: int, amount: int) -> None:
        pk = self.pick(index, S.APPROVED, S.PARTIALLY_PAID)
        self.attempt("bonus", lambda: pay_bonus(self.requester.principal, pk, amount))

    @precondition(lambda self: self.submission_ids)
    @rule(
        index=st.integers(0, 40),
        resolution=st.sampled_from(
            [
                None,  # the worker disputes
                DisputeStatus.UPHELD,
                DisputeStatus.OVERTURNED,
                DisputeStatus.PARTIALLY_PAID,
            ]
        ),
        amount=st.integers(1, 120),
    )
    def dispute_or_resolve(self, index: int, resolution: DisputeStatus | None, amount: int) -> None:
        if resolution is None:
            pk = self.pick(index, S.REJECTED)

            async def dispute() -> None:
                await dispute_rejection(await self._worker_of(pk), pk, "It was right.")

            self.attempt("dispute", dispute)
            return
        pk = self.pick(index, S.DISPUTED)
        partial = amount if resolution == DisputeStatus.PARTIALLY_PAID else None
        self.attempt(
            f"resolve {resolution}",
            lambda: resolve_dispute(self.requester.principal, pk, resolution, "", partial),
        )

    @rule(minutes=st.integers(1, 40))
    def time_passes(self, minutes: int) -> None:
        self.clock.advance(timedelta(minutes=minutes))

        async def sweeps() -> None:
            await expire_started()
            await auto_approve_due()

        self.attempt("sweeps", sweeps)

    # --- what must hold after every step ---------------------------------------------------

    @invariant()
    def money_adds_up(self) -> None:
        self.run(self._check())

    async def _check(self) -> None:
        account_id = self.requester.account_id
        tasks = await Task.filter(account_id=account_id)
        account = await accounts.get_account(account_id)
        balance, buckets = await ledger_sums(account_id)
        assert account.balance_minor == balance >= 0
        for task in tasks:
            columns = (task.committed_minor, task.spent_minor, task.remaining_minor)
            from_ledger = tuple(buckets[task.id, bucket] for bucket in TASK_BUCKETS)
            assert columns == from_ledger, f"task {task.id}: {columns} but the ledger {from_ledger}"
            assert min(columns) >= 0 and task.budget_minor == sum(columns)
        assert self.funded == account.balance_minor + sum(t.budget_minor for t in tasks)

        submissions = await Submission.filter(account_id=account_id)
        for submission in submissions:
            old = self.states.get(submission.id, submission.state)
            assert submission.state == old or submission.state in TRANSITIONS[old], (
                f"submission {submission.id} went from {old} to {submission.state}"
            )
            self.states[submission.id] = submission.state
        counters = {
            (c.task_id, c.worker_id): c.slots_taken
            for c in await TaskWorkerCounter.filter(task_id__in=[t.id for t in tasks])
        }
        for task in tasks:
            mine = [s for s in submissions if s.task_id == task.id]
            assert task.committed_minor == sum(s.reward_minor for s in mine if s.state in HOLDING)
            assert task.spent_minor == sum(s.paid_minor for s in mine)
            assert task.approved_count == sum(s.state == S.APPROVED for s in mine)
            assert task.slots_taken == sum(not s.slot_released for s in mine)
            for worker_id in {s.worker_id for s in mine}:
                held = sum(not s.slot_released for s in mine if s.worker_id == worker_id)
                assert counters.get((task.id, worker_id), 0) == held
            if task.status in LIVE:
                assert not (task.remaining_minor < task.reward_minor and task.committed_minor == 0)
                assert task.max_submissions is None or task.approved_count < task.max_submissions
            if task.status == TaskStatus.CLOSED:
                assert task.remaining_minor == 0, f"closed task {task.id} keeps money"
        self.live = {t.id for t in tasks if t.status in LIVE}
        self.task_of.update((sub.id, sub.task_id) for sub in submissions)
        self.last_snapshot = await snapshot(account_id)


TASK_BUCKETS = (LedgerBucket.TASK_COMMITTED, LedgerBucket.TASK_SPENT, LedgerBucket.TASK_REMAINING)


async def ledger_sums(account_id: int) -> tuple[int, Counter[tuple[int, LedgerBucket]]]:
    """The account balance and each task's buckets summed from the ledger in one query.

    An oracle independent of services.ledger (tests.factories uses that one, and so
    does the end of every example).
    """
    rows = (
        await LedgerEntry.filter(account_id=account_id)
        .group_by("task_id", "from_bucket", "to_bucket")
        .annotate(total=Sum("amount_minor"))
        .values("task_id", "from_bucket", "to_bucket", "total")
    )
    balance, buckets = 0, Counter[tuple[int, LedgerBucket]]()
    for row in rows:
        total = int(row["total"])
        source, target = LedgerBucket(row["from_bucket"]), LedgerBucket(row["to_bucket"])
        if target == LedgerBucket.ACCOUNT_BALANCE:
            balance += total
        if source == LedgerBucket.ACCOUNT_BALANCE:
            balance -= total
        if row["task_id"] is not None:
            buckets[row["task_id"], target] += total
            buckets[row["task_id"], source] -= total
    return balance, buckets


@pytest_asyncio.fixture(loop_scope="session")
async def session_loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


@pytest.fixture
def machine(session_loop: asyncio.AbstractEventLoop) -> Iterator[type[LedgerMachine]]:
    LedgerMachine.loop = session_loop
    Runs.examples = Runs.steps = Runs.refused = 0
    Runs.outcomes = Counter()
    yield LedgerMachine


def test_the_ledger_holds_under_random_use(machine: type[LedgerMachine]) -> None:
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            database=None,
            # CI explores the same examples every run, so a landing never rests on luck;
            # local runs explore new ones.
            derandomize=os.environ.get("CI") == "true",
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
    # Shown with `pytest -s`: what the examples did.
    print(f"{Runs.examples} examples, {Runs.steps} steps, {Runs.refused} refused")
    print("\n".join(f"  {n:5} {outcome}" for outcome, n in sorted(Runs.outcomes.items())))
    # The machine really ran, and both successes and refusals happened.
    assert Runs.examples >= EXAMPLES
    assert Runs.steps >= EXAMPLES * 5
    assert 0 < Runs.refused < Runs.steps
    done = Runs.outcomes
    assert done["start: ok"] and done["submit: ok"] + done["progress STARTED: ok"], done
    assert done["approve: ok"] + done["bulk: ok"] + done["progress SUBMITTED: ok"], done
