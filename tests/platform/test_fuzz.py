"""Fuzzing the whole schema from outside: schemathesis in GraphQL mode against a real server.

Every root query and mutation of `schema.graphql` gets generated documents, positive
(well-typed literals) and negative (literals that break their types), half of them with
their arguments sent as variables instead (some of those broken: a JSON number for a
string, an unknown input field, a missing or null value), sent over HTTP by an account's
owner, by a worker who did the account's work, and by an anonymous caller. The scalars'
generators mix what a real client sends with what a careless or hostile one would:
global ids of the account's own objects and of another account's (an id field named
after a type mostly gets an id of that type), malformed ids and ids past 64 bits;
amounts valid and not; dates inside and outside the years the databases hold; strings
with control characters, thousands of characters long, or not ASCII.

Whatever was sent, every answer is:
- an HTTP status below 500 with a JSON object for its body;
- free of errors coded INTERNAL and of the masked "Internal error.": bad input is the
  client's fault and gets a client error;
- coded: every error has `extensions.code`, so that a program can tell what went wrong.

Afterwards the money of the fuzzed account (and of a sandbox twin it made) is checked in
SQL (tests/ledger_invariants.py), and the other account, whose ids the fuzzer sent too,
has not changed at all.

Bounded for CI: FUZZ_EXAMPLES examples per operation and generation mode for the owner
(10 by default; the worker and the anonymous caller get a third as many, at least one),
derandomized, so every run sends the same documents and a pass never rests on luck. Run
longer locally with, e.g., `FUZZ_EXAMPLES=100`; set FUZZ_SEED to an integer to send other
documents than CI does, and FUZZ_OPERATIONS to a comma-separated list of operations
(`Mutation.createTask,Query.tasks`) to fuzz only those. A failure lists every operation
that broke a rule, each with the document sent and the answer.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from random import Random
from typing import Any

import pytest
import requests
import schemathesis
from graphql import (
    ArgumentNode,
    DocumentNode,
    FieldNode,
    ListValueNode,
    NameNode,
    ObjectFieldNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    VariableDefinitionNode,
    VariableNode,
    Visitor,
    parse,
    parse_type,
    print_ast,
    value_from_ast_untyped,
    visit,
)
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis.generation import GenerationMode
from schemathesis.graphql import nodes
from schemathesis.hooks import HookContext

from gql_server import models
from gql_server.models.enums import MemberRole, RestrictionKind, RestrictionScope
from gql_server.services import (
    audits,
    batches,
    review,
    rules,
    skills,
    submissions,
    task_lifecycle,
    tasks,
    webhook_endpoints,
)
from gql_server.services.global_ids import from_global_id, global_id
from gql_server.services.restrictions import restrict_worker
from gql_server.settings import Settings
from tests.factories import (
    Requester,
    Worker,
    answer,
    new_requester,
    new_task,
    new_worker,
    snapshot,
)
from tests.ledger_invariants import ledger_violations
from tests.server import SUITE_RATE_LIMITS, running_server

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))
SEED = os.environ.get("FUZZ_SEED")
ONLY = set(filter(None, os.environ.get("FUZZ_OPERATIONS", "").split(",")))
SCHEMA = schemathesis.graphql.from_path(ROOT / "schema.graphql")


def server_env(database: Settings) -> dict[str, str]:
    """Every setting of the fuzzed server, here and only here."""
    env = {
        "DATABASE_URL": database.database_url,
        "GQL_BACKGROUND_IN_PROCESS": "false",
        # Budgets the fuzz cannot spend: a refusal would stop it from reaching the fields.
        "GQL_RATE_LIMITS": SUITE_RATE_LIMITS,
    }
    if database.redis_url:
        env["REDIS_URL"] = database.redis_url
    return env


@pytest.fixture(scope="module")
def fuzzed_server(database: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_server(server_env(database), cwd=tmp_path_factory.mktemp("fuzz")) as base:
        yield base


# --- what the generators draw -------------------------------------------------------------

# The global ids of real objects, filled by each test before it fuzzes (the generators are
# registered once, when the module is imported, and read this at every draw).
REAL_IDS: list[str] = []

NODE_TYPES = [
    *("Account", "ApiKey", "Audit", "Batch", "CallbackEvent", "Member", "Project"),
    *("Restriction", "Rule", "RuleFiring", "Skill", "Submission", "Task", "Template"),
    *("WebhookEndpoint", "Worker"),
]


def _encoded(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@st.composite
def _real_id(draw: st.DrawFn) -> str:
    return draw(st.sampled_from(REAL_IDS))


def _edges_first(edges: list[Any], *others: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """One of `edges` half the time (where bugs live, and few examples find them), else
    one of the others."""
    return st.one_of(*([st.sampled_from(edges)] * len(others)), *others)


_ODD_PKS = ["0", "-1", "01", "1 ", "+1", "1e3", "", str(2**63 - 1), str(2**63), str(10**40)]
IDS = st.one_of(
    _real_id(),
    _real_id(),
    _real_id(),
    st.builds(global_id, st.sampled_from(NODE_TYPES), st.integers(1, 10**6)),
    st.builds(
        lambda t, pk: _encoded(f"{t}:{pk}"), st.sampled_from(NODE_TYPES), st.sampled_from(_ODD_PKS)
    ),
    st.sampled_from(["", "x", "====", "Task:1", "VGFzazo", "VGFzazox\n", "💥"]),
    st.text(max_size=30),
)

INTS = _edges_first(
    [-(2**31), -1, 0, 1, 2, 59, 60, 99, 100, 101, 3600, 3601, 10_000, 10_001, 2**31 - 1],
    st.integers(0, 120),
    st.integers(-(2**31), 2**31 - 1),
)

STRINGS = _edges_first(
    [
        *("", " ", "a\x00b", "bell\x07", "tab\tline\nfeed", "\u202eevil", "日本語のテキスト"),
        *("😀", "%", "_", "\\", "'; DROP TABLE task; --", "DE", "US", "us", "XX"),
        *("UTC", "America/Los_Angeles", "Mars/Olympus", "owner@example.test"),
        *("https://hooks.example/fuzz", "http://127.0.0.1:9/", "ftp://x", "javascript:1"),
        *("answer", "screenshot", "notes", "TEXT", "1.00", "a" * 201, "é" * 256, "😀" * 2049),
        *("x" * 5001, "y" * 70_000, "\x01" * 300),
    ],
    st.text(max_size=40),
    st.builds(lambda piece, n: piece * n, st.sampled_from(["a", "é", "😀"]), st.integers(1, 3000)),
)

AMOUNTS = _edges_first(
    [
        *("0.01", "1.00", "12.50", "100.00", "0", "0.00", "12.5", "12.505", "-1", "-0.01"),
        *("abc", "1.00\n", " 1.00", "1e3", "1_000.00", "\uff11.\uff10\uff10", "NaN"),
        *("Infinity", "99999999999999999.99", "922337203685477580.8", "1" * 40 + ".00"),
    ],
    st.decimals(min_value=0, max_value=10**6, places=2).map(str),
    st.text(alphabet="0123456789.-", max_size=14),
)

DATETIMES = _edges_first(
    [
        *(
            "9999-12-31T23:59:59+00:00",
            "9999-12-31T23:59:59.999999-14:00",
            "0001-01-01T00:00:00+14:00",
        ),
        *("9000-12-31T23:59:59-14:00", "1900-01-01T00:00:00+14:00", "8999-12-31T23:59:59Z"),
        *("2026-12-01T09:30:00Z", "2026-12-01T09:30:00", "2026-02-30T00:00:00Z", "2026-12-01"),
        *("tomorrow", "", "2026-12-01T25:00:00Z", "2026-12-01T09:30:00+23:59"),
    ],
    st.datetimes(
        min_value=datetime(1900, 1, 2),
        max_value=datetime(8999, 12, 30),
        timezones=st.just(UTC),
    ).map(datetime.isoformat),
    st.datetimes().map(datetime.isoformat),
)

DATES = _edges_first(
    ["9999-12-31", "0001-01-01", "1900-01-01", "9000-12-31", "8999-12-31", "2026-13-01", "x"],
    st.dates().map(lambda day: day.isoformat()),
)

# A connection takes `first`/`after` or `last`/`before`, and the generator nearly always
# sends all four, which is refused before anything is read: most documents keep one pair
# only, so that the lists' filters and orders reach the database too.
_PAGING = {"first", "after", "last", "before"}

# An id of the wrong type is refused before the rest of an input is looked at: an input
# field or argument named after a type (`taskId`, `auditorId`, `invitedWorkerIds`) gets an
# id of that type more often than by chance.
_ID_WORDS = {
    **{name[0].lower() + name[1:]: name for name in NODE_TYPES},
    **{"auditor": "Member", "holder": "Member", "key": "ApiKey", "endpoint": "WebhookEndpoint"},
    "event": "CallbackEvent",
}


def _id_type(name: str) -> str | None:
    stem = name.removesuffix("s").removesuffix("Id")
    if stem == name:
        return None
    for word, type_name in _ID_WORDS.items():
        if stem == word or stem.endswith(word[0].upper() + word[1:]):
            return type_name
    return None


class _Shape(Visitor):
    """Keeps the paging arguments in `kept` only; puts real ids of the named type into id
    fields, most of the time."""

    def __init__(self, kept: set[str], rng: Random) -> None:
        super().__init__()
        self.dropped = _PAGING - kept
        self.rng = rng

    def _typed(self, node: Any) -> Any:
        type_name = _id_type(node.name.value)
        ids = [i for i in REAL_IDS if (from_global_id(i) or ("",))[0] == type_name]
        if not ids or self.rng.random() < 0.15:
            return None
        if isinstance(node.value, StringValueNode):
            value: Any = StringValueNode(value=self.rng.choice(ids))
        elif isinstance(node.value, ListValueNode):
            value = ListValueNode(
                values=tuple(StringValueNode(value=self.rng.choice(ids)) for _ in node.value.values)
            )
        else:
            return None
        return node.__class__(name=node.name, value=value)

    def enter_argument(self, node: ArgumentNode, *_: Any) -> Any:
        return self.REMOVE if node.name.value in self.dropped else self._typed(node)

    def enter_object_field(self, node: ObjectFieldNode, *_: Any) -> Any:
        return self._typed(node)


@SCHEMA.hook
def flatmap_body(context: HookContext, body: DocumentNode) -> st.SearchStrategy[DocumentNode]:
    kept = st.sampled_from([{"first", "after"}, {"last", "before"}, {"first"}, _PAGING])
    return st.builds(lambda names, rng: visit(body, _Shape(names, rng)), kept, st.randoms())


for name, strategy in {
    "ID": IDS.map(nodes.String),
    "String": STRINGS.map(nodes.String),
    "Int": INTS.map(nodes.Int),
    "Decimal": AMOUNTS.map(nodes.String),
    "DateTime": DATETIMES.map(nodes.String),
    "Date": DATES.map(nodes.String),
}.items():
    schemathesis.graphql.scalar(name, strategy)


# --- the data the ids name ------------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    account: Requester
    other: Requester
    worker: Worker
    ids: list[str]


async def _work(account: Requester, worker: Worker) -> None:
    """Tasks in every state and submissions in most, audits, rules and the rest."""
    principal = account.principal
    batch = await batches.create_batch(principal, f"Batch {worker.id}")
    task = await new_task(account, budget="40.00", max_submissions_per_worker=20)
    await new_task(account, publish=False, batch_id=batch.id)
    await tasks.save_as_template(principal, task.id, "Template")
    workers = [worker, await new_worker("US"), await new_worker("IN")]
    made = []
    for index in range(8):
        started = await submissions.start_submission(workers[index % 3].principal, task.id)
        made.append(started)
        if index:
            await submissions.submit_submission(workers[index % 3].principal, started.id, answer())
    approved, rejected, revised = made[1], made[2], made[3]
    await review.approve_submission(principal, approved.id)
    await review.approve_submission(principal, made[4].id)
    await review.reject_submission(principal, rejected.id, "Not what was asked.")
    await submissions.dispute_rejection(workers[2].principal, rejected.id, "It was right.")
    await review.request_revision(principal, revised.id, "Say more.")
    await audits.start_audit(principal, approved.id)
    skill = await skills.create_skill(principal, "Accuracy")
    await rules.create_rule(
        principal,
        rules.RuleScope(project_id=account.project_id),
        rules.RuleDraft(
            "REVIEW_RESULTS",
            None,
            [{"metric": "REVIEWED_COUNT", "operator": "GTE", "value": 3}],
            {"type": "SET_SKILL_FROM_ACCEPTED_PERCENT", "skill_id": skill.id},
        ),
    )
    await restrict_worker(
        principal,
        worker_id=workers[1].id,
        kind=RestrictionKind.SUSPENSION,
        scope=RestrictionScope.TASK,
        task_id=task.id,
        project_id=None,
        days=2,
        reason="Too fast.",
    )
    await webhook_endpoints.create_endpoint(principal, f"https://hooks.example/{worker.id}")
    paused = await new_task(account, budget="5.00")
    await task_lifecycle.pause_task(principal, paused.id)
    closed = await new_task(account, budget="3.00")
    await task_lifecycle.close_task(principal, closed.id)


async def _ids_of(account: Requester, worker_ids: set[int], keep_out: set[int]) -> list[str]:
    """The global ids of every object of the account (but the keys in `keep_out`)."""
    mine = {"account_id": account.account_id}
    found = [global_id("Account", account.account_id)]
    for type_name, model in {
        "Task": models.Task,
        "Submission": models.Submission,
        "Project": models.Project,
        "Batch": models.Batch,
        "Template": models.Template,
        "Skill": models.Skill,
        "Rule": models.Rule,
        "RuleFiring": models.RuleFiring,
        "Restriction": models.Restriction,
        "WebhookEndpoint": models.WebhookEndpoint,
        "CallbackEvent": models.OutboxEvent,
        "Audit": models.Audit,
        "Member": models.Member,
    }.items():
        pks = await model.filter(**mine).values_list("id", flat=True)
        found += [global_id(type_name, pk) for pk in pks]
    keys = await models.ApiKey.filter(member__account_id=account.account_id).values_list(
        "id", flat=True
    )
    found += [global_id("ApiKey", pk) for pk in keys if pk not in keep_out]
    found += [global_id("Worker", pk) for pk in worker_ids]
    return found


async def _seed() -> Seeded:
    account = await new_requester(fund_minor=100_000)
    other = await new_requester(fund_minor=10_000)
    worker = await new_worker()
    await account.member(MemberRole.AUDITOR)
    await account.member(MemberRole.VIEWER)
    await _work(account, worker)
    other_worker = await new_worker("FR")
    other_task = await new_task(other, budget="5.00")
    await submissions.start_submission(other_worker.principal, other_task.id)
    # Paused, so that no worker may start it: the fuzzing worker has no business there.
    await task_lifecycle.pause_task(other.principal, other_task.id)
    worker_ids = set(
        await models.Submission.filter(account_id=account.account_id).values_list(
            "worker_id", flat=True
        )
    )
    keep_out = {account.principal.api_key_id}
    ids = await _ids_of(account, worker_ids, keep_out)
    ids += await _ids_of(other, {other_worker.id}, set())
    return Seeded(account, other, worker, ids)


# --- the rules every answer keeps -------------------------------------------------------------


def _problems(status: int, content_type: str, text: str) -> list[str]:
    if status >= 500:
        return [f"HTTP {status}"]
    if not content_type.startswith("application/json"):
        return [f"content type {content_type!r}"]
    try:
        body = json.loads(text)
    except ValueError:
        return ["a body that is not JSON"]
    if not isinstance(body, dict):
        return ["a body that is not a JSON object"]
    found = []
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        if not code:
            found.append(f"an error without a code: {error.get('message')!r}")
        elif code == "INTERNAL" or error.get("message") == "Internal error.":
            found.append(f"an INTERNAL error at {error.get('path')}")
    return found


# --- the same documents with their arguments in variables -----------------------------------

# Clients send variables, which are coerced by another path than literals (JSON values
# into the scalars' parse_value): a JSON number where a string belongs, an unknown input
# field, an unknown enum value, a null or a missing value for a required one.
WRONG_JSON = st.sampled_from(
    [5, 12.5, True, "5", "", "NOT_A_VALUE", [], {}, None, 2**63, -(2**63) - 1, 1e300]
)


@st.composite
def _broken(draw: st.DrawFn, value: Any) -> Any:
    """`value` with one wrong part, anywhere inside it."""
    if isinstance(value, dict) and value and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(value)))
        changed = dict(value)
        how = draw(st.sampled_from(["inside", "missing", "unknown"]))
        if how == "missing":
            del changed[key]
        elif how == "unknown":
            changed["notAField"] = draw(WRONG_JSON)
        else:
            changed[key] = draw(_broken(value[key]))
        return changed
    if isinstance(value, list) and value and draw(st.booleans()):
        index = draw(st.integers(0, len(value) - 1))
        return [*value[:index], draw(_broken(value[index])), *value[index + 1 :]]
    return draw(WRONG_JSON)


def _with_variables(document: str, data: st.DataObject) -> tuple[str, dict[str, Any]]:
    """The document with its root field's arguments moved into variables, some broken."""
    parsed = parse(document)
    operation = parsed.definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    root = operation.selection_set.selections[0]
    assert isinstance(root, FieldNode)
    schema = SCHEMA.client_schema
    root_type = schema.mutation_type if operation.operation.value == "mutation" else None
    arguments = (root_type or schema.query_type).fields[root.name.value].args  # type: ignore[union-attr]
    definitions, passed, variables = [], [], {}
    for argument in root.arguments or ():
        name = argument.name.value
        variable = VariableNode(name=NameNode(value=name))
        definitions.append(
            VariableDefinitionNode(variable=variable, type=parse_type(str(arguments[name].type)))
        )
        passed.append(ArgumentNode(name=argument.name, value=variable))
        value = value_from_ast_untyped(argument.value)
        if data.draw(st.integers(0, 3), label=f"break ${name}") == 0:
            value = data.draw(_broken(value))
        if data.draw(st.integers(0, 9), label=f"leave ${name} out"):
            variables[name] = value
    root = FieldNode(
        alias=root.alias,
        name=root.name,
        arguments=tuple(passed),
        directives=root.directives,
        selection_set=root.selection_set,
    )
    operation = OperationDefinitionNode(
        operation=operation.operation,
        name=operation.name,
        variable_definitions=tuple(definitions),
        directives=operation.directives,
        selection_set=SelectionSetNode(selections=(root,)),
    )
    return print_ast(DocumentNode(definitions=(operation, *parsed.definitions[1:]))), variables


