"""The authorization matrix: every root query, mutation and subscription field, called by
each of nine callers against account A's objects, gets what tests/platform/
authorization_matrix.py declares for it; and another account sees nothing of A.

- The table is checked against the schema: a root field without an entry, or an entry
  without a field, fails the first test by name.
- Each call's document is made from the schema (every field of the answer, two levels
  down), so an answer shows whatever a caller could read.
- Whatever a caller is refused (and whatever B is answered) holds none of A's global ids,
  names or secrets; an allowed read shows A's object.
- A refused mutation changes nothing: neither the object it names nor the number of rows
  of any table. An allowed one changes the object, for each allowed caller on its own.
- Subscriptions are tried over graphql-transport-ws against a real server, and so are
  every query and every refused mutation (a socket's key is given once, at connect).
- An id of A given to B, through node(id:), a typed lookup, a mutation, a list filter or
  a nested input (B's task in A's batch), gets exactly the answer of an id that names
  nothing. The same holds for one worker and another's submissions.
- The audit CSV exports follow the access of their GraphQL field.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
import websockets
from gql import GraphQLRequest
from gql.transport.exceptions import TransportQueryError
from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLUnionType,
    get_named_type,
)
from graphql.pyutils import Undefined
from tortoise import Tortoise, connections
from websockets.exceptions import ConnectionClosed

from gql_server.models import Task, Worker
from gql_server.schema.build import schema
from gql_server.schema.relay import to_global_id
from gql_server.services import review
from gql_server.services.global_ids import from_global_id
from tests.factories import new_submitted, new_task, new_worker
from tests.graphql_client import Api
from tests.platform.authorization_matrix import (
    MUTATIONS,
    QUERIES,
    SUBSCRIPTIONS,
    Caller,
    Outcome,
    World,
    build_world,
    rule_input,
)
from tests.server import WAIT_SECONDS, Http, LiveClient, ws_url

GRAPHQL = schema._schema
ROOTS = {
    "Query": (GRAPHQL.query_type, QUERIES),
    "Mutation": (GRAPHQL.mutation_type, MUTATIONS),
    "Subscription": (GRAPHQL.subscription_type, SUBSCRIPTIONS),
}
REFUSALS = {Outcome.UNAUTHENTICATED, Outcome.FORBIDDEN}


def test_every_root_field_has_exactly_one_entry() -> None:
    problems = []
    for root, (kind, table) in ROOTS.items():
        assert kind is not None
        fields = set(kind.fields)
        problems += [f"{root}.{name} has no entry in the matrix" for name in fields - set(table)]
        problems += [f"the matrix names {root}.{name}, not a field" for name in set(table) - fields]
    assert problems == []


# --- documents from the schema -------------------------------------------------------------


def _callable(field: GraphQLField) -> bool:
    """A field selectable without arguments."""
    return not any(
        isinstance(arg.type, GraphQLNonNull) and arg.default_value is Undefined
        for arg in field.args.values()
    )


def selection(kind: GraphQLNamedType, depth: int = 2) -> str:
    """Every field of `kind` an answer can hold, objects `depth` levels down."""
    if isinstance(kind, GraphQLScalarType | GraphQLEnumType):
        return ""
    if isinstance(kind, GraphQLUnionType):
        parts = [f"... on {member.name} {selection(member, depth)}" for member in kind.types]
        return "{ __typename " + " ".join(parts) + " }"
    assert isinstance(kind, GraphQLObjectType | GraphQLInterfaceType)
    parts = ["__typename"]
    for name, field in kind.fields.items():
        inner = get_named_type(field.type)
        if not _callable(field):
            continue
        if isinstance(inner, GraphQLScalarType | GraphQLEnumType):
            parts.append(name)
        elif depth > 0:
            parts.append(f"{name} {selection(inner, depth - 1)}")
        elif isinstance(inner, GraphQLObjectType | GraphQLInterfaceType) and "id" in inner.fields:
            parts.append(f"{name} {{ id }}")
    return "{ " + " ".join(parts) + " }"


def document(operation: str, name: str, variables: dict[str, Any]) -> str:
    root = ROOTS[operation.title()][0]
    assert root is not None
    field = root.fields[name]
    unknown = set(variables) - set(field.args)
    assert not unknown, f"{name} has no arguments {unknown}"
    definitions = ", ".join(f"${arg}: {field.args[arg].type}" for arg in variables)
    arguments = ", ".join(f"{arg}: ${arg}" for arg in variables)
    head = f"{operation} ({definitions})" if variables else operation
    call = f"{name}({arguments})" if variables else name
    # Subscriptions stay shallow: one payload per message, and the message says enough.
    depth = 1 if operation == "subscription" else 2
    return f"{head} {{ {call} {selection(get_named_type(field.type), depth)} }}"


# --- what an answer says -------------------------------------------------------------------


def error_codes(body: dict[str, Any]) -> list[str]:
    return [(e.get("extensions") or {}).get("code", "") for e in body.get("errors") or []]


def user_error_codes(value: Any) -> list[str]:
    """The codes of every userErrors list in a payload (a bulk result's too)."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "userErrors":
                found += [error["code"] for error in item]
            else:
                found += user_error_codes(item)
    elif isinstance(value, list):
        for item in value:
            found += user_error_codes(item)
    return found


def is_empty(value: Any) -> bool:
    if isinstance(value, list):
        return value == []
    return isinstance(value, dict) and value.get("edges") == [] and value.get("totalCount", 0) == 0


def leaks(world: World, body: dict[str, Any]) -> list[str]:
    text = json.dumps(body)
    # Quoted: one id can be the start of another ("Worker:1", "Worker:12").
    return [what for what, gid in world.ids.items() if f'"{gid}"' in text] + [
        secret for secret in world.secrets if secret in text
    ]


def not_found(body: dict[str, Any], value: Any) -> bool:
    """Named something that does not exist: a NOT_FOUND user error in a payload, or, where
    there is no payload (queries, subscriptions), BAD_USER_INPUT for the reason NOT_FOUND."""
    if body.get("errors"):
        extensions = [e.get("extensions") or {} for e in body["errors"]]
        return all(
            e.get("code") == "BAD_USER_INPUT" and e.get("reason") == "NOT_FOUND" for e in extensions
        )
    codes = user_error_codes(value)
    return bool(codes) and set(codes) == {"NOT_FOUND"}


def problems_of(
    world: World, outcome: Outcome, body: dict[str, Any], name: str, shows: str | None = None
) -> list[str]:
    """What is wrong with `body`, the answer to root field `name`, for `outcome`."""
    data = body.get("data") or {}
    value = data.get(name)
    if outcome in REFUSALS:
        if error_codes(body) != [outcome.value] or value is not None:
            return [f"expected {outcome.value}, got {body}"]
    elif outcome is Outcome.NOT_FOUND:
        if not not_found(body, value):
            return [f"expected NOT_FOUND, got {body}"]
    elif outcome is Outcome.INVALID_STATE:
        if body.get("errors") or user_error_codes(value) != ["INVALID_STATE"]:
            return [f"expected the user error INVALID_STATE, got {body}"]
    elif body.get("errors") or (value is None and outcome is not Outcome.NULL):
        return [f"expected {outcome.value}, got {body}"]
    elif outcome is Outcome.NULL and value is not None:
        return [f"expected null, got {value}"]
    elif outcome is Outcome.EMPTY and not is_empty(value):
        return [f"expected an empty list, got {value}"]
    elif outcome in (Outcome.OK, Outcome.OWN) and user_error_codes(value):
        return [f"expected no user errors, got {value}"]
    if outcome is Outcome.OK:
        if shows is not None and f'"{world.ids[shows]}"' not in json.dumps(body):
            return [f"the answer does not show A's {shows}: {body}"]
        return []
    leaked = leaks(world, body)
    return [f"sees A's {', '.join(leaked)}: {body}"] if leaked else []


# --- the world, once for the module ---------------------------------------------------------


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def world(app: Any) -> AsyncIterator[World]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test", timeout=30
    ) as client:
        yield await build_world(Api(client))


