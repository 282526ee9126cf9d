"""Talking with workers: question threads, messages and announcements from the team, review
notes, and a task's FAQ.

- A worker asks about a task it may see (open now, targeting admits it) or has worked on,
  or about one of its own submissions; the account's members reply; the worker replies in
  the same thread. OPEN waits for the team and is due at the time the worker wrote plus
  the account's response target (24 hours unless set); a reply by the team makes it
  ANSWERED and clears the due time; the worker's next message opens it again. CLOSED takes
  no more messages.
- Limits, checked in the transaction that writes: a worker asks at most
  `QUESTIONS_PER_TASK_PER_DAY` new questions per task per day (the account's day), every
  message is at most `MAX_BODY` characters and a thread holds at most
  `MAX_MESSAGES_PER_THREAD`; an account sends at most `DIRECT_MESSAGES_PER_DAY` messages to
  individual workers a day, and at most one announcement per task a day (a unique
  (task, day) in the database). A worker banned or suspended where the task is, or muted
  by the account, is refused RESTRICTED, without a reason.
- Who sees what: a worker only its own threads, the announcements that reached it, and
  the FAQ of a task it may see or has worked on (not while banned from it); a member only
  the account's threads (another account's are like ids that do not exist).
- A thread is never without its first message: it is written with it (its
  `message_count` counting it) and raises its change, ASKED or TEAM_OPENED, in one unit of
  work (`_open_thread`, whether the worker asks, a member writes or a review leaves a note).
- Every change that moves the open or overdue counts raises `ThreadChanged` in its unit of
  work (the live stream and the `question.asked` callback follow it); only the passing of
  time turns a thread overdue, so a sweep (`mark_overdue`) announces that.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q
from tortoise.functions import Count
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from gql_server import clock
from gql_server.models import (
    Account,
    Announcement,
    AnnouncementRecipient,
    FaqEntry,
    InstructionRevision,
    Submission,
    Task,
    Thread,
    ThreadMessage,
    Worker,
)
from gql_server.models.enums import (
    ActorKind,
    MessageKind,
    TaskStatus,
    ThreadChange,
    ThreadState,
)
from gql_server.models.vocabulary import thread_overdue
from gql_server.services import eligibility, instructions
from gql_server.services.errors import ErrorCode, FieldError, UseCaseError, not_found
from gql_server.services.events import ThreadChanged, UnitOfWork, unit_of_work
from gql_server.services.pagination import Page, PageRequest, SortKey, paginate
from gql_server.services.principals import MemberPrincipal, WorkerPrincipal
from gql_server.services.tenancy import owned

MAX_BODY = 5_000
MAX_QUESTION = 1_000
QUESTIONS_PER_TASK_PER_DAY = 5
MAX_MESSAGES_PER_THREAD = 200
DIRECT_MESSAGES_PER_DAY = 500
MAX_FAQ_ENTRIES = 100
DEFAULT_RESPONSE_TARGET = timedelta(hours=24)
MIN_RESPONSE_TARGET_SECONDS = 3_600
MAX_RESPONSE_TARGET_SECONDS = 7 * 86_400
# Threads the overdue sweep announces per pass, the longest overdue first.
SWEEP_BATCH = 500
# Tasks listed in the questions-per-task figures, the most asked first.
LISTED_TASKS = 100

THREAD_ORDER = SortKey("last_message_at", True)
ANNOUNCEMENT_ORDER = SortKey("created_at", True)


def _text(value: str | None, name: str, max_len: int) -> str:
    text = (value or "").strip()
    if not text:
        raise UseCaseError.single(ErrorCode.VALIDATION, f"'{name}' must not be empty.", name)
    if len(text) > max_len:
        raise UseCaseError.single(
            ErrorCode.VALIDATION, f"'{name}' is longer than {max_len} characters.", name
        )
    return text


def check_note(note: str | None) -> str | None:
    """A review's note for the worker: None when not given; else 1-`MAX_BODY` characters."""
    return None if note is None else _text(note, "note", MAX_BODY)


