"""The tallies the analytics read (models/tallies.py): kept by the database through every
kind of write, settled without changing a figure, and read with the period's edges from
the rows, so that a report says the same as the rows do."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from gql_server.clock import FrozenClock
from gql_server.models import (
    LedgerEntry,
    LedgerSlotTally,
    LedgerWorkerDayTally,
    Submission,
    SubmissionDurationTally,
    SubmissionSlotTally,
    SubmissionWorkerDayTally,
)
from gql_server.models.enums import SubmissionState
from gql_server.services import analytics, review, submissions, tallies
from gql_server.services.tallies import DAY, SLOT, Split, split
from gql_server.settings import Settings
from tests import REPO_ROOT
from tests.factories import answer, new_requester, new_task, new_worker

ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))
postgres_only = pytest.mark.skipif(not ON_POSTGRES, reason="many connections at once")
pytestmark = pytest.mark.usefixtures("database")

# A Monday, 10:00 UTC.
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


# --- cutting a period (pure) -----------------------------------------------------------------


def test_a_period_is_cut_into_whole_quarter_hours_and_its_edges() -> None:
    cut = split(T0 + timedelta(minutes=10), T0 + timedelta(hours=2, minutes=5), SLOT)
    assert cut == Split(
        (T0 + timedelta(minutes=15), T0 + timedelta(hours=2)),
        (
            (T0 + timedelta(minutes=10), T0 + timedelta(minutes=15)),
            (T0 + timedelta(hours=2), T0 + timedelta(hours=2, minutes=5)),
        ),
    )


def test_a_period_on_whole_units_has_no_edges_and_one_inside_a_unit_is_all_edge() -> None:
    assert split(T0, T0 + 3 * DAY, DAY) == Split(
        (T0.replace(hour=0) + DAY, T0.replace(hour=0) + 3 * DAY),
        ((T0, T0.replace(hour=0) + DAY), (T0.replace(hour=0) + 3 * DAY, T0 + 3 * DAY)),
    )
    assert split(T0, T0 + timedelta(hours=1), SLOT) == Split((T0, T0 + timedelta(hours=1)), ())
    inside = (T0 + timedelta(minutes=1), T0 + timedelta(minutes=14))
    assert split(*inside, SLOT) == Split(None, (inside,))


def test_a_period_without_an_end_is_whole_from_its_first_unit_on() -> None:
    start = T0 + timedelta(minutes=20)
    assert split(start, None, SLOT) == Split(
        (T0 + timedelta(minutes=30), None), ((start, T0 + timedelta(minutes=30)),)
    )


# --- what the tallies hold -------------------------------------------------------------------


def _slot(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    return moment.replace(minute=moment.minute - moment.minute % 15, second=0, microsecond=0)


def _bin(seconds: int) -> int:
    """Whole seconds to three significant figures."""
    step = 10 ** max(len(str(seconds)) - 3, 0)
    return seconds - seconds % step


def test_times_to_complete_are_binned_to_three_significant_figures() -> None:
    assert [_bin(s) for s in (0, 59, 999, 1000, 1234, 98_765, 12_345_678)] == [
        0,
        59,
        999,
        1000,
        1230,
        98_700,
        12_300_000,
    ]


def _micros(row: Submission) -> int:
    if row.first_submitted_at is None:
        return 0
    return (row.first_submitted_at - row.created_at) // timedelta(microseconds=1)


async def _tallied(
    account_id: int, model: Any, keys: tuple[str, ...], measures: tuple[str, ...]
) -> Counter:
    """The account's sums by key in a tally, read as rows (no SQL of the reads')."""
    sums: Counter = Counter()
    for row in await model.filter(account_id=account_id).values(*keys, *measures):
        key = tuple(
            _slot(row[k]) if k == "slot" else bool(row[k]) if k in ("sent", "revised") else row[k]
            for k in keys
        )
        for measure in measures:
            sums[(key, measure)] += row[measure]
    return +sums


async def _expected(account_id: int) -> dict[str, Counter]:
    """What the account's tallies must hold, summed here from the source rows themselves."""
    by_slot: Counter = Counter()
    by_day: Counter = Counter()
    durations: Counter = Counter()
    for s in await Submission.filter(account_id=account_id):
        kept = (s.state, s.first_submitted_at is not None, s.revision_count > 0)
        slot = (s.account_id, s.task_id, _slot(s.created_at), *kept)
        day = (s.account_id, s.worker_id, s.created_at.astimezone(UTC).date(), *kept)
        for key, counter in ((slot, by_slot), (day, by_day)):
            counter[(key, "starts")] += 1
            counter[(key, "micros")] += _micros(s)
        if s.first_submitted_at is not None:
            seconds = _bin(int((s.first_submitted_at - s.created_at).total_seconds()))
            durations[((s.account_id, s.task_id, day[2], seconds), "starts")] += 1
    money: Counter = Counter()
    earned: Counter = Counter()
    for e in await LedgerEntry.filter(account_id=account_id, task_id__not_isnull=True):
        key = (e.account_id, e.task_id, _slot(e.created_at), e.to_bucket, e.reason)
        money[(key, "amount_minor")] += e.amount_minor
        money[(key, "entries")] += 1
        if e.worker_id is not None:
            key = (e.account_id, e.worker_id, e.created_at.astimezone(UTC).date(), e.to_bucket)
            earned[(key, "amount_minor")] += e.amount_minor
            earned[(key, "entries")] += 1
    return {
        "slot": +by_slot,
        "day": +by_day,
        "durations": +durations,
        "money": +money,
        "earned": +earned,
    }


