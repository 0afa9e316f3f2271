"""The service's context: one config, one clock, the store and the signer, passed to every step."""

from __future__ import annotations

import logging
import os
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.clock import Clock
from pipeline.closing import Closing
from pipeline.config import Config, LimitsConfig
from pipeline.disk import FILE_MODE, write_durably
from pipeline.mime.threading import Signer
from pipeline.store.db import Store
from pipeline.store.files import FileStore
from pipeline.templates import Templates

if TYPE_CHECKING:
    from pipeline.documents.pool import Reader

log = logging.getLogger(__name__)


class WorkerSlot:
    """Where the document reader (or `limits.readers` of them) lives once started: one per
    opened App, shared by its copies."""

    def __init__(self) -> None:
        self._worker: Reader | None = None

    def get(self, limits: LimitsConfig) -> Reader:
        if self._worker is None:
            # Imported here so commands that never read an attachment do not load the parsers.
            from pipeline.documents.pool import ReaderPool
            from pipeline.documents.results import ReadLimits
            from pipeline.documents.worker import DocumentWorker

            read_limits = ReadLimits(
                max_bytes=limits.max_attachment_bytes,
                max_pdf_pages=limits.max_pdf_pages,
                seconds=limits.parse_seconds,
                memory_mb=limits.parse_memory_mb,
            )
            self._worker = (
                DocumentWorker(read_limits)
                if limits.readers == 1
                else ReaderPool(read_limits, limits.readers)
            )
        return self._worker

    def close(self) -> None:
        # Only a worker that was ever asked for exists; there is nothing else to stop.
        if self._worker is not None:
            self._worker.close()


@dataclass(frozen=True)
class App(Closing):
    """Everything a step needs. Built once at start-up; there are no globals.

    Frozen: a step that needs another clock (the demo, a test) makes a copy with
    `dataclasses.replace`, which shares the store and the document worker.
    """

    config: Config
    clock: Clock
    store: Store
    files: FileStore
    signer: Signer
    templates: Templates
    worker: WorkerSlot = field(default_factory=WorkerSlot, repr=False, compare=False)
    # Set when the service is asked to stop (SIGTERM): long steps look at it between their
    # items (documents, jobs, emails) and end what they are running, so a worker stops in
    # seconds, not when a LibreOffice batch happens to finish. Never set outside `masp run`.
    stop: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)

    @classmethod
    def open(cls, config: Config, clock: Clock) -> App:
        files = FileStore(config.data_path)
        store = Store.open(config.database_url)
        key = _signing_key(config, config.data_path)
        domain = config.mailbox.address.rpartition("@")[2]
        return cls(config, clock, store, files, Signer(key, domain), Templates.for_config(config))

    @property
    def documents(self) -> Reader:
        """The isolated reader of attachments (SPEC §7); its process starts on the first read."""
        return self.worker.get(self.config.limits)

    def close(self) -> None:
        self.worker.close()
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
