"""Skills and restrictions through GraphQL: who may do what, what workers see (nothing of
restrictions), targeting on a skill, and imposing and lifting restrictions by hand."""

from __future__ import annotations

from typing import Any

from gql_server.models.enums import MemberRole
from gql_server.schema.relay import to_global_id
from gql_server.services.accounts import register_worker
from tests.conftest import AccountFixture, Api
from tests.platform.test_api_session import _create_open_task
from tests.tasks.test_create_task import _valid

LISTING = "{ availableTasks(first: 100) { edges { node { id } } } }"
START = (
    "mutation ($id: ID!) { startSubmission(input: {taskId: $id}) "
    "{ submission { id } userErrors { code message } } }"
)
CREATE_SKILL = (
    "mutation ($input: CreateSkillInput!) { createSkill(input: $input) "
    "{ skill { id name description scope } userErrors { field code message } } }"
)
SET_SKILL = (
    "mutation ($input: SetWorkerSkillInput!) { setWorkerSkill(input: $input) { changed "
    "workerSkill { value skill { name } worker { id } task { id } } "
    "userErrors { field code message } } }"
)
RESTRICT = (
    "mutation ($input: RestrictWorkerInput!) { restrictWorker(input: $input) { created "
    "restriction { id kind scope reason active endsAt actorKind createdBy { id } "
    "task { id } project { id } worker { id } } userErrors { field code message } } }"
)
LIFT = (
    "mutation ($id: ID!) { liftRestriction(input: {restrictionId: $id}) "
    "{ restriction { id active liftedAt liftedBy { id } } userErrors { field code message } } }"
)
RESTRICTIONS = (
    "query ($filter: RestrictionFilter) { restrictions(filter: $filter, first: 50) "
    "{ totalCount edges { node { id kind scope reason active worker { id } } } } }"
)


async def _visible(api: Api, key: str) -> set[str]:
    data = await api.data(LISTING, key=key)
    return {edge["node"]["id"] for edge in data["availableTasks"]["edges"]}


async def _worker() -> tuple[str, str]:
    """(global id, API key) of a new worker."""
    worker = await register_worker(name="Wanda", country="US")
    return to_global_id("Worker", worker.id), worker.api_key


async def _skill(api: Api, key: str, name: str, **extra: Any) -> str:
    created = await api.data(CREATE_SKILL, {"input": {"name": name, **extra}}, key=key)
    assert created["createSkill"]["userErrors"] == []
    return created["createSkill"]["skill"]["id"]


async def _another_task(api: Api, key: str, task_id: str) -> str:
    """A second open task in the project of `task_id`."""
    found = await api.data(
        "query ($id: ID!) { task(id: $id) { project { id } } }", {"id": task_id}, key=key
    )
    created = await api.data(
        "mutation ($input: CreateTaskInput!) { createTask(input: $input) { task { id } } }",
        {"input": _valid(found["task"]["project"]["id"], targeting={})},
        key=key,
    )
    new_id = created["createTask"]["task"]["id"]
    published = await api.data(
        "mutation ($id: ID!) { publishTask(input: {taskId: $id}) { task { status } } }",
        {"id": new_id},
        key=key,
    )
    assert published["publishTask"]["task"]["status"] == "OPEN"
    return new_id


async def _start_codes(api: Api, key: str, task_id: str) -> list[str]:
    body = await api.data(START, {"id": task_id}, key=key)
    return [e["code"] for e in body["startSubmission"]["userErrors"]]


# --- skills -------------------------------------------------------------------------------


async def test_skills_are_created_listed_and_unique_by_name(
    api: Api, account: AccountFixture, other_account: AccountFixture
) -> None:
    owner = account.owner_key
    skill_id = await _skill(api, owner, "Spanish", description="Native", scope="PROJECT")
    duplicate = await api.data(CREATE_SKILL, {"input": {"name": "Spanish"}}, key=owner)
    assert duplicate["createSkill"]["skill"] is None
    [error] = duplicate["createSkill"]["userErrors"]
    assert (error["code"], error["field"]) == ("DUPLICATE", ["input", "name"])
    blank = await api.data(CREATE_SKILL, {"input": {"name": " "}}, key=owner)
    assert blank["createSkill"]["userErrors"][0]["code"] == "VALIDATION"

    listed = await api.data(
        "{ skills(first: 10) { totalCount edges { node { id name scope } } } }", key=owner
    )
    assert listed["skills"]["totalCount"] == 1
    assert listed["skills"]["edges"][0]["node"] == {
        "id": skill_id,
        "name": "Spanish",
        "scope": "PROJECT",
    }
    one = "query ($id: ID!) { skill(id: $id) { name } node(id: $id) { ... on Skill { name } } }"
    assert await api.data(one, {"id": skill_id}, key=owner) == {
        "skill": {"name": "Spanish"},
        "node": {"name": "Spanish"},
    }
    # Another account's skill does not exist for this one.
    assert await api.data(one, {"id": skill_id}, key=other_account.owner_key) == {
        "skill": None,
        "node": None,
    }
    renamed = await api.data(
        'mutation ($id: ID!) { updateSkill(input: {skillId: $id, name: "Castilian"}) '
        "{ skill { name } userErrors { code } } }",
        {"id": skill_id},
        key=owner,
    )
    assert renamed["updateSkill"] == {"skill": {"name": "Castilian"}, "userErrors": []}


