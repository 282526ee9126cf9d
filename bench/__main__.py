"""Run the benchmarks: a table on stdout, every round in JSON.

    .venv/bin/python -m bench                       # every scenario, 5 rounds
    .venv/bin/python -m bench --scenarios S5 --rounds 3 --seconds 5
    .venv/bin/python -m bench --smoke               # tiny sizes: do they still run?
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python -m bench --json bench/latest.json

Each scenario runs on a fresh database (PostgreSQL when DATABASE_URL names a server, else
SQLite) against real server processes; product and baseline alternate round by round, so
that the noise of a shared machine falls on both.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
from pathlib import Path

from bench import (
    s1_queue_page,
    s2_approvals,
    s3_fan_out,
    s4_bulk_review,
    s5_trivial_query,
    s6_scale,
    s7_export,
    s8_analytics,
)
from bench.database import fresh_database, server_env
from bench.harness import Figure, table

SCENARIOS = {
    "S1": s1_queue_page,
    "S2": s2_approvals,
    "S3": s3_fan_out,
    "S4": s4_bulk_review,
    "S5": s5_trivial_query,
    "S6": s6_scale,
    "S7": s7_export,
    "S8": s8_analytics,
}


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5.0, help="length of a timed load")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one round")
    parser.add_argument("--json", type=Path, help="write every round here")
    args = parser.parse_args(argv)
    if args.smoke:
        args.rounds, args.seconds, args.clients = 1, 0.3, 2
    figures: list[Figure] = []
    for name in args.scenarios.split(","):
        module = SCENARIOS[name.strip().upper()]
        async with fresh_database() as settings:
            figures += await module.run(
                settings, server_env(settings), args.rounds, args.seconds, args.clients
            )
    print(table(figures))
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": {"python": sys.version.split()[0], "platform": platform.platform()},
                    "rounds": args.rounds,
                    "figures": [figure.summary() for figure in figures],
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(sys.argv[1:])))
