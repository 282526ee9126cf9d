"""The log of live-stream events, kept so a subscription can resume from a version, and
the changes committed with the work that made them, waiting for their stream's next
version (see `gql_server.services.streams`)."""

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


class StreamChange(Entity):
    """A change to a stream, written in the transaction that made it and removed when a
    message of the stream takes it: what committed and has no version yet."""

    stream = fields.CharField(max_length=128)
    payload = fields.JSONField()

    class Meta:
        table = "stream_change"
        indexes = (Index(fields=("stream", "id"), name="stream_change_stream"),)