async def _actual(account_id: int) -> dict[str, Counter]:
    kept = ("state", "sent", "revised")
    return {
        "slot": await _tallied(
            account_id,
            SubmissionSlotTally,
            ("account_id", "task_id", "slot", *kept),
            ("starts", "micros"),
        ),
        "day": await _tallied(
            account_id,
            SubmissionWorkerDayTally,
            ("account_id", "worker_id", "day", *kept),
            ("starts", "micros"),
        ),
        "durations": await _tallied(
            account_id,
            SubmissionDurationTally,
            ("account_id", "task_id", "day", "seconds"),
            ("starts",),
        ),
        "money": await _tallied(
            account_id,
            LedgerSlotTally,
            ("account_id", "task_id", "slot", "to_bucket", "reason"),
            ("amount_minor", "entries"),
        ),
        "earned": await _tallied(
            account_id,
            LedgerWorkerDayTally,
            ("account_id", "worker_id", "day", "to_bucket"),
            ("amount_minor", "entries"),
        ),
    }


async def _assert_tallies_hold(account_id: int) -> None:
    assert await _actual(account_id) == await _expected(account_id)


async def _assert_settled(account_id: int) -> None:
    """After settling: no unsettled row of the account's, and one row a key."""
    for model, keys in (
        (SubmissionSlotTally, ("task_id", "slot", "state", "sent", "revised")),
        (SubmissionWorkerDayTally, ("account_id", "worker_id", "day", "state", "sent", "revised")),
        (SubmissionDurationTally, ("account_id", "task_id", "day", "seconds")),
        (LedgerSlotTally, ("task_id", "slot", "to_bucket", "reason")),
        (LedgerWorkerDayTally, ("account_id", "worker_id", "day", "to_bucket")),
    ):
        assert not await model.filter(account_id=account_id, settled=False).exists()
        rows = await model.filter(account_id=account_id).values_list(*keys)
        assert len(rows) == len(set(rows))


async def test_every_kind_of_write_keeps_the_tallies_and_settling_changes_no_sum(
    frozen: FrozenClock,
) -> None:
    frozen.set(T0 + timedelta(minutes=7))
    requester = await new_requester()
    task = await new_task(
        requester, budget="50.00", max_submissions_per_worker=3, time_limit_seconds=7200
    )
    workers = [await new_worker() for _ in range(4)]
    started = []
    for minute, worker in zip((7, 14, 16, 29), workers, strict=True):
        frozen.set(T0 + timedelta(minutes=minute, seconds=minute))
        started.append(await submissions.start_submission(worker.principal, task.id))
    await _assert_tallies_hold(requester.account_id)
    # Use cases: sent, approved with a bonus, rejected, sent back for a revision.
    frozen.set(T0 + timedelta(minutes=40))
    for worker, work in zip(workers[:3], started[:3], strict=True):
        await submissions.submit_submission(worker.principal, work.id, answer())
    await review.approve_submission(requester.principal, started[0].id)
    await review.pay_bonus(requester.principal, started[0].id, 25)
    await review.reject_submission(requester.principal, started[1].id, "Not a cat.")
    await review.request_revision(requester.principal, started[2].id, "Closer, please.")
    await _assert_tallies_hold(requester.account_id)
    assert await tallies.settle() > 0
    await _assert_settled(requester.account_id)
    await _assert_tallies_hold(requester.account_id)
    # Writes no use case makes: a bulk UPDATE of many rows, a start moved in time, a
    # column outside the keys, a deleted submission.
    await Submission.filter(task_id=task.id, state=SubmissionState.STARTED).update(
        state=SubmissionState.EXPIRED
    )
    await Submission.filter(id=started[1].id).update(created_at=T0 - timedelta(days=1, minutes=1))
    await Submission.filter(id=started[0].id).update(feedback="Kept.", audit_count=1)
    await Submission.filter(id=started[2].id).delete()
    await _assert_tallies_hold(requester.account_id)
    await tallies.settle()
    await _assert_settled(requester.account_id)
    await _assert_tallies_hold(requester.account_id)
    assert await tallies.settle() == 0