async def test_setting_a_skill_by_hand_with_history(api: Api, account: AccountFixture) -> None:
    owner = account.owner_key
    skill_id = await _skill(api, owner, "Accuracy")
    worker_id, worker_key = await _worker()
    for value, changed in ((70, True), (70, False), (85, True)):
        result = await api.data(
            SET_SKILL,
            {"input": {"skillId": skill_id, "workerId": worker_id, "value": value}},
            key=owner,
        )
        assert result["setWorkerSkill"]["changed"] is changed
        assert result["setWorkerSkill"]["workerSkill"] == {
            "value": value,
            "skill": {"name": "Accuracy"},
            "worker": {"id": worker_id},
            "task": None,
        }
    out_of_range = await api.data(
        SET_SKILL, {"input": {"skillId": skill_id, "workerId": worker_id, "value": 101}}, key=owner
    )
    [error] = out_of_range["setWorkerSkill"]["userErrors"]
    assert (error["code"], error["field"]) == ("VALIDATION", ["input", "value"])
    unknown = await api.data(
        SET_SKILL,
        {"input": {"skillId": skill_id, "workerId": to_global_id("Worker", 10**9), "value": 5}},
        key=owner,
    )
    assert unknown["setWorkerSkill"]["userErrors"][0]["code"] == "NOT_FOUND"

    read = await api.data(
        "query ($w: ID!) { workerSkills(workerId: $w) { value skill { name } } "
        "skillHistory(workerId: $w, first: 10) { totalCount edges { node { value actorKind "
        "member { id } } } } }",
        {"w": worker_id},
        key=owner,
    )
    assert read["workerSkills"] == [{"value": 85, "skill": {"name": "Accuracy"}}]
    history = [edge["node"] for edge in read["skillHistory"]["edges"]]
    assert [(h["value"], h["actorKind"]) for h in history] == [(85, "MEMBER"), (70, "MEMBER")]
    assert history[0]["member"] is not None

    # A viewer may read but not set; a worker may do neither.
    viewer = await account.member_key(MemberRole.VIEWER)
    refused = await api.post(
        SET_SKILL, {"input": {"skillId": skill_id, "workerId": worker_id, "value": 1}}, key=viewer
    )
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await api.data("{ skills { totalCount } }", key=viewer))["skills"]["totalCount"] == 1
    hidden = await api.post(
        "query ($w: ID!) { workerSkills(workerId: $w) { value } }", {"w": worker_id}, key=worker_key
    )
    assert hidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_a_task_filtered_on_a_skill_admits_or_hides_a_worker(
    api: Api, account: AccountFixture
) -> None:
    owner = account.owner_key
    skill_id = await _skill(api, owner, "Level")
    task_id = await _create_open_task(
        api,
        owner,
        targeting={"skillFilters": [{"skillId": skill_id, "operator": "GTE", "value": 80}]},
    )
    high_id, high_key = await _worker()
    low_id, low_key = await _worker()
    for worker_id, value in ((high_id, 90), (low_id, 50)):
        await api.data(
            SET_SKILL,
            {"input": {"skillId": skill_id, "workerId": worker_id, "value": value}},
            key=owner,
        )
    assert task_id in await _visible(api, high_key)
    assert task_id not in await _visible(api, low_key)
    assert await _start_codes(api, low_key, task_id) == ["NOT_ELIGIBLE"]
    assert await _start_codes(api, high_key, task_id) == []


# --- restrictions -----------------------------------------------------------------------