def _day_start(account: Account) -> datetime:
    """Midnight of today in the account's time zone."""
    zone = ZoneInfo(account.timezone)
    local = clock.now().astimezone(zone)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def _refused() -> UseCaseError:
    # No reason: a restriction's reason is for the requester only.
    return UseCaseError.single(ErrorCode.RESTRICTED, "You cannot write to this requester.")


# --- what a worker may see ------------------------------------------------------------------


async def _visible_task(task_id: int | None, worker: Worker) -> Task:
    """Not a draft; a sandbox's task only to simulated workers, a live one to real ones."""
    task = (
        await Task.get_or_none(id=task_id, account__sandbox=worker.simulated)
        if task_id is not None
        else None
    )
    if task is None or task.status == TaskStatus.DRAFT:
        raise not_found("Task", "task_id")
    return task


async def _may_see(worker: Worker, task: Task) -> str | None:
    """Why the worker may not see the task now, or None: it has worked on it, or the task
    is open and its targeting admits the worker. Restrictions are checked by the caller."""
    if await Submission.exists(task_id=task.id, worker_id=worker.id):
        return None
    if task.status != TaskStatus.OPEN:
        return f"The task is {task.status}."
    profile = await eligibility.load_profile(worker, task.account_id)
    return eligibility.ineligibility(profile, task.targeting)


@dataclass(frozen=True)
class TaskInstructions:
    task: Task
    faq: list[FaqEntry]
    revisions: list[InstructionRevision]
    # The version in effect when the worker first started the task (None: never started,
    # or the instructions never changed).
    agreed_revision: int | None


async def task_instructions(
    principal: WorkerPrincipal, task_id: int | None
) -> TaskInstructions | None:
    """The instructions, FAQ and instructions' history of a task the worker may see or has
    worked on; None otherwise (and while the worker is banned or suspended there)."""
    worker = await Worker.get(id=principal.worker_id)
    try:
        task = await _visible_task(task_id, worker)
    except UseCaseError:
        return None
    if await eligibility.is_restricted(worker.id, task) or await _may_see(worker, task):
        return None
    return TaskInstructions(
        task=task,
        faq=(await faq_of([task.id]))[task.id],
        revisions=(await instructions.revisions_of([task.id]))[task.id],
        agreed_revision=await instructions.agreed_number(task.id, worker.id),
    )


# --- the worker's side ----------------------------------------------------------------------


async def ask_question(
    principal: WorkerPrincipal, task_id: int | None, submission_id: int | None, body: str
) -> Thread:
    """Open a thread with a question about a task, or about one of the worker's submissions
    (its task is the thread's task)."""
    text = _text(body, "body", MAX_BODY)
    worker = await Worker.get(id=principal.worker_id)
    submission = None
    if submission_id is not None:
        submission = await Submission.get_or_none(id=submission_id, worker_id=worker.id)
        if submission is None:
            raise not_found("Submission", "submission_id")
        if task_id is not None and task_id != submission.task_id:
            raise UseCaseError.single(
                ErrorCode.VALIDATION, "The submission is of another task.", "task_id"
            )
        task_id = submission.task_id
    if task_id is None:
        raise UseCaseError.single(
            ErrorCode.VALIDATION, "Give 'taskId' or 'submissionId'.", "task_id"
        )
    task = await _visible_task(task_id, worker)
    if await eligibility.is_restricted(worker.id, task) or await eligibility.is_muted(
        worker.id, task.account_id
    ):
        raise _refused()
    reason = await _may_see(worker, task)
    if reason is not None:
        raise UseCaseError.single(ErrorCode.NOT_ELIGIBLE, reason, "task_id")
    account = await Account.get(id=task.account_id)
    since = _day_start(account)
    async with unit_of_work() as work:
        # One worker's questions one at a time, so the daily limit holds under retries sent
        # at once (FOR NO KEY UPDATE does not block the worker's other work).
        await Worker.filter(id=worker.id).select_for_update(no_key=True).first()
        asked = await Thread.filter(
            worker_id=worker.id,
            task_id=task.id,
            opened_by=ActorKind.WORKER,
            asked_at__gte=since,
        ).count()
        if asked >= QUESTIONS_PER_TASK_PER_DAY:
            raise UseCaseError.single(
                ErrorCode.LIMIT_REACHED,
                f"You can ask {QUESTIONS_PER_TASK_PER_DAY} questions a day about a task.",
            )
        thread = await _open_thread(
            work,
            account.id,
            worker.id,
            task.id,
            submission.id if submission else None,
            MessageKind.QUESTION,
            text,
            response_target_seconds=account.response_target_seconds,
        )
    return await Thread.get(id=thread.id)


