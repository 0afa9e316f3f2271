"""Start-up benchmark: `masp status --json` over 1,000 cases and `masp --help`, each against a
bare `python -c ''`, in subprocesses (wall time, median of N runs). Targets on the reference
machine: status ≤ 0.5 s, help ≤ 0.3 s.

    .venv/bin/python -m bench.cli --runs 7
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from pipeline.config import parse_config
from pipeline.states import CaseState
from pipeline.store.db import Store
from pipeline.store.models import Case
from tests.helpers import config_tree

STATES = [CaseState.INCOMPLETE, CaseState.SCREENING, CaseState.APPROVED]
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def install(folder: Path, cases: int) -> None:
    """A config and a database holding `cases` cases."""
    (folder / "config.yaml").write_text(yaml.safe_dump(config_tree()))
    config = parse_config(config_tree(), folder, env={})
    store = Store.open(config.database_url)
    with store.session() as session:
        for n in range(cases):
            session.add(
                Case(
                    reference=f"MASP-2026-{n + 1:04d}",
                    panel_id="masp",
                    state=STATES[n % len(STATES)],
                    referrer_email=f"ref{n}@school.example.org",
                    received_at=START + timedelta(hours=n),
                    fields={"initials": "R.T.", "age": 10},
                )
            )
    store.close()


def wall(args: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    result = subprocess.run(args, cwd=cwd, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{args} failed: {result.stderr.decode()[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--cases", type=int, default=1000)
    options = parser.parse_args()
    masp = [sys.executable, "-m", "pipeline"]
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        install(folder, options.cases)
        # The first run warms the file cache and writes bytecode, as a second run would find.
        commands = {
            "python -c ''": [sys.executable, "-c", ""],
            "masp --help": [*masp, "--help"],
            "masp status --json": [*masp, "status", "--json"],
        }
        results: dict[str, float] = {}
        for name, args in commands.items():
            wall(args, folder)
            results[name] = statistics.median(wall(args, folder) for _ in range(options.runs))
    bare = results["python -c ''"]
    report = {
        name: {"median_s": round(t, 3), "over_bare_python_s": round(t - bare, 3)}
        for name, t in results.items()
    }
    print(json.dumps({"cases": options.cases, "runs": options.runs, **report}, indent=2))
    targets = {"masp --help": 0.3, "masp status --json": 0.5}
    missed = [name for name, limit in targets.items() if results[name] > limit]
    if missed and os.environ.get("BENCH_STRICT"):
        raise SystemExit(f"over target: {', '.join(missed)}")


if __name__ == "__main__":
    main()
