"""Exports: the mutation that makes a short-lived download link."""

from __future__ import annotations

from typing import Any

import strawberry

from gql_server.downloads import LINK_PATH
from gql_server.resolvers.common import Info, mutate
from gql_server.resolvers.permissions import IsMember
from gql_server.schema.exports import CreateExportLinkInput, CreateExportLinkPayload
from gql_server.services import exports


@strawberry.type
class ExportMutations:
    @strawberry.mutation(
        permission_classes=[IsMember],
        description="A link to download an export in a browser, without an API key, valid "
        "for 5 minutes. Any member may make one, with a read-only key too (a link only "
        "reads); it is bound to the caller, the key used, the kind, format and filter.",
    )
    async def create_export_link(
        self, info: Info, input: CreateExportLinkInput
    ) -> CreateExportLinkPayload:
        given = input.filter
        params = exports.params_of(
            {
                "taskId": given.task_id,
                "workerId": given.worker_id,
                "states": list(given.states) if given.states else None,
                "submittedAfter": given.submitted_after,
                "submittedBefore": given.submitted_before,
            }
            if given is not None
            else {}
        )

        async def present(issued: exports.IssuedLink) -> dict[str, Any]:
            path = LINK_PATH + issued.token
            base = info.context.base_url
            return {
                "url": base.rstrip("/") + path if base else None,
                "path": path,
                "expires_at": issued.expires_at,
            }

        return await mutate(
            CreateExportLinkPayload,
            lambda: exports.create_link(info.context.member, input.kind, input.format, params),
            present,
        )
