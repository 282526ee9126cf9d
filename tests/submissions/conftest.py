"""The submission tests' requester starts with `FUNDED` (100.00), not the default 1000.00,
so that their balances and budgets are easy to follow."""

from __future__ import annotations

import pytest_asyncio

from gql_server.settings import Settings
from tests.factories import FUNDED, Requester, new_requester


@pytest_asyncio.fixture
async def requester(database: Settings) -> Requester:
    """The account of the test, funded with FUNDED only."""
    return await new_requester(fund_minor=FUNDED)
