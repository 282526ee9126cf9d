"""Fixtures of the callback tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from gql_server.models import OutboxEvent
from gql_server.models.enums import OutboxStatus
from gql_server.settings import Settings


@pytest_asyncio.fixture(autouse=True)
async def only_this_tests_events(database: Settings) -> AsyncIterator[None]:
    # Other tests leave events for receivers that do not exist; they are not this test's.
    await OutboxEvent.filter(status=OutboxStatus.PENDING).update(status=OutboxStatus.FAILED)
    yield
