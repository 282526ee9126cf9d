from tortoise import migrations
from tortoise.migrations import operations as ops
from gql_server.models.enums import LedgerBucket, LedgerReason, SubmissionState
from tortoise import fields
from tortoise.indexes import Index

# The triggers that keep the tallies (gql_server/models/tallies.py says what they hold).
# On PostgreSQL one trigger per statement with its transition tables: a bulk change is one
# INSERT of its keys' sums; on SQLite one per changed row, fired only
# when a column of the key or of the measures changed. Each only ever inserts unsettled
# rows (services/tallies.py settles them), so writers never wait on a tally row.
# This text is the migration's own on purpose: a later change to the keys is a new
# migration, and tests/analytics/test_tallies.py holds the reads' expressions to these.

_MINUTES = 15


def _pg_slot(column: str) -> str:
    return f"date_bin('{_MINUTES} minutes', {column}, TIMESTAMPTZ '2000-01-01 00:00:00+00')"


def _sqlite_slot(column: str) -> str:
    minute = f"(CAST(strftime('%M', {column}) AS INTEGER) / {_MINUTES}) * 2 + 1"
    return f"(strftime('%Y-%m-%d %H:', {column}) || substr('00153045', {minute}, 2) || ':00+00:00')"


def _micros(row: str, postgres: bool) -> str:
    if postgres:
        return (
            f"COALESCE((EXTRACT(EPOCH FROM ({row}.first_submitted_at - {row}.created_at))"
            " * 1000000)::bigint, 0)"
        )
    # To the millisecond, as far as julianday is exact (as services/sql.micros_between).
    return (
        f"COALESCE(CAST(ROUND((julianday({row}.first_submitted_at) - julianday({row}.created_at))"
        " * 86400000.0) AS INTEGER) * 1000, 0)"
    )


def _duration_bin(row: str, postgres: bool) -> str:
    """Whole seconds from start to first sending, kept to three significant figures."""
    if postgres:
        whole = f"floor(EXTRACT(EPOCH FROM ({row}.first_submitted_at - {row}.created_at)))::bigint"
    else:
        whole = (
            f"CAST(ROUND((julianday({row}.first_submitted_at) - julianday({row}.created_at))"
            " * 86400.0, 3) AS INTEGER)"
        )
    steps = " ".join(
        f"WHEN {whole} < {10 ** (digits + 3)} THEN {whole} - {whole} % {10 ** digits}"
        for digits in range(1, 6)
    )
    return f"(CASE WHEN {whole} < 1000 THEN {whole} {steps} ELSE {whole} - {whole} % 1000000 END)"


def _tallies(postgres: bool, row: str):
    """(tally, source, key columns with their expressions over `row`, measures likewise,
    which source rows count, the source columns read): the one description both dialects'
    SQL is written from."""
    slot = _pg_slot if postgres else _sqlite_slot
    day = f"({row}.created_at AT TIME ZONE 'UTC')::date" if postgres else f"date({row}.created_at)"
    kept = [
        ("state", f"{row}.state"),
        ("sent", f"{row}.first_submitted_at IS NOT NULL"),
        ("revised", f"{row}.revision_count > 0"),
    ]
    counted = [("starts", "1"), ("micros", _micros(row, postgres))]
    of_submission = ("account_id", "task_id", "worker_id", "created_at", "state",
                     "first_submitted_at", "revision_count")
    return [
        (
            "submission_slot_tally",
            "submission",
            [("account_id", f"{row}.account_id"), ("task_id", f"{row}.task_id"),
             ("slot", slot(f"{row}.created_at")), *kept],
            counted,
            "TRUE",
            of_submission,
        ),
        (
            "submission_worker_day_tally",
            "submission",
            [("account_id", f"{row}.account_id"), ("worker_id", f"{row}.worker_id"),
             ("day", day), *kept],
            counted,
            "TRUE",
            of_submission,
        ),
        (
            "submission_duration_tally",
            "submission",
            [("account_id", f"{row}.account_id"), ("task_id", f"{row}.task_id"), ("day", day),
             ("seconds", _duration_bin(row, postgres))],
            [("starts", "1")],
            f"{row}.first_submitted_at IS NOT NULL",
            ("account_id", "task_id", "created_at", "first_submitted_at"),
        ),
        (
            "ledger_slot_tally",
            "ledger_entry",
            [
                ("account_id", f"{row}.account_id"),
                ("task_id", f"{row}.task_id"),
                ("slot", slot(f"{row}.created_at")),
                ("to_bucket", f"{row}.to_bucket"),
                ("reason", f"{row}.reason"),
            ],
            [("amount_minor", f"{row}.amount_minor"), ("entries", "1")],
            f"{row}.task_id IS NOT NULL",
            ("account_id", "task_id", "created_at", "to_bucket", "reason", "amount_minor"),
        ),
        (
            "ledger_worker_day_tally",
            "ledger_entry",
            [
                ("account_id", f"{row}.account_id"),
                ("worker_id", f"{row}.worker_id"),
                ("day", day),
                ("to_bucket", f"{row}.to_bucket"),
            ],
            [("amount_minor", f"{row}.amount_minor"), ("entries", "1")],
            f"{row}.task_id IS NOT NULL AND {row}.worker_id IS NOT NULL",
            ("account_id", "task_id", "worker_id", "created_at", "to_bucket", "amount_minor"),
        ),
    ]


