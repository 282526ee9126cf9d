"""Cursor connections: first/after, last/before, sizes, bad cursors, order."""

from __future__ import annotations

import logging

import pytest

from gql_server.services.pagination import MAX_PAGE_SIZE
from gql_server.services.principals import MemberPrincipal
from gql_server.services.projects import create_project
from gql_server.services.tasks import TaskDraft, create_task
from tests.factories import Requester
from tests.graphql_client import Api

TASKS = """
query ($first: Int, $after: String, $last: Int, $before: String, $order: TaskOrder, $filter: TaskFilter) {
  tasks(first: $first, after: $after, last: $last, before: $before, orderBy: $order, filter: $filter) {
    totalCount
    edges { cursor node { title } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""


@pytest.fixture
async def seven_tasks(account: Requester) -> list[str]:
    from gql_server.models import Member

    owner = await Member.filter(account_id=account.account_id).first()
    assert owner is not None
    principal = MemberPrincipal(owner.id, account.account_id, owner.role, 0)
    project = await create_project(principal, "Paged")
    titles = [f"Task {n}" for n in range(7)]
    for index, title in enumerate(titles):
        await create_task(
            principal,
            project.id,
            TaskDraft(
                title=title,
                instructions="Do it.",
                reward=f"{index + 1}.00",
                budget="100.00",
                time_limit_seconds=600,
            ),
        )
    return titles


def _titles(connection: dict) -> list[str]:
    return [edge["node"]["title"] for edge in connection["edges"]]


async def _page(api: Api, key: str, **variables: object) -> dict:
    return (await api.data(TASKS, variables, key=key))["tasks"]


async def test_forward_pages_cover_everything_once(
    api: Api, account: Requester, seven_tasks: list[str]
) -> None:
    order = {"field": "CREATED_AT", "direction": "ASC"}
    first = await _page(api, account.key, first=3, order=order)
    assert first["totalCount"] == 7
    assert _titles(first) == seven_tasks[:3]
    assert first["pageInfo"]["hasNextPage"] and not first["pageInfo"]["hasPreviousPage"]
    assert first["pageInfo"]["endCursor"] == first["edges"][-1]["cursor"]

    second = await _page(
        api, account.key, first=3, after=first["pageInfo"]["endCursor"], order=order
    )
    assert _titles(second) == seven_tasks[3:6]
    assert second["pageInfo"]["hasNextPage"] and second["pageInfo"]["hasPreviousPage"]

    third = await _page(
        api, account.key, first=3, after=second["pageInfo"]["endCursor"], order=order
    )
    assert _titles(third) == seven_tasks[6:]
    assert not third["pageInfo"]["hasNextPage"]


async def test_backward_pages(api: Api, account: Requester, seven_tasks: list[str]) -> None:
    order = {"field": "CREATED_AT", "direction": "ASC"}
    last = await _page(api, account.key, last=2, order=order)
    assert _titles(last) == seven_tasks[5:]
    assert last["pageInfo"]["hasPreviousPage"] and not last["pageInfo"]["hasNextPage"]

    before = await _page(
        api, account.key, last=2, before=last["pageInfo"]["startCursor"], order=order
    )
    assert _titles(before) == seven_tasks[3:5]
    assert before["pageInfo"]["hasNextPage"]


async def test_order_by_reward_descending(
    api: Api, account: Requester, seven_tasks: list[str]
) -> None:
    page = await _page(api, account.key, first=2, order={"field": "REWARD", "direction": "DESC"})
    assert _titles(page) == ["Task 6", "Task 5"]
    nxt = await _page(
        api,
        account.key,
        first=2,
        after=page["pageInfo"]["endCursor"],
        order={"field": "REWARD", "direction": "DESC"},
    )
    assert _titles(nxt) == ["Task 4", "Task 3"]


async def test_a_page_larger_than_the_data(
    api: Api, account: Requester, seven_tasks: list[str]
) -> None:
    page = await _page(api, account.key, first=MAX_PAGE_SIZE)
    assert len(page["edges"]) == 7
    assert not page["pageInfo"]["hasNextPage"]


async def test_an_empty_list(api: Api, account: Requester) -> None:
    page = await _page(api, account.key, first=5)
    assert page == {
        "totalCount": 0,
        "edges": [],
        "pageInfo": {
            "hasNextPage": False,
            "hasPreviousPage": False,
            "startCursor": None,
            "endCursor": None,
        },
    }


@pytest.mark.parametrize(
    "variables",
    [
        {"first": 0},
        {"first": MAX_PAGE_SIZE + 1},
        {"last": -1},
        {"first": 2, "last": 2},
        {"after": "not-a-cursor"},
        {"before": "eyJ4Ijoi"},
    ],
)
async def test_bad_page_arguments_are_input_errors(
    api: Api, account: Requester, variables: dict
) -> None:
    body = await api.post(TASKS, variables, key=account.key)
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_cursor_of_another_order_is_refused(
    api: Api, account: Requester, seven_tasks: list[str]
) -> None:
    page = await _page(api, account.key, first=1, order={"field": "TITLE", "direction": "ASC"})
    body = await api.post(
        TASKS,
        {"first": 1, "after": page["pageInfo"]["endCursor"], "order": {"field": "REWARD"}},
        key=account.key,
    )
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_filters(api: Api, account: Requester, seven_tasks: list[str]) -> None:
    found = await _page(api, account.key, filter={"search": "task 3"})
    assert _titles(found) == ["Task 3"]
    drafts = await _page(api, account.key, filter={"statuses": ["OPEN"]})
    assert drafts["totalCount"] == 0


class _Statements(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.sql: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.sql.append(record.getMessage())


async def test_the_total_is_counted_only_when_it_is_selected(
    api: Api, account: Requester, seven_tasks: list[str]
) -> None:
    statements = _Statements()
    log = logging.getLogger("tortoise.db_client")
    level = log.level
    log.setLevel(logging.DEBUG)
    log.addHandler(statements)
    try:
        page = "query { tasks(first: 2) { edges { node { title } } } }"
        assert len((await api.data(page, key=account.key))["tasks"]["edges"]) == 2
        counted = [sql for sql in statements.sql if "COUNT(" in sql.upper()]
        assert counted == []
        total = await api.data("query { tasks(first: 2) { totalCount } }", key=account.key)
        assert total["tasks"]["totalCount"] == 7
        assert [sql for sql in statements.sql if "COUNT(" in sql.upper()]
    finally:
        log.removeHandler(statements)
        log.setLevel(level)