async def test_a_report_counts_each_start_once_across_the_periods_edges(
    frozen: FrozenClock,
) -> None:
    """Starts on both sides of the period's ends, inside and outside whole quarter hours
    and whole days: the figures are the rows', before and after settling."""
    requester = await new_requester()
    task = await new_task(requester, budget="50.00", max_submissions_per_worker=10)
    worker, other = await new_worker("DE"), await new_worker("FR")
    day = T0.replace(hour=0)
    moments = [
        (day + timedelta(hours=10, minutes=7), worker),  # before the period
        (day + timedelta(hours=10, minutes=14), worker),  # an edge quarter hour
        (day + timedelta(hours=10, minutes=16), other),  # a whole quarter hour, edge day
        (day + timedelta(days=1, hours=3), worker),  # a whole day
        (day + timedelta(days=1, hours=23, minutes=59), other),  # a whole day
        (day + timedelta(days=2, hours=7, minutes=59), worker),  # the last edge
        (day + timedelta(days=2, hours=8), other),  # the period's end: not in it
    ]
    for moment, who in moments:
        frozen.set(moment)
        work = await submissions.start_submission(who.principal, task.id)
        frozen.set(moment + timedelta(seconds=90))
        await submissions.submit_submission(who.principal, work.id, answer())
        await review.approve_submission(requester.principal, work.id)
    # Another account's work in the same moments counts in none of this account's figures.
    stranger = await new_requester()
    elsewhere = await new_task(stranger, budget="50.00", max_submissions_per_worker=10)
    for moment in (day + timedelta(hours=10, minutes=12), day + timedelta(days=2, hours=7)):
        frozen.set(moment)
        work = await submissions.start_submission(worker.principal, elsewhere.id)
        await submissions.submit_submission(worker.principal, work.id, answer())
        await review.approve_submission(stranger.principal, work.id)
    period = analytics.period_of(
        day + timedelta(hours=10, minutes=10),
        day + timedelta(days=2, hours=8),
        analytics.BucketSize.DAY,
        "UTC",
    )
    scope = analytics.scope_of(requester.account_id)
    for settle in (False, True):
        if settle:
            await tallies.settle()
        found = await analytics.report(scope, period, frozenset(analytics.Group))
        engagement = analytics.asked(found.engagement)
        assert (engagement.starts, engagement.submitted) == (5, 5)
        assert engagement.time_to_complete.mean == 90
        assert engagement.time_to_complete.median == 90
        assert [b.starts for b in analytics.asked(found.buckets)] == [2, 2, 1]
        people = {
            w.worker_id: (w.starts, w.mean_seconds, w.earnings_minor)
            for w in analytics.asked(found.workers)
        }
        # Each approved when sent, earnings count when paid: the start at 07:59 is paid
        # after the period's end, the one at 10:07 before its start.
        assert people == {worker.id: (3, 90, 200), other.id: (2, 90, 200)}
        distributions = analytics.asked(found.cohort)
        assert distributions.countries == {"DE": 3, "FR": 2}
        assert distributions.hours == {10: 2, 3: 1, 23: 1, 7: 1}
        # One task's scope reads the same through its own tallies.
        narrow = analytics.scope_of(requester.account_id, task_id=task.id)
        one = await analytics.report(narrow, period, frozenset({analytics.Group.WORKERS}))
        assert {w.worker_id: w.starts for w in analytics.asked(one.workers)} == {
            worker.id: 3,
            other.id: 2,
        }


async def test_a_zone_of_odd_offsets_is_bucketed_from_the_rows(frozen: FrozenClock) -> None:
    """Amsterdam kept its local mean time until 1937 (UTC+00:19:32, +01:19:32 in summer): its midnight falls
    inside a UTC quarter hour, which a tally cannot cut."""
    frozen.set(datetime(1930, 6, 1, 12, 0, tzinfo=UTC))
    requester = await new_requester(timezone="Europe/Amsterdam")
    task = await new_task(requester, budget="50.00", max_submissions_per_worker=10)
    worker = await new_worker()
    # 22:35 UTC is 23:54:32 on 1 June there (summer time, +01:19:32); 22:42 UTC is 00:01:32
    # on 2 June, in the
    # same UTC quarter hour.
    for moment in (
        datetime(1930, 6, 1, 22, 35, tzinfo=UTC),
        datetime(1930, 6, 1, 22, 42, tzinfo=UTC),
    ):
        frozen.set(moment)
        await submissions.start_submission(worker.principal, task.id)
    await tallies.settle()
    zone_day = analytics.period_of(
        datetime(1930, 6, 1, tzinfo=UTC),
        datetime(1930, 6, 3, tzinfo=UTC),
        analytics.BucketSize.DAY,
        "Europe/Amsterdam",
    )
    found = await analytics.report(
        analytics.scope_of(requester.account_id),
        zone_day,
        frozenset({analytics.Group.BUCKETS, analytics.Group.DISTRIBUTIONS}),
    )
    starts = {
        b.bucket.start.astimezone(zone_day.zone).date(): b.starts
        for b in analytics.asked(found.buckets)
    }
    assert starts[date(1930, 6, 1)] == 1
    assert starts[date(1930, 6, 2)] == 1
    assert analytics.asked(found.cohort).hours == {23: 1, 0: 1}