async def reply_as_worker(principal: WorkerPrincipal, thread_id: int | None, body: str) -> Thread:
    """The worker writes in its thread: an ANSWERED thread opens again, due anew."""
    text = _text(body, "body", MAX_BODY)
    thread = (
        await Thread.get_or_none(id=thread_id, worker_id=principal.worker_id)
        if thread_id is not None
        else None
    )
    if thread is None:
        raise not_found("Thread", "thread_id")
    if thread.state == ThreadState.CLOSED:
        raise UseCaseError.single(ErrorCode.INVALID_STATE, "The thread is closed.", "thread_id")
    if await eligibility.is_muted(principal.worker_id, thread.account_id):
        raise _refused()
    if thread.task_id is not None and await eligibility.is_restricted(
        principal.worker_id, await Task.get(id=thread.task_id)
    ):
        raise _refused()
    account = await Account.get(id=thread.account_id)
    async with unit_of_work() as work:
        now = clock.now()
        room = Thread.filter(
            id=thread.id, state=thread.state, message_count__lt=MAX_MESSAGES_PER_THREAD
        )
        common = {"last_message_at": now, "message_count": F("message_count") + 1}
        if thread.state == ThreadState.ANSWERED:
            due = now + timedelta(seconds=account.response_target_seconds)
            values = {
                "state": ThreadState.OPEN,
                "waiting_since": now,
                "due_at": due,
                "overdue_at": None,
                **common,
            }
        else:
            values = common
        if not await room.update(**values):
            raise await _why_not_written(thread.id)
        await ThreadMessage.create(
            thread_id=thread.id,
            author_kind=ActorKind.WORKER,
            kind=MessageKind.REPLY,
            body=text,
            created_at=now,
        )
        await _changed(work, thread, ThreadChange.WORKER_REPLIED)
    return await Thread.get(id=thread.id)


async def _why_not_written(thread_id: int) -> UseCaseError:
    """The conditional update wrote nothing: the thread is full, or changed meanwhile."""
    current = await Thread.get(id=thread_id)
    if current.message_count >= MAX_MESSAGES_PER_THREAD:
        return UseCaseError.single(
            ErrorCode.LIMIT_REACHED,
            f"A thread holds at most {MAX_MESSAGES_PER_THREAD} messages; start a new one.",
        )
    return UseCaseError.single(
        ErrorCode.INVALID_STATE,
        f"The thread is {current.state} now; read it again.",
        "thread_id",
    )


async def _changed(work: UnitOfWork, thread: Thread, change: ThreadChange) -> None:
    await work.raise_event(
        ThreadChanged(thread.account_id, thread.task_id, thread.id, thread.worker_id, change)
    )


