"""The contract harness for the `graph` back-end: contract tests against a stand-in; no real
tenant is reachable from here. The Entra and Graph stand-ins (`tests/stand_ins/`) speak
Microsoft's documented payloads over HTTPS on 127.0.0.1; an outage closes every connection
unanswered."""

from __future__ import annotations

import email
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from email.policy import default
from pathlib import Path

import pytest

from pipeline.config import Config, parse_config
from pipeline.mailbox.graph import GraphSender, GraphSource
from tests.helpers import config_tree
from tests.stand_ins.entra import running_entra
from tests.stand_ins.graph import Graph, running_graph

ADDRESS = "panel@example.org"


def graph_config(folder: Path, graph: Graph, **overrides: object) -> Config:
    """A whole config on the `graph` back-end, pointed at the stand-ins."""
    tree = config_tree(mailbox__backend="graph", **overrides)
    tree["mailbox"]["oauth"] = graph.entra.oauth_config()
    tree["mailbox"]["graph"] = graph.config()
    return parse_config(tree, folder, env={})


class GraphHarness:
    name = "graph"
    address = ADDRESS

    def __init__(self, folder: Path, graph: Graph) -> None:
        self.graph = graph
        self.config = graph_config(folder, graph)
        self.arrived = 0

    def source(self) -> GraphSource:
        return GraphSource(self.config)

    def sender(self) -> GraphSender:
        return GraphSender(self.config)

    def deliver(self, raw: bytes) -> None:
        # Exchange stamps receivedDateTime to the second; a counter keeps the order certain.
        self.arrived += 1
        self.graph.mailbox.add(raw, received=f"2026-11-02T09:{self.arrived // 60:02d}:"
                               f"{self.arrived % 60:02d}Z")  # fmt: skip

    def read_by_person(self) -> None:
        for stored in self.graph.mailbox.in_folder("Inbox"):
            stored.read = True

    def move_away_by_person(self, subject: str) -> None:
        box = self.graph.mailbox
        elsewhere = next((f for f in box.folders.values() if f.name == "Elsewhere"), None)
        elsewhere = elsewhere or box.add_folder("Elsewhere")
        for stored in box.in_folder("Inbox"):
            if email.message_from_bytes(stored.raw, policy=default)["Subject"] == subject:
                box.move(stored, elsewhere.id)

    def processed(self) -> list[bytes]:
        box = self.graph.mailbox
        if not any(f.name == "Processed" for f in box.folders.values()):
            return []
        return [m.raw for m in sorted(box.in_folder("Processed"), key=lambda m: m.received)]

    def sent(self) -> list[tuple[list[str], bytes]]:
        return list(self.graph.mailbox.sent)

    def outage(self) -> AbstractContextManager[None]:
        return self.graph.outage()


@contextmanager
def graph_harness(folder: Path, request: pytest.FixtureRequest) -> Iterator[GraphHarness]:
    with running_entra(folder / "tls") as entra, running_graph(entra, ADDRESS) as graph:
        yield GraphHarness(folder, graph)