async def row_counts() -> dict[str, int]:
    """The number of rows of every table, in one statement."""
    tables = sorted({model._meta.db_table for model in Tortoise.apps["models"].values()})
    columns = ", ".join(f'(SELECT COUNT(*) FROM "{table}") AS "{table}"' for table in tables)
    (counts,) = await connections.get("default").execute_query_dict(f"SELECT {columns}")
    return {table: int(value) for table, value in counts.items()}


# --- queries -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(QUERIES))
async def test_query(world: World, name: str) -> None:
    entry = QUERIES[name]
    variables = entry.arguments(world)
    text = document("query", name, variables)
    problems = []
    for caller, outcome in entry.access.items():
        body = await world.api.post(text, variables, key=world.keys[caller])
        problems += [f"{caller}: {p}" for p in problems_of(world, outcome, body, name, entry.shows)]
    assert problems == [], f"Query.{name}:\n" + "\n".join(problems)


# --- mutations -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(MUTATIONS))
async def test_mutation(world: World, name: str) -> None:
    entry = MUTATIONS[name]
    problems = []
    refused = [c for c, o in entry.access.items() if o is not Outcome.OK]
    allowed = [c for c, o in entry.access.items() if o is Outcome.OK]
    # Every refused caller tries the one target; none may change it, nor add or drop a row.
    target = await entry.prepare(world, Caller.OWNER)
    text = document("mutation", name, {"input": target.input})
    for caller in refused:
        outcome = entry.access[caller]
        before, counts = await target.state(), await row_counts()
        body = await world.api.post(text, {"input": target.input}, key=world.keys[caller])
        found = problems_of(world, outcome, body, name)
        if await target.state() != before:
            found.append("changed A's object")
        if outcome is not Outcome.OWN:
            changed = {t: n for t, n in (await row_counts()).items() if counts[t] != n}
            if changed:
                found.append(f"changed the rows of {changed}")
        problems += [f"{caller} ({outcome.value}): {p}" for p in found]
    # Every allowed caller acts on a target of its own, and the target changes.
    for caller in allowed:
        call = await entry.prepare(world, caller)
        before = await call.state()
        body = await world.api.post(text, {"input": call.input}, key=world.keys[caller])
        found = problems_of(world, Outcome.OK, body, name)
        if not found and await call.state() == before:
            found.append(f"changed nothing: {body}")
        problems += [f"{caller} (allowed): {p}" for p in found]
    assert problems == [], f"Mutation.{name}:\n" + "\n".join(problems)