async def _open_thread(
    work: UnitOfWork,
    account_id: int,
    worker_id: int,
    task_id: int | None,
    submission_id: int | None,
    kind: MessageKind,
    text: str,
    *,
    member_id: int | None = None,
    response_target_seconds: int | None = None,
) -> Thread:
    """A new thread with its first message, and its change raised in `work` (the caller's
    unit of work, which has checked the limits). Without `member_id` the worker asks: OPEN,
    due `response_target_seconds` (the account's target now) after the question, which the
    figures measure (ASKED). With it a member writes first: ANSWERED, since it waits for
    the worker (TEAM_OPENED)."""
    now = clock.now()
    if member_id is None:
        assert response_target_seconds is not None, "a question is due after a target"
        due = now + timedelta(seconds=response_target_seconds)
        waiting: dict[str, object] = {
            "state": ThreadState.OPEN,
            "asked_at": now,
            "response_target_seconds": response_target_seconds,
            "first_due_at": due,
            "waiting_since": now,
            "due_at": due,
        }
        author, change = ActorKind.WORKER, ThreadChange.ASKED
    else:
        waiting = {"state": ThreadState.ANSWERED}
        author, change = ActorKind.MEMBER, ThreadChange.TEAM_OPENED
    thread = await Thread.create(
        account_id=account_id,
        worker_id=worker_id,
        task_id=task_id,
        submission_id=submission_id,
        opened_by=author,
        last_message_at=now,
        message_count=1,
        created_at=now,
        **waiting,
    )
    await ThreadMessage.create(
        thread_id=thread.id,
        author_kind=author,
        member_id=member_id,
        kind=kind,
        body=text,
        created_at=now,
    )
    await _changed(work, thread, change)
    return thread


# --- the team's side ------------------------------------------------------------------------


async def _team_writes(
    work: UnitOfWork,
    thread: Thread,
    member_id: int,
    kind: MessageKind,
    text: str,
) -> None:
    """A member's message in the thread: it answers what waits (OPEN -> ANSWERED, the due
    time cleared); the first answer to the worker's question records how long it took."""
    now = clock.now()
    room = Thread.filter(
        id=thread.id,
        state__in=(ThreadState.OPEN, ThreadState.ANSWERED),
        message_count__lt=MAX_MESSAGES_PER_THREAD,
    )
    if not await room.update(
        state=ThreadState.ANSWERED,
        waiting_since=None,
        due_at=None,
        overdue_at=None,
        last_message_at=now,
        message_count=F("message_count") + 1,
    ):
        raise await _why_not_written(thread.id)
    if thread.asked_at is not None and thread.first_response_seconds is None:
        await Thread.filter(id=thread.id, first_response_seconds__isnull=True).update(
            first_response_seconds=int((now - thread.asked_at).total_seconds())
        )
    await ThreadMessage.create(
        thread_id=thread.id,
        author_kind=ActorKind.MEMBER,
        member_id=member_id,
        kind=kind,
        body=text,
        created_at=now,
    )
    await _changed(work, thread, ThreadChange.TEAM_REPLIED)


async def reply_to_thread(principal: MemberPrincipal, thread_id: int | None, body: str) -> Thread:
    text = _text(body, "body", MAX_BODY)
    thread = await owned(Thread, principal.account_id, thread_id, "Thread", "thread_id")
    if thread.state == ThreadState.CLOSED:
        raise UseCaseError.single(ErrorCode.INVALID_STATE, "The thread is closed.", "thread_id")
    async with unit_of_work() as work:
        await _team_writes(work, thread, principal.member_id, MessageKind.REPLY, text)
    return await Thread.get(id=thread.id)


async def close_thread(principal: MemberPrincipal, thread_id: int | None) -> Thread:
    """CLOSED: no more messages; an open question no longer waits (nor counts as open)."""
    thread = await owned(Thread, principal.account_id, thread_id, "Thread", "thread_id")
    async with unit_of_work() as work:
        if not await Thread.filter(id=thread.id, state__not=ThreadState.CLOSED).update(
            state=ThreadState.CLOSED,
            waiting_since=None,
            due_at=None,
            overdue_at=None,
            closed_at=clock.now(),
        ):
            raise UseCaseError.single(
                ErrorCode.INVALID_STATE, "The thread is already closed.", "thread_id"
            )
        await _changed(work, thread, ThreadChange.CLOSED)
    return await Thread.get(id=thread.id)


