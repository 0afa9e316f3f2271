"""The contract harness for the `ews` back-end: the EWS stand-in (`tests/stand_ins/ews.py`) on
127.0.0.1, since no Exchange Server can run here. Contract tests against a stand-in; no Exchange
Server here. It is stopped and started again on the same port for an outage."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from pipeline.config import EwsConfig, MailboxConfig
from pipeline.mailbox.ews import EwsSender, EwsSource
from tests.stand_ins.ews import Ews, running_ews


class EwsHarness:
    name = "ews"
    address = "panel@example.org"

    def __init__(self, ews: Ews) -> None:
        self.ews = ews
        self.config = MailboxConfig(
            backend="ews", address=self.address, ews=EwsConfig(**ews.ews_config())
        )

    def source(self) -> EwsSource:
        return EwsSource(self.config)

    def sender(self) -> EwsSender:
        return EwsSender(self.config)

    def deliver(self, raw: bytes) -> None:
        self.ews.mailbox.deliver(raw)

    def read_by_person(self) -> None:
        with self.ews.mailbox.lock:
            for item in self.ews.mailbox.folders["inbox"].items.values():
                item.read = True

    def move_away_by_person(self, subject: str) -> None:
        self.ews.mailbox.move_by_person(subject)

    def processed(self) -> list[bytes]:
        return self.ews.mailbox.contents("Processed")

    def sent(self) -> list[tuple[list[str], bytes]]:
        with self.ews.mailbox.lock:
            return [(list(s.recipients), s.raw) for s in self.ews.mailbox.sent]

    @contextmanager
    def outage(self) -> Iterator[None]:
        self.ews.stop()
        try:
            yield
        finally:
            self.ews.start()


@contextmanager
def ews_harness(folder: Path, request: pytest.FixtureRequest) -> Iterator[EwsHarness]:
    with running_ews(folder) as ews:
        yield EwsHarness(ews)
