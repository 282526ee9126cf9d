"""Who is calling: a member of an account (with a role), a worker, or the operator."""

from __future__ import annotations

from dataclasses import dataclass

from gql_server.models.enums import MemberRole


@dataclass(frozen=True)
class MemberPrincipal:
    member_id: int
    account_id: int
    role: MemberRole
    api_key_id: int
    # A read-only key reads with the member's role and changes nothing.
    read_only: bool = False
    # The key's first characters: a single key's rate limit is set by them.
    key_prefix: str = ""

    @property
    def scope(self) -> str:
        """The namespace of this caller's idempotency keys and rate limits."""
        return f"member:{self.member_id}"


@dataclass(frozen=True)
class WorkerPrincipal:
    worker_id: int
    api_key_id: int
    key_prefix: str = ""

    @property
    def scope(self) -> str:
        return f"worker:{self.worker_id}"


@dataclass(frozen=True)
class OperatorPrincipal:
    """The instance's operator (a partner application): manages workers, sees no account."""

    operator_key_id: int
    key_prefix: str = ""

    @property
    def scope(self) -> str:
        return f"operator:{self.operator_key_id}"


Principal = MemberPrincipal | WorkerPrincipal | OperatorPrincipal
