"""The log of live-stream events, kept so a subscription can resume from a version."""

from __future__ import annotations

from tortoise import fields
from tortoise.indexes import Index

from gql_server.models.base import Entity


class StreamEvent(Entity):
    """One message of one stream (e.g. "budget:task:42"), numbered without gaps per stream."""

    stream = fields.CharField(max_length=128)
    version = fields.BigIntField()
    kind = fields.CharField(max_length=64)
    payload = fields.JSONField()

    class Meta:
        table = "stream_event"
        unique_together = (("stream", "version"),)
        indexes = (Index(fields=("created_at",), name="stream_event_created"),)
