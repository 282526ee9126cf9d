"""The test suite, one package per domain of the service.

accounts, tasks, submissions, money, audits, quality, callbacks and streams mirror the
domains of gql_server; platform holds what cuts across them, and faults what happens when
real processes (servers, PostgreSQL backends, Redis) are killed or hung on purpose. Shared
code lives here: conftest.py (the database, the in-process app, and the factories as
fixtures), factories.py (accounts, workers, tasks and the checks on them),
graphql_client.py (the GraphQL client) and server.py (real server and Redis processes).
"""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