def _sums(tally, keys, measures, rows_sql: str, settled: str) -> str:
    names = ", ".join(name for name, _ in keys)
    sums = ", ".join(f"SUM({name})" for name, _ in measures)
    nonzero = " OR ".join(f"SUM({name}) <> 0" for name, _ in measures)
    return (
        f"INSERT INTO {tally} ({names}, {', '.join(n for n, _ in measures)}, settled) "
        f"SELECT {names}, {sums}, {settled} FROM ({rows_sql}) d WHERE TRUE "
        f"GROUP BY {names} HAVING {nonzero}"
    )


def _rows(keys, measures, source: str, where: str, row: str = "r", sign: str = "") -> str:
    exprs = [f"{expr} AS {name}" for name, expr in keys]
    exprs += [f"{sign}({expr}) AS {name}" for name, expr in measures]
    return f"SELECT {', '.join(exprs)} FROM {source} {row} WHERE {where}"


def _sqlite_insert(tally, keys, measures, where: str, sign: str) -> str:
    columns = [name for name, _ in keys] + [name for name, _ in measures]
    exprs = [expr for _, expr in keys] + [f"{sign}({expr})" for _, expr in measures]
    return (
        f"INSERT INTO {tally} ({', '.join(columns)}, settled) "
        f"SELECT {', '.join(exprs)}, FALSE WHERE {where};"
    )


