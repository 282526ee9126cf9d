"""The `gql-server` command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from gql_server import db
from gql_server.models.enums import Currency
from gql_server.settings import Settings, SettingsError, load_settings

T = TypeVar("T")

logger = logging.getLogger("gql_server")

SCHEMA_FILE = Path("schema.graphql")
# Where the embedded default keeps the demo key, so each start can print it again.
DEMO_KEY_FILE = Path("var") / "demo-api-key.txt"


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


async def _with_database(settings: Settings, work: Callable[[], Awaitable[T]]) -> T:
    await db.open_database(settings)
    try:
        return await work()
    finally:
        await db.close_database()


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    asyncio.run(db.apply_migrations(settings))
    print("Migrations applied.")
    return 0


def cmd_create_account(settings: Settings, args: argparse.Namespace) -> int:
    from gql_server.services.accounts import create_account

    async def work() -> None:
        created = await create_account(
            name=args.name,
            owner_name=args.owner_name,
            owner_email=args.owner_email,
            currency=Currency(args.currency),
            timezone=args.timezone,
            sandbox=args.sandbox,
        )
        kind = "Sandbox account" if args.sandbox else "Account"
        print(f"{kind} {created.account.id} created. Owner API key (shown once, keep it safe):")
        print(created.owner_api_key)

    asyncio.run(_with_database(settings, work))
    return 0


def cmd_create_operator_key(settings: Settings, args: argparse.Namespace) -> int:
    from gql_server.services.api_keys import issue_operator_key

    async def work() -> None:
        key = await issue_operator_key(args.name)
        print("Operator API key (shown once, keep it safe; it manages workers only):")
        print(key)

    asyncio.run(_with_database(settings, work))
    return 0


def cmd_create_worker(settings: Settings, args: argparse.Namespace) -> int:
    from gql_server.services.errors import UseCaseError
    from gql_server.services.workers import register_worker

    async def work() -> None:
        registered = await register_worker(args.name, args.country, args.external_ref)
        if registered.api_key is None:
            print(f"Worker {registered.worker.id} was registered with that reference before.")
            return
        print(f"Worker {registered.worker.id} registered. API key (shown once, keep it safe):")
        print(registered.api_key)

    try:
        asyncio.run(_with_database(settings, work))
    except UseCaseError as error:
        print(f"gql-server: {error}", file=sys.stderr)
        return 2
    return 0


def cmd_seed_demo(settings: Settings, args: argparse.Namespace) -> int:
    from gql_server.services.demo import seed_demo

    async def work() -> None:
        demo = await seed_demo()
        print(demo.describe())

    asyncio.run(_with_database(settings, work))
    return 0


def cmd_export_schema(settings: Settings, args: argparse.Namespace) -> int:
    from gql_server.schema.build import schema

    text = schema.as_str() + "\n"
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"Schema written to {args.output}.")
    return 0


def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    from gql_server.models import Account
    from gql_server.services import exports
    from gql_server.services.errors import ErrorCode, UseCaseError
    from gql_server.services.global_ids import pk_of
    from gql_server.tabular import Format, chunks

    params = dict(item.partition("=")[::2] for item in args.filter)
    account_id = pk_of(args.account, "Account")

    async def work() -> None:
        if account_id is None or not await Account.exists(id=account_id):
            raise UseCaseError.single(ErrorCode.NOT_FOUND, f"No account {args.account!r}.")
        report = await exports.report(account_id, exports.ExportKind(args.kind), params)
        # Opened once the filter was found good, so that a bad one leaves no file behind.
        output = (
            await asyncio.to_thread(open, args.output, "wb")
            if args.output != "-"
            else sys.stdout.buffer
        )
        try:
            async for chunk in chunks(report, Format(args.format)):
                output.write(chunk.encode("utf-8"))
        finally:
            if output is not sys.stdout.buffer:
                output.close()

    try:
        asyncio.run(_with_database(settings, work))
    except UseCaseError as error:
        print(f"gql-server: {error}", file=sys.stderr)
        return 2
    return 0


async def _prepare_embedded(settings: Settings) -> str | None:
    """For the embedded default: migrate, seed the demo on first start, return the demo key."""
    from gql_server.services.demo import seed_demo

    await db.apply_migrations(settings)
    if DEMO_KEY_FILE.exists():
        return DEMO_KEY_FILE.read_text().strip()

    async def work() -> None:
        demo = await seed_demo(skip_if_present=True)
        if demo.owner_api_key:
            print(demo.describe())
            DEMO_KEY_FILE.parent.mkdir(parents=True, exist_ok=True)
            DEMO_KEY_FILE.write_text(demo.owner_api_key + "\n")

    await _with_database(settings, work)
    return DEMO_KEY_FILE.read_text().strip() if DEMO_KEY_FILE.exists() else None


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from gql_server.app import create_app

    if settings.is_sqlite:
        demo_key = asyncio.run(_prepare_embedded(settings))
        base = f"http://{settings.host}:{settings.port}"
        print(
            f"GraphQL endpoint: {base}/graphql"
            + (" (GraphiQL in a browser)" if settings.dev_mode else "")
        )
        if settings.dashboard:
            print(f"Live dashboard: {base}/dashboard (paste an API key there)")
        if demo_key:
            print(f"Demo API key (owner): {demo_key}")
            print(
                f"Try: curl -s {base}/graphql -H 'Authorization: Bearer {demo_key}' "
                "-H 'Content-Type: application/json' "
                '-d \'{"query": "{ __typename me { __typename } }"}\''
            )
        if settings.demo_activity:
            print("Demo activity: a demo worker starts and submits work every few seconds.")
        sys.stdout.flush()
    elif settings.dashboard:
        print(f"Live dashboard: http://{settings.host}:{settings.port}/dashboard")
        sys.stdout.flush()
    from gql_server.downloads import HideLinkSecrets

    # uvicorn's logging configuration keeps the filters a logger already has.
    logging.getLogger("uvicorn.access").addFilter(HideLinkSecrets())
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        ws="websockets-sansio",
        # Compression negotiated with a client keeps two zlib contexts per connection
        # (measured about 44 KiB each idle connection) and costs a deflate per message
        # and subscriber; stream messages are small, so it is not offered.
        ws_per_message_deflate=False,
        lifespan="on",
    )
    return 0


def cmd_check_tallies(settings: Settings, args: argparse.Namespace) -> int:
    from gql_server.services import tallies

    async def work() -> dict[str, int]:
        if args.rebuild:
            await tallies.rebuild()
        return await tallies.check()

    found = asyncio.run(_with_database(settings, work))
    for table, differing in found.items():
        print(f"{table}: {'holds' if not differing else f'{differing} keys differ from the rows'}")
    if any(found.values()):
        print(
            "gql-server: run `gql-server check-tallies --rebuild` to make them again from the rows."
        )
        return 1
    return 0


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    from gql_server.services.background import jobs, run_forever

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await _with_database(settings, lambda: run_forever(stop, jobs(settings)))

    asyncio.run(main())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gql-server", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="Run the HTTP and websocket server.").set_defaults(
        func=cmd_serve
    )
    commands.add_parser("migrate", help="Apply pending database migrations.").set_defaults(
        func=cmd_migrate
    )
    create = commands.add_parser(
        "create-account", help="Create an account; prints its owner API key once."
    )
    create.add_argument("--name", required=True)
    create.add_argument("--owner-name", required=True)
    create.add_argument("--owner-email", required=True)
    create.add_argument("--currency", default="USD", choices=[c.value for c in Currency])
    create.add_argument("--timezone", default="UTC")
    create.add_argument(
        "--sandbox", action="store_true", help="Simulated workers only; keys start cwk_test_."
    )
    create.set_defaults(func=cmd_create_account)
    operator = commands.add_parser(
        "create-operator-key",
        help="Make a key of the instance's operator (registers workers); prints it once.",
    )
    operator.add_argument("--name", default="operator")
    operator.set_defaults(func=cmd_create_operator_key)
    worker = commands.add_parser(
        "create-worker", help="Register a worker; prints its API key once."
    )
    worker.add_argument("--name", required=True)
    worker.add_argument("--country", required=True, help="ISO 3166-1 alpha-2, like DE.")
    worker.add_argument("--external-ref", help="The worker's id in your application.")
    worker.set_defaults(func=cmd_create_worker)
    commands.add_parser(
        "seed-demo", help="Create a demo account with tasks, workers and work."
    ).set_defaults(func=cmd_seed_demo)
    export = commands.add_parser("export-schema", help="Write the GraphQL schema (SDL).")
    export.add_argument(
        "--output", default=str(SCHEMA_FILE), help="A file, or - for standard output."
    )
    export.set_defaults(func=cmd_export_schema)
    commands.add_parser(
        "worker", help="Run the background process (sweeps, callbacks)."
    ).set_defaults(func=cmd_worker)
    check = commands.add_parser(
        "check-tallies",
        help="Compare the analytics' tallies with the rows they count (a full read).",
    )
    check.add_argument(
        "--rebuild",
        action="store_true",
        help="Make every tally again from the rows first (writers wait meanwhile).",
    )
    check.set_defaults(func=cmd_check_tallies)
    from gql_server.services.exports import ExportKind
    from gql_server.tabular import Format

    download = commands.add_parser(
        "export", help="Write an export of an account (the file GET /export/... serves)."
    )
    download.add_argument("kind", choices=[k.value for k in ExportKind])
    download.add_argument("--account", required=True, help="The account's global id.")
    download.add_argument("--format", default=Format.CSV.value, choices=[f.value for f in Format])
    download.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="A filter parameter named as in the HTTP route, e.g. taskId=VGFzazox; repeatable.",
    )
    download.add_argument("--output", default="-", help="A file, or - for standard output.")
    download.set_defaults(func=cmd_export)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as error:
        print(f"gql-server: configuration error: {error}", file=sys.stderr)
        return 2
    _configure_logging(settings)
    return int(args.func(settings, args))


if __name__ == "__main__":
    sys.exit(main())
