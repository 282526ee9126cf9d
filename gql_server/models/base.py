"""Shared pieces of the models: the primary key and timestamps from the domain clock."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from gql_server.clock import now


class Entity(Model):
    """A stored record with a 64-bit id and a creation time taken from the domain clock."""

    id = fields.BigIntField(primary_key=True)
    created_at = fields.DatetimeField(default=now)

    class Meta:
        abstract = True