async def message_worker(
    principal: MemberPrincipal, worker_id: int | None, task_id: int | None, body: str
) -> Thread:
    """A new thread from the team to a worker who worked on the account's tasks (on
    `task_id`, when given); ANSWERED, since it waits for the worker."""
    text = _text(body, "body", MAX_BODY)
    if task_id is not None:
        await owned(Task, principal.account_id, task_id, "Task", "task_id")
    worked = Submission.filter(account_id=principal.account_id, worker_id=worker_id)
    if task_id is not None:
        worked = worked.filter(task_id=task_id)
    if worker_id is None or not await worked.exists():
        raise not_found("Worker", "worker_id")
    account = await Account.get(id=principal.account_id)
    since = _day_start(account)
    async with unit_of_work() as work:
        # The account's messages one at a time, so the daily cap holds.
        await Account.filter(id=account.id).select_for_update(no_key=True).first()
        sent = await ThreadMessage.filter(
            thread__account_id=account.id, kind=MessageKind.MESSAGE, created_at__gte=since
        ).count()
        if sent >= DIRECT_MESSAGES_PER_DAY:
            raise UseCaseError.single(
                ErrorCode.LIMIT_REACHED,
                f"An account sends at most {DIRECT_MESSAGES_PER_DAY} messages to workers a day.",
            )
        thread = await _open_thread(
            work,
            account.id,
            worker_id,
            task_id,
            None,
            MessageKind.MESSAGE,
            text,
            member_id=principal.member_id,
        )
    return thread


async def post_review_note(
    work: UnitOfWork, account_id: int, member_id: int, submission_id: int, note: str
) -> None:
    """Deliver a review's note to the worker's thread of the submission (the latest one
    that takes messages, or a new one, so that a note never fails its review); call inside
    the review's unit of work."""
    submission = await Submission.get(id=submission_id, account_id=account_id)
    thread = (
        await Thread.filter(
            submission_id=submission.id,
            state__not=ThreadState.CLOSED,
            message_count__lt=MAX_MESSAGES_PER_THREAD,
        )
        .order_by("-last_message_at", "-id")
        .first()
    )
    if thread is None:
        await _open_thread(
            work,
            account_id,
            submission.worker_id,
            submission.task_id,
            submission.id,
            MessageKind.REVIEW_NOTE,
            note,
            member_id=member_id,
        )
    else:
        await _team_writes(work, thread, member_id, MessageKind.REVIEW_NOTE, note)


@dataclass(frozen=True)
class Sent:
    announcement: Announcement
    recipient_ids: list[int]


async def send_announcement(principal: MemberPrincipal, task_id: int | None, body: str) -> Sent:
    """A message to every worker with a submission on the task, once a day per task."""
    text = _text(body, "body", MAX_BODY)
    task = await owned(Task, principal.account_id, task_id, "Task", "task_id")
    account = await Account.get(id=principal.account_id)
    day = (_day_start(account)).date()
    once_a_day = UseCaseError.single(
        ErrorCode.LIMIT_REACHED,
        f"The task had its announcement of {day.isoformat()}; one a day per task.",
        "task_id",
    )
    if await Announcement.exists(task_id=task.id, day=day):
        raise once_a_day
    try:
        async with in_transaction():
            workers = sorted(
                set(
                    await Submission.filter(task_id=task.id)
                    .distinct()
                    .values_list("worker_id", flat=True)
                )
            )
            announcement = await Announcement.create(
                account_id=account.id,
                task_id=task.id,
                member_id=principal.member_id,
                body=text,
                day=day,
                recipient_count=len(workers),
            )
            await AnnouncementRecipient.bulk_create(
                [
                    AnnouncementRecipient(announcement_id=announcement.id, worker_id=pk)
                    for pk in workers
                ]
            )
    except IntegrityError:
        # Another member's announcement of the day committed first.
        raise once_a_day from None
    return Sent(announcement, workers)


