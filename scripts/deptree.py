"""The installed distributions a distribution needs, following each one's Requires-Dist.

Shared by scripts/lock.py (which pins them) and scripts/licences.py (which checks the core
install holds no GPL and no GUI toolkit). Read from the venv's metadata: no index is asked.
"""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, distribution

from packaging.requirements import Requirement


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(root: str, extras: frozenset[str] = frozenset()) -> dict[str, str]:
    """Every distribution `root` (with `extras`) needs, by canonical name, with its installed
    version; `root` itself is left out."""
    found: dict[str, str] = {}
    todo: list[tuple[str, frozenset[str]]] = [(root, extras)]
    done: set[tuple[str, frozenset[str]]] = set()
    while todo:
        name, wanted = todo.pop()
        if (name, wanted) in done:
            continue
        done.add((name, wanted))
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            continue  # a requirement whose marker excluded it on this machine
        if canonical(name) != canonical(root):
            found[canonical(name)] = dist.version
        for text in dist.requires or []:
            requirement = Requirement(text)
            environments = [{"extra": e} for e in wanted] or [{"extra": ""}]
            marker = requirement.marker
            if marker is None or any(marker.evaluate(env) for env in environments):
                todo.append((requirement.name, frozenset(requirement.extras)))
    return found