# --- subscriptions, over a real websocket ----------------------------------------------------


async def _first(client: LiveClient, text: str, variables: dict[str, Any]) -> dict[str, Any]:
    """The first message of a subscription as a GraphQL answer (`data` or `errors`)."""
    try:
        return {"data": await client.subscribe(text, variables).next()}
    except TransportQueryError as error:
        return {"data": None, "errors": error.errors}


async def _refused_without_a_key(server: str) -> bool:
    async with websockets.connect(ws_url(server), subprotocols=["graphql-transport-ws"]) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(socket.recv(), WAIT_SECONDS)
    return closed.value.rcvd is not None and closed.value.rcvd.code == 4403


async def test_subscriptions(world: World, server: str) -> None:
    problems = []
    for caller in Caller:
        key = world.keys[caller]
        if key is None:
            # No key, no connection: refused at connection_init, before any subscription.
            assert await _refused_without_a_key(server)
            assert all(e.access[caller] is Outcome.UNAUTHENTICATED for e in SUBSCRIPTIONS.values())
            continue
        async with LiveClient(server, key) as client:
            for name, entry in SUBSCRIPTIONS.items():
                variables = entry.arguments(world)
                body = await _first(client, document("subscription", name, variables), variables)
                outcome = entry.access[caller]
                found = problems_of(world, outcome, body, name, "task")
                problems += [f"{name}, {caller} ({outcome.value}): {p}" for p in found]
    assert problems == [], "\n".join(problems)


async def test_b_subscribing_to_as_task_or_batch_gets_what_a_missing_one_gets(
    world: World, server: str
) -> None:
    named = [(name, entry.arguments(world)) for name, entry in SUBSCRIPTIONS.items()]
    named.append(("auditLocks", {"batchId": world.ids["batch"]}))
    async with LiveClient(server, world.keys[Caller.OTHER]) as client:
        for name, variables in named:
            text = document("subscription", name, variables)
            given_a = await _first(client, text, variables)
            given_none = await _first(client, text, missing(variables))
            assert not_found(given_a, None), given_a
            assert given_a == given_none


# --- another account's objects, by global id and through nested fields ---------------------


LOOKUPS = [name for name, field in GRAPHQL.query_type.fields.items() if list(field.args) == ["id"]]
# A pk no table reaches: a "missing" id of each type.
MISSING_PK = 9_000_000_000


def missing(value: Any, only: set[str] | None = None) -> Any:
    """`value` with every global id in it (or those of `only`) replaced by an id of the
    same type that names nothing."""
    if isinstance(value, dict):
        return {key: missing(item, only) for key, item in value.items()}
    if isinstance(value, list):
        return [missing(item, only) for item in value]
    decoded = from_global_id(value) if isinstance(value, str) else None
    if decoded is None or (only is not None and value not in only):
        return value
    return str(to_global_id(decoded[0], MISSING_PK + decoded[1]))


