"""Every third-party import is a declared dependency, in the right place (run by scripts/test.sh).

`pipeline/` may import only the core dependencies and its optional extras (each such import is
guarded: see `pipeline.mime.containers`); `tests/` and `bench/` may import those and the `test`
extra too. A library that arrives only because another one depends on it (pdfminer.six through
pdfplumber, say) is not declared, and fails here before it fails on a council's server.
Run with the project's venv: `.venv/bin/python scripts/check_imports.py`.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from collections.abc import Iterator
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIRST_PARTY = {"pipeline", "tests", "bench"}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_names(requirements: list[str]) -> set[str]:
    return {canonical(re.split(r"[\s<>=!~;\[]", r, maxsplit=1)[0]) for r in requirements}


def imported(folder: Path) -> Iterator[tuple[str, Path]]:
    """Each top-level module an absolute import names, with the file that imports it."""
    for path in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_bytes(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                yield name.partition(".")[0], path


def main() -> int:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras: dict[str, list[str]] = project["optional-dependencies"]
    core = requirement_names(project["dependencies"])
    optional = set().union(*(requirement_names(v) for k, v in extras.items() if k != "test"))
    test = requirement_names(extras["test"])
    allowed = {"pipeline": core | optional, "tests": core | optional | test}
    allowed["bench"] = allowed["tests"]
    owners = packages_distributions()
    problems: list[str] = []
    for folder, declared in allowed.items():
        for module, path in imported(ROOT / folder):
            if module in FIRST_PARTY or module in sys.stdlib_module_names:
                continue
            dists = {canonical(d) for d in owners.get(module, [])}
            if not dists:
                problems.append(f"{path.relative_to(ROOT)}: `{module}` is not installed at all")
            elif not dists & declared:
                names = ", ".join(sorted(dists))
                problems.append(
                    f"{path.relative_to(ROOT)}: `{module}` comes from {names}, which "
                    f"pyproject.toml does not declare for {folder}/"
                )
    for problem in dict.fromkeys(problems):
        print(problem)
    if problems:
        print("Declare each in pyproject.toml (core, an extra, or the test extra).")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
