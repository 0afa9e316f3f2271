#!/usr/bin/env bash
# Refreshes constraints.txt: upgrades the venv to the newest versions pyproject.toml's ranges
# allow, pins what is then installed, and runs the whole suite against it. Commit
# constraints.txt only when scripts/test.sh passes.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade --upgrade-strategy eager -e '.[test]'
.venv/bin/python scripts/lock.py
scripts/test.sh "$@"