async def install(apps, schema_editor) -> None:
    """The triggers first, then what is there already, settled, in the migration's one
    transaction: on PostgreSQL the sources are locked against writers first, so that every
    write is either before the backfill's snapshot (counted by it) or after the triggers
    exist (counted by them). SQLite's one writer is this migration until it commits."""
    client = schema_editor.client
    postgres = client.capabilities.dialect == "postgres"
    statements: list[str] = []
    if postgres:
        statements.append("LOCK TABLE submission, ledger_entry IN SHARE ROW EXCLUSIVE MODE")
        changes = {
            "INSERT": [("new_rows", "")],
            "UPDATE": [("new_rows", ""), ("old_rows", "-")],
            "DELETE": [("old_rows", "-")],
        }
        for tally, source, keys, measures, where, _ in _tallies(True, "r"):
            for event, parts in changes.items():
                rows = " UNION ALL ".join(
                    _rows(keys, measures, table, where, sign=sign) for table, sign in parts
                )
                function = f"{tally}_{event.lower()}"
                referencing = " ".join(
                    f"{'NEW' if table == 'new_rows' else 'OLD'} TABLE AS {table}"
                    for table, _ in parts
                )
                statements += [
                    f"CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$ "
                    f"BEGIN {_sums(tally, keys, measures, rows, 'FALSE')}; RETURN NULL; END $$",
                    f"CREATE TRIGGER {function} AFTER {event} ON {source} "
                    f"REFERENCING {referencing} FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
                ]
        # A TRUNCATE fires no row's trigger: it empties the source's tallies with it (also
        # when it comes by a CASCADE from another table).
        for source in ("submission", "ledger_entry"):
            emptied = " ".join(
                f"DELETE FROM {tally};" for tally, of, *_ in _tallies(True, "r") if of == source
            )
            statements += [
                f"CREATE FUNCTION {source}_tallies_truncate() RETURNS trigger LANGUAGE plpgsql "
                f"AS $$ BEGIN {emptied} RETURN NULL; END $$",
                f"CREATE TRIGGER {source}_tallies_truncate AFTER TRUNCATE ON {source} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {source}_tallies_truncate()",
            ]
    else:
        olds = _tallies(False, "OLD")
        for (tally, source, keys, measures, where, read), old in zip(_tallies(False, "NEW"), olds):
            _, _, old_keys, old_measures, old_where, _ = old
            plus = _sqlite_insert(tally, keys, measures, where, "")
            minus = _sqlite_insert(tally, old_keys, old_measures, old_where, "-")
            changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in read)
            statements += [
                f"CREATE TRIGGER {tally}_insert AFTER INSERT ON {source} BEGIN {plus} END",
                f"CREATE TRIGGER {tally}_update AFTER UPDATE OF {', '.join(read)} ON {source} "
                f"WHEN {changed} BEGIN {minus} {plus} END",
                f"CREATE TRIGGER {tally}_delete AFTER DELETE ON {source} BEGIN {minus} END",
            ]
    for tally, source, keys, measures, where, _ in _tallies(postgres, "r"):
        names = ", ".join(name for name, _ in keys)
        statements += [
            f"CREATE UNIQUE INDEX {tally}_settled ON {tally} ({names}) WHERE settled",
            f"CREATE INDEX {tally}_unsettled ON {tally} (id) WHERE NOT settled",
            _sums(tally, keys, measures, _rows(keys, measures, source, where), "TRUE"),
        ]
    for statement in statements:
        await client.execute_script(statement)