def without_paths(body: dict[str, Any]) -> dict[str, Any]:
    """An answer less what says where it came from (the error's place in the document)."""
    return {
        "data": body.get("data"),
        "errors": [
            {key: value for key, value in error.items() if key != "locations"}
            for error in body.get("errors") or []
        ],
    }


async def test_every_id_of_a_names_nothing_to_every_other_party(world: World) -> None:
    """For B every id of A is null through node(id:) and each typed lookup (whatever type
    the lookup wants); for the operator through node(id:); for the worker too, but for
    itself and its own submission."""
    fields = ["node", *LOOKUPS]
    lookups = " ".join(f"{name}(id: $id) {{ __typename id }}" for name in fields)
    problems = []
    for kind, global_id in world.ids.items():
        body = await world.api.post(
            f"query ($id: ID!) {{ {lookups} }}", {"id": global_id}, key=world.keys[Caller.OTHER]
        )
        if "errors" in body or body["data"] != dict.fromkeys(fields):
            problems.append(f"B given A's {kind}: {body}")
        for caller in (Caller.OPERATOR, Caller.WORKER):
            body = await world.api.post(
                "query ($id: ID!) { node(id: $id) { __typename id } }",
                {"id": global_id},
                key=world.keys[caller],
            )
            own = caller is Caller.WORKER and kind in ("worker", "submission", "thread")
            if (body.get("data") == {"node": None}) == own or "errors" in body:
                problems.append(f"the {caller} given A's {kind}: {body}")
    assert problems == [], "\n".join(problems)


# Who of A's members node(id:) shows an object of A to, by kind; every member otherwise.
NODE_READERS = {
    # A key is its member's (the read-only key is the owner's), and an owner's sees all.
    "api_key": {Caller.OWNER, Caller.READ_ONLY},
    # Callbacks carry the signing secrets and bodies: managers' (as their root fields).
    "endpoint": {Caller.MANAGER, Caller.OWNER, Caller.READ_ONLY},
    "event": {Caller.MANAGER, Caller.OWNER, Caller.READ_ONLY},
}
A_MEMBERS = (Caller.VIEWER, Caller.AUDITOR, Caller.MANAGER, Caller.OWNER, Caller.READ_ONLY)


async def test_node_shows_as_objects_to_as_members_by_role(world: World) -> None:
    problems = []
    for kind, global_id in world.ids.items():
        readers = NODE_READERS.get(kind, set(A_MEMBERS))
        for caller in A_MEMBERS:
            body = await world.api.post(
                "query ($id: ID!) { node(id: $id) { id } }",
                {"id": global_id},
                key=world.keys[caller],
            )
            expected = {"node": {"id": global_id} if caller in readers else None}
            if "errors" in body or body["data"] != expected:
                problems.append(f"{caller} given A's {kind}: {body}")
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize(
    "name", sorted(n for n, e in MUTATIONS.items() if e.access[Caller.OTHER] is Outcome.NOT_FOUND)
)
async def test_a_mutation_naming_as_objects_answers_b_as_if_they_did_not_exist(
    world: World, name: str
) -> None:
    call = await MUTATIONS[name].prepare(world, Caller.OWNER)
    text = document("mutation", name, {"input": call.input})
    given_a = await world.api.post(text, {"input": call.input}, key=world.keys[Caller.OTHER])
    given_none = await world.api.post(
        text, {"input": missing(call.input)}, key=world.keys[Caller.OTHER]
    )
    # The answer to A's ids, with them (as the answer echoes them) named as missing.
    assert missing(given_a) == given_none


