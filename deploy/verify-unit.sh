#!/usr/bin/env bash
# Checks deploy/masp.service with `systemd-analyze verify` (no running systemd needed). verify
# wants ExecStart's program to exist, so a copy of the unit points at a stand-in; and since it
# only warns about a bad setting (exit status 0), any output at all fails the check.
set -euo pipefail
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '#!/bin/sh\n' >"$work/masp"
chmod +x "$work/masp"
sed "s|^ExecStart=/opt/masp/bin/masp |ExecStart=$work/masp |" masp.service >"$work/masp.service"
grep -q "^ExecStart=$work/masp " "$work/masp.service" || { echo "masp.service: no ExecStart=/opt/masp/bin/masp" >&2; exit 1; }
out=$(systemd-analyze verify --man=no "$work/masp.service" 2>&1) || { echo "$out" >&2; exit 1; }
if [ -n "$out" ]; then echo "$out" >&2; exit 1; fi
echo "deploy/masp.service: systemd-analyze verify passed"
