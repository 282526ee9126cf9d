"""Skills through GraphQL: created, listed and unique by name, set by hand with history, who
may read or set them, and targeting on a skill."""

from __future__ import annotations

from typing import Any

from gql_server.models.enums import MemberRole
from gql_server.schema.relay import to_global_id
from tests.factories import Requester, api_open_task, api_start_codes, api_visible_tasks, new_worker
from tests.graphql_client import Api

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


async def _skill(api: Api, key: str, name: str, **extra: Any) -> str:
    created = await api.data(CREATE_SKILL, {"input": {"name": name, **extra}}, key=key)
    assert created["createSkill"]["userErrors"] == []
    return created["createSkill"]["skill"]["id"]


async def test_skills_are_created_listed_and_unique_by_name(
    api: Api, account: Requester, other_account: Requester
) -> None:
    owner = account.key
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
    assert await api.data(one, {"id": skill_id}, key=other_account.key) == {
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


async def test_setting_a_skill_by_hand_with_history(api: Api, account: Requester) -> None:
    owner = account.key
    skill_id = await _skill(api, owner, "Accuracy")
    worker = await new_worker("US")
    worker_id, worker_key = worker.global_id, worker.key
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
    api: Api, account: Requester
) -> None:
    owner = account.key
    skill_id = await _skill(api, owner, "Level")
    task_id = await api_open_task(
        api,
        owner,
        targeting={"skillFilters": [{"skillId": skill_id, "operator": "GTE", "value": 80}]},
    )
    high = await new_worker("US")
    high_id, high_key = high.global_id, high.key
    low = await new_worker("US")
    low_id, low_key = low.global_id, low.key
    for worker_id, value in ((high_id, 90), (low_id, 50)):
        await api.data(
            SET_SKILL,
            {"input": {"skillId": skill_id, "workerId": worker_id, "value": value}},
            key=owner,
        )
    assert task_id in await api_visible_tasks(api, high_key)
    assert task_id not in await api_visible_tasks(api, low_key)
    assert await api_start_codes(api, low_key, task_id) == ["NOT_ELIGIBLE"]
    assert await api_start_codes(api, high_key, task_id) == []