def _b_reads(w: World) -> list[tuple[str, dict[str, Any]]]:
    """B's reads naming A's objects: the matrix's, and every filter by an id of A."""
    ids = w.ids
    given = [
        (name, entry.arguments(w))
        for name, entry in QUERIES.items()
        if entry.access[Caller.OTHER] in (Outcome.NULL, Outcome.EMPTY, Outcome.NOT_FOUND)
    ]
    task, owner = {"taskId": ids["task"]}, {"auditorId": ids["owner"]}
    return [
        *given,
        ("tasks", {"filter": {"batchId": ids["batch"]}}),
        ("reviewQueue", {"filter": {"workerId": ids["worker"]}}),
        ("completedSubmissions", {"filter": owner}),
        ("completedSubmissions", {"filter": {"batchId": ids["batch"]}}),
        ("auditReport", {"filter": owner}),
        ("auditWeeks", {"filter": {"batchId": ids["batch"]}}),
        ("auditorTracker", {"filter": owner}),
        ("auditorQuality", {"filter": {"batchId": ids["batch"]}}),
        ("callbackEvents", {"filter": task}),
        ("callbackEvents", {"filter": {"submissionId": ids["submission"]}}),
        ("skillHistory", {"workerId": ids["worker"]}),
        ("restrictions", {"filter": task}),
        ("restrictions", {"filter": {"projectId": ids["project"]}}),
        ("rules", {"filter": {"projectId": ids["project"], "includeProjectRules": True}}),
        ("ruleFirings", {"filter": {**task, "workerId": ids["worker"]}}),
        ("apiKeys", {"filter": {"memberId": ids["member"]}}),
        ("workers", {"filter": {"skillId": ids["skill"]}}),
        (
            "dryRunRule",
            {
                "input": {
                    k: v
                    for k, v in rule_input(ids["task"], ids["skill"], "").items()
                    if k != "name"
                }
            },
        ),
    ]


async def test_b_reading_with_as_ids_gets_what_missing_ids_get(world: World) -> None:
    problems, a_ids = [], set(world.ids.values())
    for name, variables in _b_reads(world):
        text = document("query", name, variables)
        key = world.keys[Caller.OTHER]
        given_a = await world.api.post(text, variables, key=key)
        given_none = await world.api.post(text, missing(variables), key=key)
        if "INTERNAL" in error_codes(given_a) or leaks(world, given_a):
            problems.append(f"{name}({variables}): {given_a}")
        elif without_paths(missing(given_a, a_ids)) != without_paths(given_none):
            problems.append(f"{name}({variables}): {given_a} but {given_none} for missing ids")
    assert problems == [], "\n".join(problems)


async def test_b_cannot_link_its_own_objects_to_as(world: World) -> None:
    """B's mutations on B's objects that name an object of A in a nested input are refused
    exactly as for a missing id, and change nothing."""
    ids = world.ids
    b_project = str(to_global_id("Project", world.b.project_id))
    b_task = str(to_global_id("Task", (await new_task(world.b)).id))
    b_draft = str(to_global_id("Task", (await new_task(world.b, publish=False)).id))
    suspend = {
        "workerId": (await new_worker()).global_id,
        "kind": "SUSPENSION",
        "days": 1,
        "reason": "Fast.",
    }
    calls = [
        ("createTask", {**_task_input(b_project), "batchId": ids["batch"]}),
        ("updateTask", {"taskId": b_draft, "changes": {"batchId": ids["batch"]}}),
        ("createTaskFromTemplate", {"templateId": ids["template"], "projectId": b_project}),
        ("createRule", rule_input(b_task, ids["skill"], "B's rule")),
        (
            "createRule",
            {
                **rule_input(b_task, ids["skill"], "B's"),
                "taskId": None,
                "projectId": ids["project"],
            },
        ),
        ("restrictWorker", {**suspend, "scope": "TASK", "taskId": ids["task"]}),
        ("restrictWorker", {**suspend, "scope": "PROJECT", "projectId": ids["project"]}),
        ("startAuditSample", {"filter": {"batchId": ids["batch"]}, "count": 1}),
    ]
    problems = []
    for name, given in calls:
        text = document("mutation", name, {"input": given})
        key = world.keys[Caller.OTHER]
        counts = await row_counts()
        given_a = await world.api.post(text, {"input": given}, key=key)
        changed = {t: n for t, n in (await row_counts()).items() if counts[t] != n}
        a_ids = set(ids.values())
        given_none = await world.api.post(text, {"input": missing(given, a_ids)}, key=key)
        payload = (given_a.get("data") or {}).get(name) or {}
        refused = user_error_codes(payload) or payload.get("locks") == []
        if changed or not refused or leaks(world, given_a):
            problems.append(f"{name}({given}): {given_a}, changed {changed}")
        elif missing(given_a, a_ids) != given_none:
            problems.append(f"{name}({given}): {given_a} but {given_none} for missing ids")
    assert problems == [], "\n".join(problems)


