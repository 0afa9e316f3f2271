"""The service's context: one config, one clock, the store and the signer, passed to every step."""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.clock import Clock
from pipeline.config import Config
from pipeline.disk import FILE_MODE, write_durably
from pipeline.mime.threading import Signer
from pipeline.store.db import Store
from pipeline.store.files import FileStore
from pipeline.templates import Templates

if TYPE_CHECKING:
    from pipeline.documents.worker import DocumentWorker

log = logging.getLogger(__name__)


@dataclass
class App:
    """Everything a step needs. Built once at start-up; there are no globals."""

    config: Config
    clock: Clock
    store: Store
    files: FileStore
    signer: Signer
    templates: Templates

    @classmethod
    def open(cls, config: Config, clock: Clock) -> App:
        # Everything this process creates (the database and its WAL, mail, documents) holds
        # children's data: owner-only from the start, whatever the caller's umask was.
        os.umask(0o077)
        files = FileStore(config.data_path)
        store = Store.open(config.database_url)
        key = _signing_key(config, config.data_path)
        domain = config.mailbox.address.rpartition("@")[2]
        return cls(config, clock, store, files, Signer(key, domain), Templates())

    @cached_property
    def documents(self) -> DocumentWorker:
        """The isolated reader of attachments (SPEC §7); its process starts on the first read."""
        # Imported here so commands that never read an attachment do not load the parsers.
        from pipeline.documents.read import ReadLimits
        from pipeline.documents.worker import DocumentWorker

        limits = self.config.limits
        return DocumentWorker(
            ReadLimits(
                max_bytes=limits.max_attachment_bytes,
                max_pdf_pages=limits.max_pdf_pages,
                seconds=limits.parse_seconds,
                memory_mb=limits.parse_memory_mb,
            )
        )

    def close(self) -> None:
        # Only a worker that was ever asked for exists; asking for it here would create one.
        if "documents" in self.__dict__:
            self.documents.close()
        self.store.close()


def _signing_key(config: Config, data_dir: Path) -> bytes:
    """The HMAC secret: from config or the environment, else one generated once and kept private."""
    if config.security.signing_key:
        return config.security.signing_key.encode()
    path = data_dir / "signing.key"
    if not path.exists():
        write_durably(path, secrets.token_hex(32).encode())
        log.info("generated a new signing key in data_dir")
    os.chmod(path, FILE_MODE)
    return path.read_bytes().strip()
