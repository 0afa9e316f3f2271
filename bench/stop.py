"""How long `masp run` takes to exit after SIGTERM in the middle of a LibreOffice batch.

Each run prepares an installation (`tests/cli/test_stop.py`: three referrals, one with a
chronology LibreOffice takes about half a minute over), starts `masp run`, waits for its first
tick to start LibreOffice, sends SIGTERM three seconds later, and times the exit. Prints each
run and the median (SQLite).

    python -m bench.stop --runs 3
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import tempfile
from contextlib import suppress
from pathlib import Path

from tests.cli.test_service_process import Background, starter
from tests.cli.test_stop import prepare, stop_while_converting


def one_run(folder: Path) -> float:
    config = prepare(folder)
    started: list[Background] = []
    try:
        return stop_while_converting(starter(folder, started), folder, config, "run")
    finally:
        for each in started:
            # Whatever is left of its process group (a LibreOffice it did not end) goes too.
            with suppress(ProcessLookupError):
                os.killpg(each.process.pid, signal.SIGKILL)
            each.process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    seconds = []
    for run in range(runs):
        with tempfile.TemporaryDirectory(prefix="masp-stop-") as folder:
            seconds.append(one_run(Path(folder)))
        print(f"run {run + 1}: exited {seconds[-1]:.2f} s after SIGTERM", flush=True)
    print(f"median of {runs}: {statistics.median(seconds):.2f} s")


if __name__ == "__main__":
    main()
