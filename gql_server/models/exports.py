"""Short-lived download links of exports."""

from __future__ import annotations

from tortoise import fields
from tortoise.indexes import Index

from gql_server.models.base import Entity


class ExportLink(Entity):
    """A download link of an export, made by a member with one of its API keys.

    Stores the SHA-256 of the link's secret, never the secret; the export (kind, format and
    filter, as query parameters) is fixed when the link is made. The link works while it
    has not expired and the key that made it is usable (not revoked, not expired, its
    member not removed).
    """

    token_hash = fields.CharField(max_length=64, unique=True)
    account = fields.ForeignKeyField(
        "models.Account", related_name="export_links", on_delete=fields.CASCADE
    )
    member = fields.ForeignKeyField(
        "models.Member", related_name="export_links", on_delete=fields.CASCADE
    )
    api_key = fields.ForeignKeyField(
        "models.ApiKey", related_name="export_links", on_delete=fields.CASCADE
    )
    kind = fields.CharField(max_length=32)
    format = fields.CharField(max_length=8)
    # {name: text}: the filter exactly as the HTTP route takes it.
    params = fields.JSONField(default=dict)
    expires_at = fields.DatetimeField()

    class Meta:
        table = "export_link"
        indexes = (Index(fields=("member_id", "expires_at"), name="export_link_member_expires"),)
