"""The SQL oracle of tests/ledger_invariants.py, which the tests from outside (the fuzz run)
rely on: quiet while the money adds up, and loud about each way it can stop adding up."""

from __future__ import annotations

from tortoise.expressions import F

from gql_server.models import Account, LedgerEntry, Task
from tests.factories import Requester, new_submitted
from tests.ledger_invariants import ledger_violations


async def test_money_that_adds_up_breaks_no_invariant(requester: Requester, task: Task) -> None:
    await new_submitted(task)
    assert await ledger_violations([requester.account_id]) == []


async def test_a_figure_beside_its_ledger_is_named(requester: Requester, task: Task) -> None:
    await Task.filter(id=task.id).update(remaining_minor=F("remaining_minor") - 1)
    (found,) = await ledger_violations([requester.account_id])
    assert found.startswith(f"task {task.id}:")


async def test_a_balance_beside_its_ledger_is_named(requester: Requester) -> None:
    await Account.filter(id=requester.account_id).update(balance_minor=F("balance_minor") + 5)
    found = await ledger_violations([requester.account_id])
    assert found == [
        f"account {requester.account_id}: balance 100005, its ledger says 100000",
        f"account {requester.account_id}: funded 100000, balance and budgets 100005",
    ]


async def test_a_movement_the_domain_never_makes_is_named(requester: Requester, task: Task) -> None:
    entry = await LedgerEntry.filter(account_id=requester.account_id, task_id=task.id).first()
    assert entry is not None
    await LedgerEntry.filter(id=entry.id).update(to_bucket="TASK_SPENT")
    found = await ledger_violations([requester.account_id])
    assert f"ledger row {entry.id} of account {requester.account_id}" in found[0]
