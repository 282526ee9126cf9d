"""A member's API keys through GraphQL: made (shown once), listed, revoked, rotated with a
grace period, expiring by the domain clock, read-only; a member manages its own, an owner
every member's."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
)
from graphql.pyutils import Undefined

from gql_server import clock
from gql_server.models import ApiKey
from gql_server.models.enums import MemberRole
from gql_server.resolvers.permissions import READ_ONLY_MUTATIONS
from gql_server.schema.build import schema
from gql_server.services.api_keys import hash_key
from tests.factories import Requester
from tests.graphql_client import Api

CREATE = """
mutation ($name: String!, $expiresAt: DateTime, $readOnly: Boolean!) {
  createApiKey(input: {name: $name, expiresAt: $expiresAt, readOnly: $readOnly}) {
    key { id prefix name expiresAt readOnly revokedAt member { email } } secret
    userErrors { code field message }
  }
}
"""
REVOKE = """
mutation ($id: ID!) {
  revokeApiKey(input: {keyId: $id}) { key { id revokedAt } userErrors { code field } }
}
"""
ROTATE = """
mutation ($id: ID!, $grace: Int!) {
  rotateApiKey(input: {keyId: $id, gracePeriodSeconds: $grace}) {
    key { id name readOnly } secret userErrors { code field message }
  }
}
"""
KEYS = "{ apiKeys { totalCount edges { node { id prefix name member { role } } } } }"
ME = "{ me { ... on Member { role } } }"


def _codes(body: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]


async def _create(api: Api, key: str, **given: Any) -> dict[str, Any]:
    variables = {"name": "ci", "expiresAt": None, "readOnly": False, **given}
    return (await api.data(CREATE, variables, key=key))["createApiKey"]


async def test_a_new_key_is_shown_once_stored_hashed_and_works(
    api: Api, account: Requester
) -> None:
    made = await _create(api, account.key, name="  deploy bot ")
    assert made["userErrors"] == []
    secret = made["secret"]
    assert made["key"]["name"] == "deploy bot" and secret.startswith(made["key"]["prefix"])
    assert made["key"]["member"]["email"].endswith("@example.test")
    stored = await ApiKey.get(key_hash=hash_key(secret))
    assert secret not in (stored.key_hash, stored.prefix)
    assert (await api.data(ME, key=secret))["me"]["role"] == "OWNER"
    listed = (await api.data(KEYS, key=secret))["apiKeys"]
    assert made["key"]["id"] in [edge["node"]["id"] for edge in listed["edges"]]
    assert "secret" not in str(listed)


async def test_a_key_past_its_expiry_is_unauthenticated(
    api: Api, account: Requester, frozen: Any
) -> None:
    ends = clock.now() + timedelta(hours=1)
    made = await _create(api, account.key, expiresAt=ends.isoformat())
    assert made["userErrors"] == []
    assert "errors" not in await api.post(ME, key=made["secret"])
    frozen.advance(timedelta(hours=1))
    assert _codes(await api.post(ME, key=made["secret"])) == ["UNAUTHENTICATED"]
    past = await _create(api, account.key, expiresAt=(clock.now() - timedelta(1)).isoformat())
    assert [(e["code"], e["field"]) for e in past["userErrors"]] == [
        ("VALIDATION", ["input", "expiresAt"])
    ]
    naive = {"name": "ci", "expiresAt": "2099-01-01T00:00:00", "readOnly": False}
    assert _codes(await api.post(CREATE, naive, key=account.key)) == ["BAD_USER_INPUT"]


async def test_a_replacement_keeps_the_old_keys_expiry_and_use_is_recorded(
    api: Api, account: Requester, frozen: Any
) -> None:
    ends = clock.now() + timedelta(days=30)
    old = await _create(api, account.key, expiresAt=ends.isoformat())
    rotated = (await api.data(ROTATE, {"id": old["key"]["id"], "grace": 60}, key=account.key))[
        "rotateApiKey"
    ]
    new = await ApiKey.get(key_hash=hash_key(rotated["secret"]))
    assert new.expires_at == ends
    assert new.last_used_at is None
    await api.data(ME, key=rotated["secret"])
    assert (await ApiKey.get(id=new.id)).last_used_at == clock.now()


async def test_a_revoked_key_is_unauthenticated_on_its_next_request(
    api: Api, account: Requester
) -> None:
    made = await _create(api, account.key)
    revoked = (await api.data(REVOKE, {"id": made["key"]["id"]}, key=account.key))["revokeApiKey"]
    assert revoked["userErrors"] == [] and revoked["key"]["revokedAt"] is not None
    assert _codes(await api.post(ME, key=made["secret"])) == ["UNAUTHENTICATED"]
    again = (await api.data(REVOKE, {"id": made["key"]["id"]}, key=account.key))["revokeApiKey"]
    assert again["key"]["revokedAt"] == revoked["key"]["revokedAt"]


async def test_a_rotated_key_works_until_its_grace_period_ends(
    api: Api, account: Requester, frozen: Any
) -> None:
    old = await _create(api, account.key, name="worker pool", readOnly=True)
    rotated = (await api.data(ROTATE, {"id": old["key"]["id"], "grace": 3600}, key=account.key))[
        "rotateApiKey"
    ]
    assert rotated["userErrors"] == []
    assert rotated["key"]["name"] == "worker pool" and rotated["key"]["readOnly"] is True
    new = rotated["secret"]
    for key in (old["secret"], new):
        assert "errors" not in await api.post(ME, key=key)
    frozen.advance(timedelta(seconds=3600))
    assert _codes(await api.post(ME, key=old["secret"])) == ["UNAUTHENTICATED"]
    assert "errors" not in await api.post(ME, key=new)

    # No grace: the old key ends at once. A grace beyond 7 days is refused, nothing made.
    at_once = (await api.data(ROTATE, {"id": rotated["key"]["id"], "grace": 0}, key=account.key))[
        "rotateApiKey"
    ]
    assert _codes(await api.post(ME, key=new)) == ["UNAUTHENTICATED"]
    count = await ApiKey.all().count()
    too_long = (
        await api.data(
            ROTATE, {"id": at_once["key"]["id"], "grace": 7 * 86400 + 1}, key=account.key
        )
    )["rotateApiKey"]
    assert [(e["code"], e["field"]) for e in too_long["userErrors"]] == [
        ("VALIDATION", ["input", "gracePeriodSeconds"])
    ]
    assert await ApiKey.all().count() == count
    # A key that ended cannot be rotated.
    ended = (await api.data(ROTATE, {"id": old["key"]["id"], "grace": 0}, key=account.key))[
        "rotateApiKey"
    ]
    assert [e["code"] for e in ended["userErrors"]] == ["INVALID_STATE"]


async def test_a_member_manages_its_own_keys_and_an_owner_everyones(
    api: Api, account: Requester, other_account: Requester
) -> None:
    manager = await account.member(MemberRole.MANAGER)
    mine = await _create(api, manager.key, name="manager's")
    owners = await _create(api, account.key, name="owner's")
    # The manager sees only its own keys, and the owner's key is not found for it.
    listed = (await api.data(KEYS, key=manager.key))["apiKeys"]
    assert {edge["node"]["member"]["role"] for edge in listed["edges"]} == {"MANAGER"}
    denied = (await api.data(REVOKE, {"id": owners["key"]["id"]}, key=manager.key))["revokeApiKey"]
    assert [e["code"] for e in denied["userErrors"]] == ["NOT_FOUND"]
    node = await api.data(
        "query ($id: ID!) { node(id: $id) { id } }", {"id": owners["key"]["id"]}, key=manager.key
    )
    assert node["node"] is None
    # The owner lists and revokes the manager's key too; another account's owner cannot.
    everyone = (await api.data(KEYS, key=account.key))["apiKeys"]
    assert {edge["node"]["member"]["role"] for edge in everyone["edges"]} == {"OWNER", "MANAGER"}
    foreign = (await api.data(REVOKE, {"id": mine["key"]["id"]}, key=other_account.key))[
        "revokeApiKey"
    ]
    assert [e["code"] for e in foreign["userErrors"]] == ["NOT_FOUND"]
    # An owner revokes anyone's key but never receives another member's secret.
    taken = (await api.data(ROTATE, {"id": mine["key"]["id"], "grace": 0}, key=account.key))[
        "rotateApiKey"
    ]
    assert taken["secret"] is None
    assert [e["code"] for e in taken["userErrors"]] == ["NOT_FOUND"]
    revoked = (await api.data(REVOKE, {"id": mine["key"]["id"]}, key=account.key))["revokeApiKey"]
    assert revoked["userErrors"] == []
    assert _codes(await api.post(ME, key=mine["secret"])) == ["UNAUTHENTICATED"]


# --- read-only keys, against every mutation of the schema ------------------------------------


_SCALARS = {
    "ID": '"x"',
    "String": '"x"',
    "Int": "1",
    "Float": "1.0",
    "Boolean": "true",
    "DateTime": '"2030-01-01T00:00:00+00:00"',
    "Date": '"2030-01-01"',
    "Decimal": '"1.00"',
}


def _literal(kind: GraphQLInputType) -> str:
    """A valid literal of `kind`, with only its required fields."""
    if isinstance(kind, GraphQLNonNull):
        return _literal(kind.of_type)
    if isinstance(kind, GraphQLList):
        return f"[{_literal(kind.of_type)}]"
    if isinstance(kind, GraphQLEnumType):
        return next(iter(kind.values))
    if isinstance(kind, GraphQLScalarType):
        return _SCALARS[kind.name]
    assert isinstance(kind, GraphQLInputObjectType)
    fields = [
        f"{name}: {_literal(field.type)}"
        for name, field in kind.fields.items()
        if isinstance(field.type, GraphQLNonNull) and field.default_value is Undefined
    ]
    return "{" + ", ".join(fields) + "}"


def every_mutation() -> list[tuple[str, str]]:
    """Each root mutation as a document that passes validation, with its name."""
    mutation_type = schema._schema.mutation_type
    assert mutation_type is not None
    documents = []
    for name, field in mutation_type.fields.items():
        arguments = ", ".join(
            f"{arg_name}: {_literal(arg.type)}"
            for arg_name, arg in field.args.items()
            if isinstance(arg.type, GraphQLNonNull)
        )
        call = f"{name}({arguments})" if arguments else name
        documents.append((name, f"mutation {{ {call} {{ __typename }} }}"))
    return documents


async def test_a_read_only_key_reads_with_its_role_and_is_forbidden_every_mutation(
    api: Api, account: Requester
) -> None:
    made = await _create(api, account.key, readOnly=True)
    key = made["secret"]
    assert (await api.data(ME, key=key))["me"]["role"] == "OWNER"
    assert (await api.data(KEYS, key=key))["apiKeys"]["totalCount"] >= 2
    mutations = every_mutation()
    assert len(mutations) > 40  # the whole schema, not a sample
    for name, document in mutations:
        body = await api.post(document, key=key)
        if name in READ_ONLY_MUTATIONS:
            # The declared exceptions only read (tests/exports tests them).
            assert "errors" not in body, (name, body)
            continue
        assert body.get("data") is None and _codes(body) == ["FORBIDDEN"], (name, body)
    # The owner's own, full key still changes things: the refusal is the key's.
    assert (await _create(api, account.key))["userErrors"] == []
