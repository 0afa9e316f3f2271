#!/usr/bin/env bash
# Installs everything the tests need on a fresh Debian machine (as root, or with sudo), then
# runs the gates and the whole suite against real Dovecot and a real SMTP server on loopback.
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
.venv/bin/pytest "$@"
