"""Workers: people doing work, global across accounts."""

from __future__ import annotations

from tortoise import fields

from gql_server.models.base import Entity


class Worker(Entity):
    name = fields.CharField(max_length=200)
    # ISO 3166-1 alpha-2, upper case; used by country targeting and reports.
    country = fields.CharField(max_length=2, db_index=True)
    # An identifier in the partner's own system, when the worker was registered by one.
    external_ref = fields.CharField(max_length=200, null=True, unique=True)
    # Made by a sandbox's simulateWorkers: works on sandbox tasks only.
    simulated = fields.BooleanField(default=False)

    class Meta:
        table = "worker"
