"""Exports: the mutation that makes a short-lived download link."""

from __future__ import annotations

from typing import Any

import strawberry

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
        period, scope = input.period, input.scope
        params = exports.params_of(
            {
                # The filter's task, else the scope's (the analytics kinds take a scope).
                "taskId": (given.task_id if given else None) or (scope.task_id if scope else None),
                "workerId": given.worker_id if given else None,
                "states": list(given.states) if given and given.states else None,
                "submittedAfter": given.submitted_after if given else None,
                "submittedBefore": given.submitted_before if given else None,
                "periodFrom": period.from_ if period else None,
                "periodTo": period.to if period else None,
                "bucket": period.bucket if period else None,
                "projectId": scope.project_id if scope else None,
                "variantGroup": scope.variant_group if scope else None,
            }
        )

        async def present(issued: exports.IssuedLink) -> dict[str, Any]:
            path = exports.LINK_PATH + issued.token
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