def _task_input(project_id: str) -> dict[str, Any]:
    return {
        "projectId": project_id,
        "title": "B's task",
        "instructions": "Label it.",
        "reward": "1.00",
        "budget": "5.00",
        "timeLimitSeconds": 600,
        "proofRequirements": [{"name": "answer", "kind": "TEXT"}],
    }


HISTORY = "history { submissions pending paid rejected earned { amount } }"


async def test_a_worker_of_both_accounts_shows_each_only_its_own_history(world: World) -> None:
    """Workers are global: one who worked for A and B shows each account only its own work,
    by id, in `workers` (where it is the last registered) and under a queued submission."""
    shared = await new_worker()
    await new_submitted(world.task, shared)
    b_task = await new_task(world.b)
    await review.approve_submission(world.b.principal, (await new_submitted(b_task, shared)).id)
    text = f"""query ($id: ID!, $t: ID!) {{
      node(id: $id) {{ ... on Worker {{ {HISTORY} }} }}
      workers(filter: {{taskId: $t}}, last: 1) {{ edges {{ node {{ id {HISTORY} }} }} }}
      reviewQueue(filter: {{taskId: $t, workerId: $id}}) {{
        edges {{ node {{ worker {{ id {HISTORY} }} }} }}
      }}
    }}"""
    seen = {}
    for caller, task in ((Caller.OWNER, world.task), (Caller.OTHER, b_task)):
        variables = {"id": shared.global_id, "t": str(to_global_id("Task", task.id))}
        seen[caller] = await world.api.data(text, variables, key=world.keys[caller])
    # A: one submission waiting; B: one paid, 1.00 earned; neither sees the other's.
    a_history = {
        "submissions": 1,
        "pending": 1,
        "paid": 0,
        "rejected": 0,
        "earned": {"amount": "0.00"},
    }
    b_history = {
        "submissions": 1,
        "pending": 0,
        "paid": 1,
        "rejected": 0,
        "earned": {"amount": "1.00"},
    }
    for caller, history in ((Caller.OWNER, a_history), (Caller.OTHER, b_history)):
        assert seen[caller]["node"] == {"history": history}
        listed = [e["node"] for e in seen[caller]["workers"]["edges"]]
        assert {"id": shared.global_id, "history": history} in listed
    queued = [e["node"]["worker"] for e in seen[Caller.OWNER]["reviewQueue"]["edges"]]
    assert {"id": shared.global_id, "history": a_history} in queued
    assert seen[Caller.OTHER]["reviewQueue"]["edges"] == []


ACCOUNT_STREAMS = {
    "reviewQueue": "subscription { reviewQueue { version snapshot taskId length "
    "changes { kind submissionId taskId } } }",
    "budget": "subscription { budget { version snapshot taskId balance { amount } "
    "changes { cause taskId } } }",
}
WORK = (
    "mutation ($t: ID!) { startSubmission(input: {taskId: $t}) { submission { id } } }",
    "mutation ($s: ID!) { submitSubmission(input: {submissionId: $s, response: "
    '[{name: "answer", value: "a cat"}]}) { userErrors { code } } }',
)


async def _work_on(http: Http, task: Any) -> str:
    """A new worker starts and submits on `task` through the server: what A's and B's
    account streams report."""
    worker = await new_worker()
    started = await http.data(WORK[0], {"t": str(to_global_id("Task", task.id))}, key=worker.key)
    submission = started["startSubmission"]["submission"]["id"]
    sent = await http.data(WORK[1], {"s": submission}, key=worker.key)
    assert sent["submitSubmission"]["userErrors"] == []
    return str(submission)


async def test_b_account_streams_carry_nothing_of_a(world: World, server: str) -> None:
    """B's account-wide streams (no task named) run while A's work changes A's queue and
    budget: B's next message is about B's own work, and none holds anything of A."""
    http = Http(server)
    b_task = await new_task(world.b)
    try:
        async with (
            LiveClient(server, world.a.key) as a_client,
            LiveClient(server, world.b.key) as b_client,
        ):
            a_queue = a_client.subscribe(ACCOUNT_STREAMS["reviewQueue"])
            b_streams = {name: b_client.subscribe(text) for name, text in ACCOUNT_STREAMS.items()}
            for stream in (a_queue, *b_streams.values()):
                assert (await stream.next()).popitem()[1]["snapshot"] is True
            a_submission = await _work_on(http, world.task)
            a_message = (await a_queue.next())["reviewQueue"]
            assert a_submission in [change["submissionId"] for change in a_message["changes"]]
            b_submission = await _work_on(http, b_task)
            b_id = str(to_global_id("Task", b_task.id))
            queued = (await b_streams["reviewQueue"].next())["reviewQueue"]
            assert [(c["submissionId"], c["taskId"]) for c in queued["changes"]] == [
                (b_submission, b_id)
            ]
            budget = (await b_streams["budget"].next())["budget"]
            assert {change["taskId"] for change in budget["changes"]} == {b_id}
            assert leaks(world, {"messages": [queued, budget]}) == []
    finally:
        await http.client.aclose()


