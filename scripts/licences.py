"""Lists every installed distribution's licence and fails on one the README does not allow.

Run by scripts/test.sh with the project's venv: `.venv/bin/python scripts/licences.py`.
A licence is read from the metadata's License-Expression (PEP 639), else its License field,
else its "License ::" classifiers. Allowed: the permissive licences the README names, plus the
stated exceptions: LGPL libraries used unmodified (docxtpl, fpdf2, tnefparse, psycopg), and the optional
`msg` extra's GPL (extract-msg and what only it brings). AGPL is refused whatever the package.
Then the core install alone (what `pip install masp-pipeline` brings, followed through each
distribution's requirements) must hold no GPL and no GUI toolkit.
"""

from __future__ import annotations

import re
import sys
from importlib.metadata import Distribution, distribution, distributions

from deptree import canonical, closure

# The README's list, as words that appear in SPDX ids, License fields and classifiers.
PERMISSIVE = (
    "MIT",
    "BSD",
    "Apache",
    "ISC",
    "PSF",
    "Python Software Foundation",
    "HPND",
    "Historical Permission Notice",
    "MPL-2.0",
    "Mozilla Public License 2.0",
    "Unlicense",
    "CC0",
    "Zlib",
)
# Copyleft allowed for these distributions only, and why (the README says the same).
CORE_EXCEPTIONS = {
    # Used as libraries, unmodified: the LGPL allows that from MIT code.
    "docxtpl": "LGPL",
    "fpdf2": "LGPL",
    "tnefparse": "LGPL",
    # The `postgres` extra's driver, used unmodified as a library, with its bundled libpq.
    "psycopg": "LGPL",
    "psycopg-binary": "LGPL",
}
# The `msg` extra (reads attached Outlook messages), never in the core install.
MSG_EXCEPTIONS = {"extract-msg": "GPL", "rtfde": "LGPL", "pcodedmp": "GPL"}
EXCEPTIONS = CORE_EXCEPTIONS | MSG_EXCEPTIONS
REFUSED = re.compile(r"\bAGPL|Affero", re.IGNORECASE)
COPYLEFT = re.compile(r"GPL|General Public", re.IGNORECASE)
# A server has no screen: GUI toolkits must not come with the core install.
GUI = {"easygui", "pyqt5", "pyqt6", "pyside2", "pyside6", "wxpython", "tkinter", "pygobject"}


def licence_of(dist: Distribution) -> str:
    """The distribution's licence as its metadata states it, or "" when it states none."""
    meta = dist.metadata
    expression = meta.get("License-Expression") or ""
    if expression.strip():
        return expression.strip()
    classifiers = [
        c.removeprefix("License :: ").removeprefix("OSI Approved :: ")
        for c in meta.get_all("Classifier") or []
        if c.startswith("License ::") and c != "License :: OSI Approved"
    ]
    field = (meta.get("License") or "").strip()
    # Some packages paste the whole licence text into License: the classifiers say it shorter.
    if field and (("\n" not in field and len(field) < 80) or not classifiers):
        return field.splitlines()[0]
    return "; ".join(classifiers)


def verdict(name: str, licence: str, exceptions: dict[str, str]) -> str | None:
    """Why this distribution's licence is not allowed, or None when it is."""
    if REFUSED.search(licence):
        return "AGPL is never allowed"
    allowed = exceptions.get(name)
    if COPYLEFT.search(licence):
        return None if allowed is not None and allowed in licence else "copyleft, not an exception"
    if any(word.lower() in licence.lower() for word in PERMISSIVE):
        return None
    return "not a licence the README lists" if licence else "states no licence"


def check_installed() -> int:
    """Every distribution in this venv (the service, its extras and the test tools)."""
    problems = 0
    seen: set[str] = set()
    for dist in sorted(distributions(), key=lambda d: canonical(d.metadata["Name"])):
        name = canonical(dist.metadata["Name"])
        if name in seen or name == "masp-pipeline":
            continue
        seen.add(name)
        licence = licence_of(dist)
        why = verdict(name, licence, EXCEPTIONS)
        print(f"{'ok ' if why is None else 'BAD'} {name} {dist.version}: {licence or '(none)'}")
        if why is not None:
            problems += 1
            print(f"    {why}: remove it, replace it, or add it to the README's exceptions")
    return problems


def check_core() -> int:
    """What `pip install masp-pipeline` alone brings: no GPL, no GUI toolkit."""
    problems = 0
    for name in sorted(closure("masp-pipeline")):
        why = verdict(name, licence_of(distribution(name)), CORE_EXCEPTIONS)
        if name in GUI:
            why = "a GUI toolkit, on a server"
        if why is not None:
            problems += 1
            print(f"BAD core install brings {name}: {why}")
    return problems


def main() -> int:
    problems = check_installed() + check_core()
    if problems:
        print(f"{problems} licence problem(s)", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
