"""Raw emails and documents on disk under `data_dir`, owner-only, addressed by content hash."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

from pipeline.disk import ensure_private_dir, write_durably
from pipeline.errors import StoreError

# A file stored this recently may belong to a row another process has not committed yet.
RECENT_NS = 24 * 3600 * 1_000_000_000


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FileStore:
    """Writes each distinct blob once, durably, readable only by the service's own user."""

    def __init__(self, root: Path) -> None:
        self.root = root
        ensure_private_dir(root)

    def put(self, area: str, data: bytes, suffix: str = "") -> tuple[str, str]:
        """Store `data` in `area` ('raw', 'documents' …); return (sha256, relative path)."""
        digest = sha256(data)
        relative = Path(area) / digest[:2] / f"{digest}{suffix}"
        target = self.root / relative
        try:
            # Already stored: say it is in use again (`delete_unless_touched` looks), else
            # write it. A file being deleted meanwhile fails the touch, and is written again.
            os.utime(target)
        except FileNotFoundError:
            ensure_private_dir(target.parent)
            write_durably(target, data)
        return digest, str(relative)

    def read(self, relative: str) -> bytes:
        if not relative:
            # A row whose file the retention purge deleted.
            raise StoreError("the file was deleted after the retention period (retention.*)")
        try:
            return (self.root / relative).read_bytes()
        except FileNotFoundError as exc:
            raise StoreError(
                f"a stored file is missing from data_dir ({relative}): restore it from a backup"
            ) from exc

    def absolute(self, relative: str) -> Path:
        return self.root / relative

    def leftovers(self, areas: tuple[str, ...], referenced: set[str]) -> Iterator[tuple[str, int]]:
        """(path, stored at in ns) of each file in `areas` that is not in `referenced`, and of
        each temporary file a crash left behind (a half-written copy, a deletion under way)."""
        for area in areas:
            for path in sorted((self.root / area).glob("*/*")):
                relative = str(path.relative_to(self.root))
                if relative not in referenced and path.is_file():
                    yield relative, path.stat().st_mtime_ns

    def stored_at_ns(self, relative: str) -> int | None:
        """When the file was last stored (`put`), in ns; None if it is not there."""
        try:
            return (self.root / relative).stat().st_mtime_ns
        except FileNotFoundError:
            return None

    def delete_unless_touched(self, relative: str, seen_ns: int) -> bool:
        """Delete a file no row points at any more, unless it was stored again lately.

        Files are shared by content, so another process may be storing the same bytes for a new
        row it has not committed yet. So a file stored (`put`) in the last `RECENT` (wall-clock
        time: this is about the file, not the panel's calendar), or since the purge looked at
        it (`seen_ns`, from `stored_at_ns`), stays. The file is first moved aside, so a `put`
        from then on writes it afresh. Returns whether it went.
        """
        target = self.root / relative
        aside = target.with_name(f".{target.name}.{os.getpid()}.deleting")
        try:
            os.rename(target, aside)
        except FileNotFoundError:
            return False
        stored = aside.stat().st_mtime_ns
        if stored != seen_ns or stored > time.time_ns() - RECENT_NS:
            os.replace(aside, target)  # the same bytes as any new copy: content-addressed
            return False
        aside.unlink()
        return True