async def publish_faq_entry(
    principal: MemberPrincipal,
    task_id: int | None,
    question: str,
    answer: str,
    thread_id: int | None = None,
) -> FaqEntry:
    """Add a question and its answer to the task's FAQ (perhaps from a worker's thread)."""
    errors: list[FieldError] = []
    texts = {}
    for name, value, limit in (("question", question, MAX_QUESTION), ("answer", answer, MAX_BODY)):
        try:
            texts[name] = _text(value, name, limit)
        except UseCaseError as error:
            errors.extend(error.errors)
    if errors:
        raise UseCaseError(errors)
    task = await owned(Task, principal.account_id, task_id, "Task", "task_id")
    if thread_id is not None:
        thread = await owned(Thread, principal.account_id, thread_id, "Thread", "thread_id")
        if thread.task_id != task.id:
            raise UseCaseError.single(
                ErrorCode.VALIDATION, "The thread is about another task.", "thread_id"
            )
    async with in_transaction():
        # Entries of one task one at a time, so the cap holds.
        await Task.filter(id=task.id).select_for_update(no_key=True).first()
        if await FaqEntry.filter(task_id=task.id).count() >= MAX_FAQ_ENTRIES:
            raise UseCaseError.single(
                ErrorCode.LIMIT_REACHED, f"A task's FAQ holds at most {MAX_FAQ_ENTRIES} entries."
            )
        return await FaqEntry.create(
            account_id=principal.account_id,
            task_id=task.id,
            question=texts["question"],
            answer=texts["answer"],
            thread_id=thread_id,
            created_by_id=principal.member_id,
        )


async def remove_faq_entry(principal: MemberPrincipal, entry_id: int | None) -> FaqEntry:
    entry = await owned(FaqEntry, principal.account_id, entry_id, "FaqEntry", "entry_id")
    await entry.delete()
    return entry


async def set_response_target(principal: MemberPrincipal, seconds: int) -> Account:
    """The time the team means to answer a question in; threads already waiting keep
    their due time."""
    if not MIN_RESPONSE_TARGET_SECONDS <= seconds <= MAX_RESPONSE_TARGET_SECONDS:
        raise UseCaseError.single(
            ErrorCode.VALIDATION,
            f"'seconds' must be from {MIN_RESPONSE_TARGET_SECONDS} (an hour) to "
            f"{MAX_RESPONSE_TARGET_SECONDS} (a week).",
            "seconds",
        )
    await Account.filter(id=principal.account_id).update(response_target_seconds=seconds)
    return await Account.get(id=principal.account_id)


# --- the passing of time --------------------------------------------------------------------


async def mark_overdue() -> int:
    """Announce threads that turned overdue since the last pass (each once per wait);
    return how many. A background sweep: only time makes a thread overdue."""
    now = clock.now()
    due = (
        await Thread.filter(thread_overdue(now), overdue_at__isnull=True)
        .order_by("due_at", "id")
        .limit(SWEEP_BATCH)
    )
    if not due:
        return 0
    marked = 0
    async with unit_of_work() as work:
        for thread in due:
            if await Thread.filter(
                thread_overdue(now), id=thread.id, overdue_at__isnull=True
            ).update(overdue_at=now):
                marked += 1
                await _changed(work, thread, ThreadChange.OVERDUE)
    return marked


# --- reading ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ThreadFilter:
    task_id: int | None = None
    worker_id: int | None = None
    state: ThreadState | None = None
    # True: only overdue threads; False: only those that are not.
    overdue: bool | None = None


async def list_threads(
    account_id: int, filter: ThreadFilter | None, page: PageRequest
) -> Page[Thread]:
    """The account's threads, the latest message first."""
    filter = filter or ThreadFilter()
    query = Thread.filter(account_id=account_id)
    if filter.task_id is not None:
        query = query.filter(task_id=filter.task_id)
    if filter.worker_id is not None:
        query = query.filter(worker_id=filter.worker_id)
    if filter.state is not None:
        query = query.filter(state=filter.state)
    if filter.overdue is True:
        query = query.filter(thread_overdue(clock.now()))
    elif filter.overdue is False:
        query = query.filter(~thread_overdue(clock.now()))
    return await paginate(query, THREAD_ORDER, page)


async def worker_threads(worker_id: int, page: PageRequest) -> Page[Thread]:
    """The worker's own threads, with every account, the latest message first."""
    return await paginate(Thread.filter(worker_id=worker_id), THREAD_ORDER, page)