class Migration(migrations.Migration):
    dependencies = [('models', '0009_conversations')]

    initial = False

    operations = [
        ops.CreateModel(
            name='LedgerSlotTally',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('account_id', fields.BigIntField()),
                ('task_id', fields.BigIntField()),
                ('slot', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('to_bucket', fields.CharEnumField(description='EXTERNAL: EXTERNAL\nACCOUNT_BALANCE: ACCOUNT_BALANCE\nTASK_REMAINING: TASK_REMAINING\nTASK_COMMITTED: TASK_COMMITTED\nTASK_SPENT: TASK_SPENT', enum_type=LedgerBucket, max_length=32)),
                ('reason', fields.CharEnumField(description='FUND: FUND\nALLOCATE: ALLOCATE\nCOMMIT: COMMIT\nRELEASE: RELEASE\nPAY: PAY\nBONUS: BONUS\nPARTIAL_PAYMENT: PARTIAL_PAYMENT\nRETURN: RETURN\nTOP_UP: TOP_UP', enum_type=LedgerReason, max_length=32)),
                ('amount_minor', fields.BigIntField()),
                ('entries', fields.BigIntField()),
                ('settled', fields.BooleanField(default=False)),
            ],
            options={'table': 'ledger_slot_tally', 'app': 'models', 'indexes': [Index(fields=['account_id', 'to_bucket', 'slot', 'task_id', 'reason', 'amount_minor', 'entries'], name='ledger_slot_tally_read')], 'pk_attr': 'id', 'table_description': 'Ledger entries of tasks by task, UTC quarter hour, destination and reason: spend,'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SubmissionSlotTally',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('account_id', fields.BigIntField()),
                ('task_id', fields.BigIntField()),
                ('slot', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('state', fields.CharEnumField(description='STARTED: STARTED\nSUBMITTED: SUBMITTED\nAPPROVED: APPROVED\nREJECTED: REJECTED\nREVISION_REQUESTED: REVISION_REQUESTED\nEXPIRED: EXPIRED\nDISPUTED: DISPUTED\nPARTIALLY_PAID: PARTIALLY_PAID', enum_type=SubmissionState, max_length=32)),
                ('sent', fields.BooleanField(description='first_submitted_at is set: the work was sent once')),
                ('revised', fields.BooleanField(description='revision_count > 0')),
                ('starts', fields.BigIntField(description='how many submissions')),
                ('micros', fields.BigIntField(description='their microseconds from start to first sending')),
                ('settled', fields.BooleanField(default=False)),
            ],
            options={'table': 'submission_slot_tally', 'app': 'models', 'indexes': [Index(fields=['account_id', 'slot', 'task_id', 'state', 'sent', 'revised', 'starts', 'micros'], name='submission_slot_tally_read')], 'pk_attr': 'id', 'table_description': "Submissions by task, UTC quarter hour of their start and raw state: the cohort's"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SubmissionWorkerDayTally',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('account_id', fields.BigIntField()),
                ('worker_id', fields.BigIntField()),
                ('day', fields.DateField()),
                ('state', fields.CharEnumField(description='STARTED: STARTED\nSUBMITTED: SUBMITTED\nAPPROVED: APPROVED\nREJECTED: REJECTED\nREVISION_REQUESTED: REVISION_REQUESTED\nEXPIRED: EXPIRED\nDISPUTED: DISPUTED\nPARTIALLY_PAID: PARTIALLY_PAID', enum_type=SubmissionState, max_length=32)),
                ('sent', fields.BooleanField()),
                ('revised', fields.BooleanField()),
                ('starts', fields.BigIntField()),
                ('micros', fields.BigIntField()),
                ('settled', fields.BooleanField(default=False)),
            ],
            options={'table': 'submission_worker_day_tally', 'app': 'models', 'indexes': [Index(fields=['account_id', 'day', 'worker_id', 'state', 'sent', 'revised', 'starts', 'micros'], name='submission_worker_day_tally_read')], 'pk_attr': 'id', 'table_description': "Submissions by worker, UTC day of their start and raw state, across the account's"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SubmissionDurationTally',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('account_id', fields.BigIntField()),
                ('task_id', fields.BigIntField()),
                ('day', fields.DateField()),
                ('seconds', fields.BigIntField(description="the bin's lower bound")),
                ('starts', fields.BigIntField()),
                ('settled', fields.BooleanField(default=False)),
            ],
            options={'table': 'submission_duration_tally', 'app': 'models', 'indexes': [Index(fields=['account_id', 'day', 'task_id', 'seconds', 'starts'], name='submission_duration_tally_read')], 'pk_attr': 'id', 'table_description': 'Sent submissions by task, UTC day of their start and time to complete, in whole'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LedgerWorkerDayTally',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('account_id', fields.BigIntField()),
                ('worker_id', fields.BigIntField()),
                ('day', fields.DateField()),
                ('to_bucket', fields.CharEnumField(description='EXTERNAL: EXTERNAL\nACCOUNT_BALANCE: ACCOUNT_BALANCE\nTASK_REMAINING: TASK_REMAINING\nTASK_COMMITTED: TASK_COMMITTED\nTASK_SPENT: TASK_SPENT', enum_type=LedgerBucket, max_length=32)),
                ('amount_minor', fields.BigIntField()),
                ('entries', fields.BigIntField()),
                ('settled', fields.BooleanField(default=False)),
            ],
            options={'table': 'ledger_worker_day_tally', 'app': 'models', 'indexes': [Index(fields=['account_id', 'to_bucket', 'day', 'worker_id', 'amount_minor'], name='ledger_worker_day_tally_read')], 'pk_attr': 'id', 'table_description': 'Ledger entries of tasks naming a worker, by worker, UTC day and destination, across'},
            bases=['Model'],
        ),
        ops.RunPython(install),
    ]