async def test_a_ban_by_hand_keeps_the_worker_out_without_showing_the_reason(
    api: Api, account: AccountFixture, other_account: AccountFixture
) -> None:
    owner = account.owner_key
    task_id = await _create_open_task(api, owner)
    worker_id, worker_key = await _worker()
    assert task_id in await _visible(api, worker_key)

    ban = {"workerId": worker_id, "kind": "BAN", "scope": "ACCOUNT", "days": 15}
    created = await api.data(
        RESTRICT, {"input": {**ban, "reason": "Copied answers from the web"}}, key=owner
    )
    payload = created["restrictWorker"]
    assert payload["userErrors"] == [] and payload["created"] is True
    restriction = payload["restriction"]
    assert restriction["kind"] == "BAN" and restriction["active"] is True
    assert restriction["reason"] == "Copied answers from the web"
    assert restriction["actorKind"] == "MEMBER" and restriction["createdBy"] is not None
    assert restriction["endsAt"] is not None

    # The same ban again changes nothing: the one in effect is returned.
    again = await api.data(RESTRICT, {"input": {**ban, "reason": "again"}}, key=owner)
    assert again["restrictWorker"]["created"] is False
    assert again["restrictWorker"]["restriction"]["id"] == restriction["id"]

    assert task_id not in await _visible(api, worker_key)
    refused = await api.post(START, {"id": task_id}, key=worker_key)
    errors = refused["data"]["startSubmission"]["userErrors"]
    assert [e["code"] for e in errors] == ["RESTRICTED"]
    assert "Copied" not in str(refused)

    # Workers never see restrictions; members see them with their reason.
    worker_view = await api.post(RESTRICTIONS, key=worker_key)
    assert worker_view["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    node = await api.data(
        "query ($id: ID!) { node(id: $id) { id } }", {"id": restriction["id"]}, key=worker_key
    )
    assert node == {"node": None}
    listed = await api.data(
        RESTRICTIONS, {"filter": {"workerId": worker_id, "activeOnly": True}}, key=owner
    )
    assert listed["restrictions"]["totalCount"] == 1
    assert listed["restrictions"]["edges"][0]["node"]["reason"] == "Copied answers from the web"
    foreign = await api.data(RESTRICTIONS, key=other_account.owner_key)
    assert foreign["restrictions"]["totalCount"] == 0

    # Another account cannot lift it; the owner can, and the worker is back.
    elsewhere = await api.data(LIFT, {"id": restriction["id"]}, key=other_account.owner_key)
    assert elsewhere["liftRestriction"]["userErrors"][0]["code"] == "NOT_FOUND"
    lifted = await api.data(LIFT, {"id": restriction["id"]}, key=owner)
    assert lifted["liftRestriction"]["restriction"]["active"] is False
    assert lifted["liftRestriction"]["restriction"]["liftedBy"] is not None
    twice = await api.data(LIFT, {"id": restriction["id"]}, key=owner)
    assert twice["liftRestriction"]["userErrors"][0]["code"] == "INVALID_STATE"
    assert task_id in await _visible(api, worker_key)
    assert await _start_codes(api, worker_key, task_id) == []


async def test_a_suspension_in_a_task_by_hand(api: Api, account: AccountFixture) -> None:
    owner = account.owner_key
    suspended_in = await _create_open_task(api, owner)
    free = await _another_task(api, owner, suspended_in)
    worker_id, worker_key = await _worker()
    created = await api.data(
        RESTRICT,
        {
            "input": {
                "workerId": worker_id,
                "kind": "SUSPENSION",
                "scope": "TASK",
                "taskId": suspended_in,
                "days": 1,
            }
        },
        key=owner,
    )
    restriction = created["restrictWorker"]["restriction"]
    assert restriction["task"] == {"id": suspended_in} and restriction["scope"] == "TASK"
    visible = await _visible(api, worker_key)
    assert suspended_in not in visible and free in visible
    assert await _start_codes(api, worker_key, suspended_in) == ["RESTRICTED"]
    assert await _start_codes(api, worker_key, free) == []
    by_task = await api.data(RESTRICTIONS, {"filter": {"taskId": free}}, key=owner)
    assert by_task["restrictions"]["totalCount"] == 0


async def test_restricting_by_hand_is_validated(api: Api, account: AccountFixture) -> None:
    owner = account.owner_key
    worker_id, _ = await _worker()
    cases: list[tuple[dict[str, Any], str, list[str]]] = [
        ({"kind": "SUSPENSION", "scope": "ACCOUNT"}, "VALIDATION", ["input", "scope"]),
        ({"kind": "BAN", "scope": "TASK"}, "VALIDATION", ["input", "scope"]),
        ({"kind": "SUSPENSION", "scope": "TASK"}, "VALIDATION", ["input", "taskId"]),
        ({"kind": "BAN", "scope": "PROJECT"}, "VALIDATION", ["input", "projectId"]),
        (
            {"kind": "BAN", "scope": "PROJECT", "projectId": to_global_id("Project", 10**9)},
            "NOT_FOUND",
            ["input", "projectId"],
        ),
        ({"kind": "BAN", "scope": "ACCOUNT", "days": 0}, "VALIDATION", ["input", "days"]),
        (
            {"kind": "BAN", "scope": "ACCOUNT", "workerId": to_global_id("Worker", 10**9)},
            "NOT_FOUND",
            ["input", "workerId"],
        ),
    ]
    for given, code, field in cases:
        result = await api.data(RESTRICT, {"input": {"workerId": worker_id, **given}}, key=owner)
        errors = result["restrictWorker"]["userErrors"]
        assert [(e["code"], e["field"]) for e in errors] == [(code, field)], given
        assert result["restrictWorker"]["restriction"] is None
    listed = await api.data(RESTRICTIONS, {"filter": {"workerId": worker_id}}, key=owner)
    assert listed["restrictions"]["totalCount"] == 0
    manager = await account.member_key(MemberRole.AUDITOR)
    refused = await api.post(
        RESTRICT,
        {"input": {"workerId": worker_id, "kind": "BAN", "scope": "ACCOUNT"}},
        key=manager,
    )
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
