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
- Subscriptions are tried over graphql-transport-ws against a real server.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
import websockets
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

from gql_server.schema.build import schema
from tests.graphql_client import Api
from tests.platform.authorization_matrix import (
    MUTATIONS,
    QUERIES,
    SUBSCRIPTIONS,
    Caller,
    Outcome,
    World,
    build_world,
)
from tests.server import WAIT_SECONDS, LiveClient, ws_url

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
