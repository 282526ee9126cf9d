"""What follows domain events: the handlers' declared order, and what that order decides."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gql_server.models import LedgerEntry, StreamEvent, Task
from gql_server.models.enums import CloseReason, LedgerReason, TaskStatus
from gql_server.services import handlers, review, rules, streams, submissions
from gql_server.services.events import installed_handlers
from gql_server.services.outbox import CallbackOutbox
from gql_server.services.review import AutomaticAcceptance
from gql_server.services.rule_engine import QualityRules
from gql_server.services.streams import StreamLog, StreamMessage
from gql_server.services.task_lifecycle import AutomaticClosure
from tests.factories import (
    Requester,
    answer,
    assert_ledger_consistent,
    balance,
    figures,
    frozen_clock,
    new_requester,
    new_task,
    new_worker,
)

pytestmark = pytest.mark.usefixtures("database")


def test_the_handlers_run_in_their_declared_order() -> None:
    assert [type(handler) for handler in handlers.HANDLERS] == [
        StreamLog,
        CallbackOutbox,
        QualityRules,
        AutomaticAcceptance,
        AutomaticClosure,
    ]
    # Opening the database installed exactly these.
    assert installed_handlers() == handlers.HANDLERS


async def _bonus_rule(requester: Requester, task_id: int, amount: int) -> None:
    await rules.create_rule(
        requester.principal,
        rules.RuleScope(task_id=task_id),
        rules.RuleDraft(
            "AUTOMATION",
            None,
            [{"metric": "RESPONSE_SECONDS", "operator": "GTE", "value": 0}],
            {"type": "PAY_BONUS", "amount": amount},
        ),
    )


async def _approve_one(requester: Requester, task_id: int) -> None:
    worker = await new_worker()
    with frozen_clock() as frozen:
        started = await submissions.start_submission(worker.principal, task_id)
        frozen.advance(timedelta(minutes=1))
        sent = await submissions.submit_submission(worker.principal, started.id, answer())
    await review.approve_submission(requester.principal, sent.id)


async def _moves(task_id: int) -> list[tuple[LedgerReason, int]]:
    return [
        (entry.reason, entry.amount_minor)
        for entry in await LedgerEntry.filter(task_id=task_id).order_by("id")
    ]


async def test_every_rule_bonus_on_the_approval_that_closes_the_task_comes_from_its_remaining() -> (
    None
):
    """Closure waits for the whole cascade: the second rule's bonus is not paid after the
    task closed (which would draw it from the account again)."""
    requester = await new_requester(fund_minor=10_000)
    task = await new_task(requester, reward="1.00", budget="3.00", max_submissions=1)
    await _bonus_rule(requester, task.id, 50)
    await _bonus_rule(requester, task.id, 50)
    await _approve_one(requester, task.id)
    assert (await Task.get(id=task.id)).status == TaskStatus.CLOSED
    assert await _moves(task.id) == [
        (LedgerReason.ALLOCATE, 300),
        (LedgerReason.COMMIT, 100),
        (LedgerReason.PAY, 100),
        (LedgerReason.BONUS, 50),
        (LedgerReason.BONUS, 50),
        (LedgerReason.RETURN, 100),
    ]
    assert await balance(requester.account_id) == 10_000 - 200
    await assert_ledger_consistent(requester.account_id)


async def test_a_rule_bonus_on_the_approval_that_closes_the_task_comes_from_its_remaining() -> None:
    """The rules act before automatic closure: the bonus is spent from the task's remaining
    budget, then the closure returns what is left (nothing is drawn from the account again),
    and the one budget message lists the changes in the order they happened."""
    requester = await new_requester(fund_minor=10_000)
    task = await new_task(requester, reward="1.00", budget="3.00", max_submissions=1)
    await rules.create_rule(
        requester.principal,
        rules.RuleScope(task_id=task.id),
        rules.RuleDraft(
            "AUTOMATION",
            None,
            [{"metric": "RESPONSE_SECONDS", "operator": "GTE", "value": 0}],
            {"type": "PAY_BONUS", "amount": 50},
        ),
    )
    worker = await new_worker()
    with frozen_clock() as frozen:
        started = await submissions.start_submission(worker.principal, task.id)
        frozen.advance(timedelta(minutes=1))
        sent = await submissions.submit_submission(worker.principal, started.id, answer())
    await review.approve_submission(requester.principal, sent.id)

    closed = await Task.get(id=task.id)
    assert (closed.status, closed.close_reason) == (TaskStatus.CLOSED, CloseReason.MAX_SUBMISSIONS)
    moves = [
        (entry.reason, entry.amount_minor)
        for entry in await LedgerEntry.filter(task_id=task.id).order_by("id")
    ]
    assert moves == [
        (LedgerReason.ALLOCATE, 300),
        (LedgerReason.COMMIT, 100),
        (LedgerReason.PAY, 100),
        (LedgerReason.BONUS, 50),
        (LedgerReason.RETURN, 150),
    ]
    assert await figures(task.id) == (150, 0, 150, 0)
    assert await balance(requester.account_id) == 10_000 - 150
    row = (
        await StreamEvent.filter(stream=streams.task_budget_channel(task.id))
        .order_by("-version")
        .first()
    )
    assert row is not None
    message = StreamMessage.from_json(row.payload)
    assert [change["change"] for change in message.changes] == ["approved", "bonus", "closed"]
    await assert_ledger_consistent(requester.account_id)