# --- the runs -------------------------------------------------------------------------------


def _fuzz(base: str, key: str | None, examples: int) -> list[str]:
    """Fuzz every root query and mutation; one line per operation that broke a rule."""
    session = requests.Session()
    if key is not None:
        session.headers["Authorization"] = f"Bearer {key}"
    failures = []
    operations = [result.ok() for result in SCHEMA.get_all_operations()]
    if ONLY:
        operations = [operation for operation in operations if operation.label in ONLY]
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=examples,
                derandomize=SEED is None,
                database=None,
                deadline=None,
                # The server's state moves on between examples, so a shrunk example would
                # not fail the same way: the first failing document is the report.
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
            def run(case: Any, data: st.DataObject) -> None:
                if data.draw(st.booleans(), label="in variables"):
                    document, variables = _with_variables(case.body, data)
                    answer = session.post(
                        f"{base}/graphql",
                        json={"query": document, "variables": variables},
                        timeout=60,
                    )
                    sent = f"{document}\nvariables: {json.dumps(variables)[:20_000]}"
                    content_type = answer.headers.get("content-type", "")
                else:
                    answer = case.call(base_url=f"{base}/graphql", session=session, timeout=60)
                    sent = case.body
                    content_type = (answer.headers.get("content-type") or [""])[0]
                problems = _problems(answer.status_code, content_type, answer.text)
                assert not problems, (
                    f"{'; '.join(problems)}\n{sent}\n-> {answer.status_code} {answer.text[:1500]}"
                )

            if SEED is not None:
                run = seed(int(SEED))(run)
            try:
                run()
            except Exception as failure:
                failures.append(f"{operation.label} ({mode.value}): {failure}")
    session.close()
    return failures