# --- the CSV exports of the audit reports: the same access as their GraphQL fields ---------


EXPORTS = ["summary", "weeks", "batches", "auditors", "submissions"]
EXPORT_STATUS = {Outcome.OK: 200, Outcome.UNAUTHENTICATED: 401, Outcome.FORBIDDEN: 403}


async def test_the_audit_exports_follow_their_fields_access(world: World) -> None:
    """Each caller gets the status of its outcome for auditReport; B, filtering by A's task,
    gets what a missing task gets; only A's members see A's audited submission."""
    access = QUERIES["auditReport"].access
    problems = []
    for report in EXPORTS:
        url = f"/export/audits/{report}.csv"
        for caller, outcome in access.items():
            key = world.keys[caller]
            headers = {"Authorization": f"Bearer {key}"} if key else {}
            params = {"taskId": world.ids["task"]}
            answer = await world.api.client.get(url, params=params, headers=headers)
            if caller is Caller.OTHER:
                none = await world.api.client.get(url, params=missing(params), headers=headers)
                if (answer.status_code, answer.text) != (200, none.text):
                    problems.append(f"{report}, B: {answer.status_code} {answer.text!r}")
            elif answer.status_code != EXPORT_STATUS[outcome]:
                problems.append(f"{report}, {caller}: {answer.status_code} {answer.text!r}")
            elif (
                outcome is Outcome.OK
                and report == "submissions"
                and world.ids["approved"] not in answer.text
            ):
                problems.append(f"{report}, {caller}: no audited submission in {answer.text!r}")
            cells = re.split(r"[,\r\n]+", answer.text)
            if outcome is not Outcome.OK and leaks(world, {"cells": cells}):
                problems.append(f"{report}, {caller} sees A's: {answer.text!r}")
    assert problems == [], "\n".join(problems)


# --- one worker and another's work ---------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    sorted(
        n
        for n, e in MUTATIONS.items()
        if e.access[Caller.WORKER] is Outcome.OK
        # Any worker who may see an open task starts it or asks about it: not one's own work.
        if n not in ("startSubmission", "askQuestion")
    ),
)
async def test_another_worker_is_answered_as_if_a_workers_work_did_not_exist(
    world: World, name: str
) -> None:
    """What the worker may do to its own work, another worker is refused exactly as for
    work that does not exist, changing nothing; and it sees none of it."""
    call = await MUTATIONS[name].prepare(world, Caller.WORKER)
    other = await new_worker()
    text = document("mutation", name, {"input": call.input})
    before, counts = await call.state(), await row_counts()
    given = await world.api.post(text, {"input": call.input}, key=other.key)
    assert await call.state() == before and await row_counts() == counts
    assert user_error_codes(given["data"][name]), given
    work = call.input.get("submissionId") or call.input.get("threadId")
    if work is None:
        # rateTask names an open task, which every worker sees: refused as work not done.
        assert user_error_codes(given) == ["INVALID_STATE"], given
    else:
        given_none = await world.api.post(text, {"input": missing(call.input)}, key=other.key)
        assert missing(given) == given_none
        seen = await world.api.data(
            "query ($id: ID!) { node(id: $id) { id } mySubmissions { totalCount } "
            "myThreads { totalCount } }",
            {"id": work},
            key=other.key,
        )
        assert seen == {
            "node": None,
            "mySubmissions": {"totalCount": 0},
            "myThreads": {"totalCount": 0},
        }


@pytest.mark.parametrize(
    ("name", "rest"),
    [
        ("startSubmission", {}),
        ("rateTask", {"clarity": 3, "fairness": 3, "comment": "?"}),
        ("askQuestion", {"body": "?"}),
    ],
)
async def test_a_draft_is_not_found_by_a_worker(
    world: World, name: str, rest: dict[str, Any]
) -> None:
    draft = str(to_global_id("Task", (await new_task(world.a, publish=False)).id))
    text = document("mutation", name, {"input": {"taskId": draft, **rest}})
    given, given_none = [
        await world.api.post(text, {"input": {"taskId": t, **rest}}, key=world.worker.key)
        for t in (draft, missing(draft))
    ]
    assert user_error_codes(given) == ["NOT_FOUND"]
    assert missing(given) == given_none


