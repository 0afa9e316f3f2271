#!/usr/bin/env bash
# Installs everything the tests need on a fresh Debian machine (as root, or with sudo), then
# runs the gates and the whole suite twice against real Dovecot and a real SMTP server on
# loopback: once with the store on SQLite, once on a throw-away PostgreSQL cluster.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v dovecot >/dev/null 2>&1 || need_apt+=(dovecot-imapd dovecot-lmtpd)
[ -x /usr/lib/dovecot/lmtp ] || need_apt+=(dovecot-lmtpd)
# LibreOffice turns Word and Excel documents into PDF for the meeting pack.
command -v soffice >/dev/null 2>&1 || need_apt+=(libreoffice-writer-nogui libreoffice-calc-nogui)
command -v pdftoppm >/dev/null 2>&1 || need_apt+=(poppler-utils)
fc-list 2>/dev/null | grep -qi dejavu || need_apt+=(fonts-dejavu-core)
# systemd-analyze checks the service's unit file (deploy/masp.service).
command -v systemd-analyze >/dev/null 2>&1 || need_apt+=(systemd)
# The console's browser tests drive Debian's chromium (Playwright's own download is not used),
# and fetch axe-core with npm.
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
# The second pass keeps every test's store in PostgreSQL (tests/postgres.py runs its own
# cluster on 127.0.0.1 from these programs); it brings pg_dump and pg_restore of the same major
# version, which `masp backup` and `masp restore` use.
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need_apt+=(postgresql)
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    "${need_apt[@]}" >/dev/null
fi

PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# The tested dependency set (scripts/lock.sh refreshes it).
.venv/bin/python -m pip install -q -c constraints.txt -e '.[test]'
# axe-core, pinned by tests/web/package-lock.json, for the console's accessibility tests.
npm ci --prefix tests/web --no-audit --no-fund --ignore-scripts >/dev/null

.venv/bin/ruff check pipeline tests bench live
.venv/bin/ruff format --check pipeline tests bench live
.venv/bin/mypy
# The architecture contract (pyproject.toml [tool.importlinter]): one-way layers.
.venv/bin/lint-imports --no-cache
# Every third-party import declared in pyproject.toml; every installed licence allowed, and the
# core install free of GPL and GUI toolkits.
.venv/bin/python scripts/check_imports.py
.venv/bin/python scripts/licences.py >/dev/null || .venv/bin/python scripts/licences.py
# The systemd unit parses, with every setting known to this systemd.
deploy/verify-unit.sh

# The two passes run at the same time, each in its own pytest process with its own servers
# and log. Measured on a 2-core machine (shared, load 5-7): tests/intake (148 tests) took
# 74 s on SQLite alone, 195 s on PostgreSQL alone and 196 s both at once; tests/scenarios
# (57) 302 s on PostgreSQL alone, 338 s both at once. Much of a test's time is waiting (on
# a server, a subprocess, LibreOffice, a lock), so the passes side by side take about as long
# as the slower one, where one after the other would take both (~10 minutes each on an idle
# machine): the whole run stays under CI's 20 minutes only this way.
# A caller's `-m EXPR` narrows each pass further: (EXPR) and the pass's own selection.
marks="" args=()
while [ $# -gt 0 ]; do
  case "$1" in
    -m) marks="$2"; shift 2 ;;
    -m*) marks="${1#-m}"; shift ;;
    *) args+=("$1"); shift ;;
  esac
done
select_tests() { if [ -n "$marks" ]; then echo "($marks) and $1"; else echo "$1"; fi; }
logs="$(mktemp -d /tmp/masp-test-logs.XXXXXX)"
started=$SECONDS
# Tests about the SQLite file itself (sqlite_only), and those that never open a store
# (store_free: the readers, rules, MIME and templates, listed in tests/conftest.py), run only in
# the SQLite pass. So do the tests that use PostgreSQL directly (pg_native: they start their own
# cluster whatever the pass): the PostgreSQL pass is the longer one (18 of 19 minutes, measured
# on this 2-core machine, when it also ran them; the chaos test alone takes 4.5), so they
# balance the two. Each pass has its own temporary folders, so neither tidies away the other's.
sqlite_marks=()
[ -n "$marks" ] && sqlite_marks=(-m "$marks")
.venv/bin/pytest -p no:cacheprovider --basetemp="$logs/sqlite" \
  ${sqlite_marks[@]+"${sqlite_marks[@]}"} ${args[@]+"${args[@]}"} >"$logs/sqlite.log" 2>&1 &
sqlite_pid=$!
MASP_TEST_STORE=postgresql .venv/bin/pytest -p no:cacheprovider --basetemp="$logs/postgresql" \
  -m "$(select_tests "not sqlite_only and not store_free and not pg_native")" \
  ${args[@]+"${args[@]}"} >"$logs/postgresql.log" 2>&1 &
postgresql_pid=$!
# Interrupted, the passes stop too (pytest tidies up its servers on SIGINT).
trap 'kill -INT "$sqlite_pid" "$postgresql_pid" 2>/dev/null; wait' INT TERM
failed=0
for pass in sqlite postgresql; do
  pid_var="${pass}_pid"
  status=0
  wait "${!pid_var}" || status=$?
  # 5: nothing selected in this pass (arguments naming only the other pass's tests).
  if [ "$status" -eq 0 ] || [ "$status" -eq 5 ]; then
    echo "== $pass pass: $(tail -n 1 "$logs/$pass.log")"
  else
    failed=1
    echo "== $pass pass FAILED; the end of its log ($logs/$pass.log):"
    tail -n 150 "$logs/$pass.log"
  fi
done
echo "== both passes took $((SECONDS - started))s; logs in $logs"
exit "$failed"
