"""Writes constraints.txt: the exact versions of everything the project and its extras need,
as installed in this venv (run by scripts/lock.sh after an upgrade; the tests then prove them).
"""

from __future__ import annotations

import sys
from pathlib import Path

from deptree import closure

ROOT = Path(__file__).resolve().parents[1]
HEADER = """\
# The dependency set the tests passed with: scripts/test.sh installs with `-c constraints.txt`,
# and so should a council (docs/operations.md). Regenerate with scripts/lock.sh; never by hand.
"""


def main() -> int:
    pins = closure("masp-pipeline", frozenset({"msg", "test"}))
    lines = [f"{name}=={version}" for name, version in sorted(pins.items())]
    (ROOT / "constraints.txt").write_text(HEADER + "\n".join(lines) + "\n")
    print(f"constraints.txt: {len(lines)} distributions pinned")
    return 0


if __name__ == "__main__":
    sys.exit(main())