@postgres_only
async def test_writers_side_by_side_with_settling_lose_nothing() -> None:
    """Approvals on many connections while the tallies are settled again and again: no
    write waits on a tally, none deadlocks, and every change is counted once."""
    requester = await new_requester()
    task = await new_task(requester, budget="100.00", max_submissions_per_worker=1)
    sent = []
    for _ in range(24):
        worker = await new_worker()
        work = await submissions.start_submission(worker.principal, task.id)
        sent.append(await submissions.submit_submission(worker.principal, work.id, answer()))
    done = asyncio.Event()

    async def settling() -> int:
        runs = 0
        while not done.is_set():
            await tallies.settle()
            runs += 1
            await asyncio.sleep(0)
        return runs

    settler = asyncio.create_task(settling())
    await asyncio.gather(
        *(review.approve_submission(requester.principal, work.id) for work in sent)
    )
    done.set()
    assert await settler > 0
    await _assert_tallies_hold(requester.account_id)
    await tallies.settle()
    await _assert_settled(requester.account_id)
    await _assert_tallies_hold(requester.account_id)


# --- an operator's check -----------------------------------------------------------------


async def _drift(account_id: int) -> None:
    """Tallies that no longer hold, as a write past the triggers would leave them."""
    lost = await SubmissionSlotTally.filter(account_id=account_id).first()
    assert lost is not None
    await lost.delete()
    await SubmissionWorkerDayTally.filter(account_id=account_id).update(starts=F("starts") + 5)


async def test_a_check_finds_tallies_that_drifted_and_a_rebuild_mends_them(
    frozen: FrozenClock,
) -> None:
    frozen.set(T0)
    requester = await new_requester()
    task = await new_task(requester, budget="50.00", max_submissions_per_worker=3)
    for _ in range(3):
        worker = await new_worker()
        work = await submissions.start_submission(worker.principal, task.id)
        await submissions.submit_submission(worker.principal, work.id, answer())
        await review.approve_submission(requester.principal, work.id)
    assert set((await tallies.check()).values()) == {0}
    await _drift(requester.account_id)
    found = await tallies.check()
    assert found["submission_slot_tally"] >= 1
    assert found["submission_worker_day_tally"] >= 1
    assert found["ledger_slot_tally"] == 0
    await tallies.rebuild()
    assert set((await tallies.check()).values()) == {0}
    await _assert_tallies_hold(requester.account_id)
    await _assert_settled(requester.account_id)


async def test_the_command_line_checks_and_rebuilds_the_tallies(database: Settings) -> None:
    requester = await new_requester()
    task = await new_task(requester)
    worker = await new_worker()
    await submissions.start_submission(worker.principal, task.id)
    env = {**os.environ, "DATABASE_URL": database.database_url}

    def check(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gql_server", "check-tallies", *args],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    held = check()
    assert held.returncode == 0, held.stderr
    assert "submission_slot_tally: holds" in held.stdout
    await _drift(requester.account_id)
    drifted = check()
    assert drifted.returncode == 1
    assert "submission_slot_tally: 1 keys differ from the rows" in drifted.stdout
    assert "--rebuild" in drifted.stdout
    mended = check("--rebuild")
    assert mended.returncode == 0, mended.stderr
    assert "differ" not in mended.stdout


class _RolledBack(Exception):
    pass


@postgres_only
async def test_a_truncate_empties_the_tallies_with_their_source() -> None:
    """TRUNCATE fires no row's trigger; its own trigger empties the tallies (in a
    transaction rolled back after: this database is every test's)."""
    requester = await new_requester()
    task = await new_task(requester)
    worker = await new_worker()
    work = await submissions.start_submission(worker.principal, task.id)
    await submissions.submit_submission(worker.principal, work.id, answer())
    await review.approve_submission(requester.principal, work.id)
    with pytest.raises(_RolledBack):
        async with in_transaction() as connection:
            # The ledger by the CASCADE from the submissions it names.
            await connection.execute_query("TRUNCATE submission CASCADE")
            for table in tallies.TABLES:
                rows = await connection.execute_query_dict(f"SELECT COUNT(*) AS n FROM {table}")
                assert rows[0]["n"] == 0, table
            raise _RolledBack
    assert set((await tallies.check()).values()) == {0}
    await _assert_tallies_hold(requester.account_id)