# --- queries and mutations over a websocket: the same table ----------------------------------


async def _over_socket(client: LiveClient, text: str, variables: dict[str, Any]) -> dict[str, Any]:
    """A query or mutation sent on the connection (graphql-transport-ws carries them too),
    as a GraphQL answer."""
    try:
        return {
            "data": await client.session.execute(GraphQLRequest(text, variable_values=variables))
        }
    except TransportQueryError as error:
        return {"data": error.data, "errors": error.errors}


async def test_queries_and_refused_mutations_over_a_websocket(world: World, server: str) -> None:
    """A key given once, at connection_init, gets over the socket what it gets over HTTP:
    every query's outcome, and every refusal of a mutation, which changes nothing."""
    targets = {name: await entry.prepare(world, Caller.OWNER) for name, entry in MUTATIONS.items()}
    problems = []
    for caller in Caller:
        key = world.keys[caller]
        if key is None:
            continue
        async with LiveClient(server, key) as client:
            for name, entry in QUERIES.items():
                variables = entry.arguments(world)
                body = await _over_socket(client, document("query", name, variables), variables)
                found = problems_of(world, entry.access[caller], body, name, entry.shows)
                problems += [f"query {name}, {caller}: {p}" for p in found]
            for name, target in targets.items():
                outcome = MUTATIONS[name].access[caller]
                if outcome not in REFUSALS:
                    continue
                variables = {"input": target.input}
                before = await target.state()
                body = await _over_socket(client, document("mutation", name, variables), variables)
                found = problems_of(world, outcome, body, name)
                if await target.state() != before:
                    found.append("changed A's object")
                problems += [f"mutation {name}, {caller}: {p}" for p in found]
    assert problems == [], "\n".join(problems)


async def test_naming_a_worker_shows_b_nothing_of_a_worker_it_never_saw(world: World) -> None:
    key = world.keys[Caller.OTHER]
    # A worker of A's own, so that what B does to it touches no other test's data.
    worker = await new_worker()
    await new_submitted(world.task, worker)
    hidden = await world.api.data(
        "query ($w: ID!) { node(id: $w) { id } }", {"w": worker.global_id}, key=key
    )
    assert hidden == {"node": None}
    skill = await world.api.data(
        'mutation { createSkill(input: {name: "B skill", scope: TASK}) { skill { id } } }', key=key
    )
    shown = await world.api.data(
        """mutation ($w: ID!, $s: ID!) {
          restrictWorker(input: {workerId: $w, kind: BAN, scope: ACCOUNT, reason: "Spam."}) {
            restriction { worker { name country } } }
          setWorkerSkill(input: {skillId: $s, workerId: $w, value: 10}) {
            workerSkill { worker { name country } } }
        }""",
        {"w": worker.global_id, "s": skill["createSkill"]["skill"]["id"]},
        key=key,
    )
    profile = await Worker.get(id=worker.id)
    assert profile.name not in json.dumps(shown), shown


async def test_callback_urls_are_shown_to_owners_and_managers_only(world: World) -> None:
    """A callback URL may carry a secret (a token in its query), as endpoints' secrets
    are for managers: viewers and auditors read null."""
    document = "query ($t: ID!) { account { callbackUrl } task(id: $t) { callbackUrl } }"
    before = (await Task.get(id=world.task.id)).callback_url
    await Task.filter(id=world.task.id).update(callback_url="https://hooks.example/t?token=s")
    answers = {}
    try:
        for caller in (Caller.VIEWER, Caller.AUDITOR, Caller.MANAGER, Caller.OWNER):
            data = await world.api.data(document, {"t": world.ids["task"]}, key=world.keys[caller])
            answers[caller] = data["task"]["callbackUrl"]
    finally:
        # The world is the module's: its task goes back as it was.
        await Task.filter(id=world.task.id).update(callback_url=before)
    assert answers[Caller.VIEWER] is None and answers[Caller.AUDITOR] is None
    assert answers[Caller.MANAGER] == answers[Caller.OWNER] == "https://hooks.example/t?token=s"
