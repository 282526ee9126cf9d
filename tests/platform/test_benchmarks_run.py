"""The benchmarks still run (tiny sizes, one round): `python -m bench --smoke`.

This checks that every scenario works end to end against real server processes on the
back end the run uses (S2 needs PostgreSQL), never how fast: speed is measured in
`bench/`, as ratios against baselines run beside it.
"""

from __future__ import annotations

import os
import subprocess
import sys

from tests import REPO_ROOT


def test_the_benchmark_smoke_pass_runs_and_prints_its_table() -> None:
    # The servers it starts write nothing into the checkout (a demo key file there would
    # make `make run` print a key its own database does not know).
    key_file = REPO_ROOT / "var" / "demo-api-key.txt"
    before = key_file.read_text() if key_file.exists() else None
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke"],
        cwd=REPO_ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    postgres = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))
    assert (key_file.read_text() if key_file.exists() else None) == before
    for everywhere in (
        "| S1 | queue page",
        "| S5 | trivial query",
        "| S6 | queue page p50",
        "| S6 | auditReport p50",
        "| S7 | server memory growth exporting",
        "| S7 | time to first byte",
        "| S8 | analytics dashboard p50",
        # Fan-out runs on both back ends (on SQLite one process only).
        "| S3 | commit-to-receipt p99, 10 subs, 1 proc",
        "| S3 | memory per idle connection, 10 subs, 1 proc",
    ):
        assert everywhere in result.stdout, result.stdout
    two = "| S3 | commit-to-receipt p99, 10 subs, 2 proc" in result.stdout
    assert two == (postgres and bool(os.environ.get("REDIS_URL"))), result.stdout
    for concurrent in ("| S2 | approvals/s", "| S4 | bulk review"):
        assert (concurrent in result.stdout) == postgres, result.stdout
