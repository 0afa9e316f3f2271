"""Private directories and durable writes: owner-only modes, fsync before rename."""

from __future__ import annotations

import os
import threading
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
# Clears every permission bit for the group and for others.
PRIVATE_UMASK = 0o077


def make_files_private() -> None:
    """Make everything this process creates owner-only, whatever the caller's umask was.

    Called once where the process starts (the `masp` entry point), never by a library step:
    the database and its WAL, mail and documents hold children's data from the first byte.
    """
    os.umask(PRIVATE_UMASK)


def ensure_private_dir(path: Path) -> None:
    """Create `path` (and parents under it) with owner-only permissions."""
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    os.chmod(path, DIR_MODE)


def write_durably(target: Path, data: bytes) -> None:
    """Write via a temporary file, fsync, then rename: a crash leaves the old file or the new."""
    # Unique to this thread: two threads may store the same content at once (intake's read-ahead).
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
