"""Accounts, their members, and workers: the parties of the platform."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tortoise.transactions import in_transaction

from gql_server.models import Account, Member
from gql_server.models.enums import ActorKind, Currency, LedgerReason, MemberRole
from gql_server.services import ledger, outbox
from gql_server.services.api_keys import issue_key
from gql_server.services.errors import ErrorCode, UseCaseError
from gql_server.services.events import AccountFunded, unit_of_work
from gql_server.services.idempotency import IdempotencyKey, Recorder, once
from gql_server.services.principals import MemberPrincipal


@dataclass(frozen=True)
class NewAccount:
    account: Account
    owner: Member
    owner_api_key: str


def _check_timezone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UseCaseError.single(
            ErrorCode.VALIDATION,
            f"Unknown time zone {name!r}; use an IANA name like 'Europe/Paris'.",
            "timezone",
        ) from None


async def create_account(
    *,
    name: str,
    owner_name: str,
    owner_email: str,
    currency: Currency = Currency.USD,
    timezone: str = "UTC",
    sandbox: bool = False,
    twin_of: int | None = None,
) -> NewAccount:
    """A new account with its owner and the owner's first key; a sandbox when asked (its
    keys start with `cwk_test_`), the twin of a live account when `twin_of` is given."""
    if not name.strip():
        raise UseCaseError.single(ErrorCode.VALIDATION, "An account needs a name.", "name")
    _check_timezone(timezone)
    async with in_transaction():
        account = await Account.create(
            name=name.strip(),
            currency=currency,
            timezone=timezone,
            sandbox=sandbox,
            twin_of_id=twin_of,
        )
        owner = await Member.create(
            account=account, name=owner_name, email=owner_email.lower(), role=MemberRole.OWNER
        )
        key = await issue_key(member=owner, name="owner key")
    return NewAccount(account=account, owner=owner, owner_api_key=key)


async def get_account(account_id: int) -> Account:
    return await Account.get(id=account_id)


async def fund_account(
    principal: MemberPrincipal, amount_minor: int, idempotency_key: str | None = None
) -> Account:
    """Add money to the account balance (payment providers are out of scope)."""
    idem = IdempotencyKey.of(
        principal, idempotency_key, "fund_account", {"amount_minor": amount_minor}
    )
    account_id = principal.account_id
    if amount_minor <= 0:
        raise UseCaseError.single(
            ErrorCode.VALIDATION, "'amount' must be more than zero.", "amount"
        )

    async def body(recorder: Recorder) -> Account:
        async with unit_of_work() as work:
            await recorder.claim()
            await ledger.move(
                reason=LedgerReason.FUND,
                amount_minor=amount_minor,
                account_id=account_id,
                actor=ledger.Actor(ActorKind.MEMBER, principal.member_id),
                idempotency_key=idem.key if idem else None,
            )
            await work.raise_event(AccountFunded(account_id))
            account = await Account.get(id=account_id)
            await recorder.complete({"account_id": account_id})
        return account

    return await once(idem, body, lambda stored: Account.get(id=stored["account_id"]))


async def set_callback_url(principal: MemberPrincipal, url: str | None) -> Account:
    """The account's callback URL, for tasks without their own; None removes it."""
    clean = url.strip() if url else None
    if clean:
        problem = outbox.check_callback_url(clean)
        if problem:
            raise UseCaseError.single(
                ErrorCode.VALIDATION, f"'callbackUrl' {problem}", "callback_url"
            )
    async with in_transaction():
        await Account.filter(id=principal.account_id).update(callback_url=clean or None)
        if clean:
            await outbox.endpoint_for(principal.account_id, clean)
    return await Account.get(id=principal.account_id)