async def worker_announcements(worker_id: int, page: PageRequest) -> Page[Announcement]:
    """The announcements that reached the worker, newest first."""
    query = Announcement.filter(recipients__worker_id=worker_id)
    return await paginate(query, ANNOUNCEMENT_ORDER, page)


async def messages_of(thread_ids: list[int]) -> dict[int, list[ThreadMessage]]:
    """Each thread's messages, oldest first."""
    grouped: dict[int, list[ThreadMessage]] = {pk: [] for pk in thread_ids}
    for message in await ThreadMessage.filter(thread_id__in=thread_ids).order_by(
        "created_at", "id"
    ):
        grouped[message.thread_id].append(message)
    return grouped


async def faq_of(task_ids: list[int]) -> dict[int, list[FaqEntry]]:
    """Each task's FAQ, in the order the entries were published."""
    grouped: dict[int, list[FaqEntry]] = {pk: [] for pk in task_ids}
    for entry in await FaqEntry.filter(task_id__in=task_ids).order_by("created_at", "id"):
        grouped[entry.task_id].append(entry)
    return grouped


@dataclass(frozen=True)
class ThreadSummary:
    """The counts now, and the figures of the questions asked in the period."""

    open: int
    overdue: int
    answered: int
    questions: int
    # Seconds from a question to the team's first answer (answered questions only).
    median_first_response_seconds: float | None
    # Of the questions answered, or unanswered past their first due time: those answered
    # before the due time of the target they were asked under (at the due time a thread is
    # overdue already), in percent.
    answered_within_target: float | None
    # (task id, questions), the most asked first.
    per_task: list[tuple[int, int]]


async def summary(
    account_id: int, task_id: int | None, start: datetime | None, end: datetime | None
) -> ThreadSummary:
    """Counts and figures of the account's threads (of one task, when given), computed by
    the database: counts, a grouped count, and the one or two middle rows of the median."""
    if task_id is not None:
        await owned(Task, account_id, task_id, "Task", "task_id")
    if start is not None and end is not None and start >= end:
        raise UseCaseError.single(ErrorCode.VALIDATION, "'from' must be before 'to'.", "from")
    scope = Q(account_id=account_id) if task_id is None else Q(task_id=task_id)
    now = clock.now()
    asked = Thread.filter(scope, opened_by=ActorKind.WORKER)
    if start is not None:
        asked = asked.filter(asked_at__gte=start)
    if end is not None:
        asked = asked.filter(asked_at__lt=end)
    answered = asked.filter(first_response_seconds__isnull=False)
    answered_count = await answered.count()
    within = await answered.filter(first_response_seconds__lt=F("response_target_seconds")).count()
    missed_unanswered = await asked.filter(
        first_response_seconds__isnull=True, first_due_at__lte=now
    ).count()
    judged = answered_count + missed_unanswered
    per_task = (
        await asked.filter(task_id__isnull=False)
        .group_by("task_id")
        .annotate(questions=Count("id"))
        .order_by("-questions", "task_id")
        .limit(LISTED_TASKS)
        .values_list("task_id", "questions")
    )
    return ThreadSummary(
        open=await Thread.filter(scope, state=ThreadState.OPEN).count(),
        overdue=await Thread.filter(scope, thread_overdue(now)).count(),
        answered=await Thread.filter(scope, state=ThreadState.ANSWERED).count(),
        questions=await asked.count(),
        median_first_response_seconds=await _median(answered, answered_count),
        answered_within_target=None if judged == 0 else 100.0 * within / judged,
        per_task=[(int(pk), int(n)) for pk, n in per_task],
    )


async def _median(answered: QuerySet[Thread], count: int) -> float | None:
    """The median of `first_response_seconds` over `answered` (`count` rows): the database
    sorts and hands over the middle row, or the two middle rows of an even count."""
    if count == 0:
        return None
    middle = (
        await answered.order_by("first_response_seconds")
        .offset((count - 1) // 2)
        .limit(1 if count % 2 else 2)
        .values_list("first_response_seconds", flat=True)
    )
    return sum(middle) / len(middle)
