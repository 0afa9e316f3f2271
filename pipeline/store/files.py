"""Raw emails and documents on disk under `data_dir`, owner-only, addressed by content hash."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


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
        if not target.exists():
            ensure_private_dir(target.parent)
            write_durably(target, data)
        return digest, str(relative)

    def read(self, relative: str) -> bytes:
        return (self.root / relative).read_bytes()

    def absolute(self, relative: str) -> Path:
        return self.root / relative


def ensure_private_dir(path: Path) -> None:
    """Create `path` (and parents under it) with owner-only permissions."""
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    os.chmod(path, DIR_MODE)


def write_durably(target: Path, data: bytes) -> None:
    """Write via a temporary file, fsync, then rename: a crash leaves the old file or the new."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
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