async def _fuzz_as(seeded: Seeded, base: str, key: str | None, examples: int) -> None:
    REAL_IDS[:] = seeded.ids
    other_before = await snapshot(seeded.other.account_id)
    failures = await asyncio.to_thread(_fuzz, base, key, examples)
    assert not failures, f"{len(failures)} operations broke a rule:\n\n" + "\n\n".join(failures)
    accounts = [seeded.account.account_id, seeded.other.account_id]
    # A sandbox twin the fuzzer made has money of its own.
    accounts += await models.Account.filter(twin_of_id__in=accounts).values_list("id", flat=True)
    assert await ledger_violations(accounts) == []
    other_after = await snapshot(seeded.other.account_id)
    # Records of idempotency keys are counted over all accounts: the fuzzed one made some.
    other_before.pop("idempotency_records")
    other_after.pop("idempotency_records")
    assert other_after == other_before


async def test_the_owner_gets_a_coded_client_error_for_anything(fuzzed_server: str) -> None:
    seeded = await _seed()
    await _fuzz_as(seeded, fuzzed_server, seeded.account.key, EXAMPLES)


async def test_a_worker_gets_a_coded_client_error_for_anything(fuzzed_server: str) -> None:
    seeded = await _seed()
    await _fuzz_as(seeded, fuzzed_server, seeded.worker.key, max(1, EXAMPLES // 3))


async def test_an_anonymous_caller_gets_a_coded_client_error_for_anything(
    fuzzed_server: str,
) -> None:
    seeded = await _seed()
    await _fuzz_as(seeded, fuzzed_server, None, max(1, EXAMPLES // 3))
