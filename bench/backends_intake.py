"""Intake through each back-end: N synthetic referrals read by `masp poll` and answered, against
the same floor as bench/intake.py (a bare fetch of the same messages plus opening each attachment
once with python-docx / openpyxl / pdfplumber), per back-end. Target ratio <= 1.5.

- graph: the Graph stand-in (HTTPS on 127.0.0.1, tokens from the Entra stand-in). The referrals
  are put in its Inbox; the service reads them by delta and answers through sendMail. Floor: one
  bare delta round for the ids, then an httpx GET of each message's `$value` on one connection.
- ews: the EWS stand-in (HTTPS on 127.0.0.1, basic auth). The service reads by SyncFolderItems
  and GetItem and answers through CreateItem. Floor: a bare exchangelib SyncFolderItems for the
  ids, then GetItem of each MIME, 20 a request (as the back-end asks).
- imap-oauth: a private Dovecot taking SASL XOAUTH2 (tokens from the Entra stand-in checked by
  an introspection endpoint) and an SMTP server taking AUTH XOAUTH2. Floor: bench/intake.py's
  imap-tools fetch, signed in with XOAUTH2.

Each run is timed from the start of `masp poll` until every acknowledgement reached the server;
the floor runs straight after, on a fresh copy of the same mailbox (a back-to-back pair). The
stand-ins run as threads of this process, so they answer the pipeline and the floor alike.

    .venv/bin/python -m bench.backends intake --count 200 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bench.intake import TreePeak, make_mails
from pipeline.mailbox.oauth import EXCHANGE, GRAPH
from tests.helpers import config_tree
from tests.mailbox.harness_imap_oauth import oauth_world
from tests.servers import running_oauth_dovecot
from tests.stand_ins.entra import running_entra
from tests.stand_ins.ews import running_ews
from tests.stand_ins.graph import running_graph

BACKENDS = ("graph", "ews", "imap-oauth")
ADDRESS = "panel@example.org"

# Opening every attachment once, as bench/intake.py's floor does.
OPEN_ATTACHMENTS = r"""
import email, io, json, resource, sys, time
from email import policy
import docx, openpyxl, pdfplumber

def open_attachments(raw):
    message = email.message_from_bytes(raw, policy=policy.default)
    for part in message.iter_attachments():
        name, payload = (part.get_filename() or "").lower(), part.get_payload(decode=True)
        if name.endswith(".docx"):
            docx.Document(io.BytesIO(payload))
        elif name.endswith(".xlsx"):
            openpyxl.load_workbook(io.BytesIO(payload), read_only=True).close()
        elif name.endswith(".pdf"):
            with pdfplumber.open(io.BytesIO(payload)) as pdf:
                pdf.pages[0].extract_text()

def done(start, count):
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": time.perf_counter() - start, "count": count, "rss_mb": rss}))
"""

GRAPH_FLOOR = (
    OPEN_ATTACHMENTS
    + r"""
import ssl, httpx
base, user, token, ca = sys.argv[1:5]
start, count = time.perf_counter(), 0
headers = {"Authorization": f"Bearer {token}",
           "Prefer": 'IdType="ImmutableId", odata.maxpagesize=100'}
context = ssl.create_default_context(cafile=ca)
with httpx.Client(verify=context, headers=headers, timeout=60) as http:
    url, ids = f"{base}/users/{user}/mailFolders/inbox/messages/delta", []
    while url:
        page = http.get(url).raise_for_status().json()
        ids += [m["id"] for m in page["value"]]
        url = page.get("@odata.nextLink")
    for key in ids:
        open_attachments(http.get(f"{base}/users/{user}/messages/{key}/$value")
                         .raise_for_status().content)
        count += 1
done(start, count)
"""
)

# REQUESTS_CA_BUNDLE (set for this script) makes requests, under exchangelib, trust the CA.
EWS_FLOOR = (
    OPEN_ATTACHMENTS
    + r"""
from exchangelib import BASIC, DELEGATE, Account, Build, Configuration, Credentials, Version
endpoint, address, user, password = sys.argv[1:5]
start, count = time.perf_counter(), 0
config = Configuration(service_endpoint=endpoint, credentials=Credentials(user, password),
                       auth_type=BASIC, version=Version(build=Build(15, 1)))
account = Account(address, config=config, autodiscover=False, access_type=DELEGATE)
changes = account.inbox.sync_items(only_fields=["id", "changekey"])
ids = list(dict.fromkeys(item.id for change, item in changes if change == "create"))
for first in range(0, len(ids), 20):
    batch = [(key, None) for key in ids[first : first + 20]]
    for item in account.fetch(ids=batch, only_fields=["mime_content"]):
        open_attachments(item.mime_content)
        count += 1
done(start, count)
"""
)

IMAP_FLOOR = (
    OPEN_ATTACHMENTS
    + r"""
from imap_tools import AND, MailBoxUnencrypted
port, user, token = int(sys.argv[1]), sys.argv[2], sys.argv[3]
start, count = time.perf_counter(), 0
with MailBoxUnencrypted("127.0.0.1", port).xoauth2(user, token) as box:
    for msg in box.fetch(AND(all=True), mark_seen=False, bulk=50):
        open_attachments(msg.obj.as_bytes())
        count += 1
done(start, count)
"""
)


@dataclass
class Mailbox:
    """One fresh copy of the panel mailbox on a back-end: the config that reads it, how many
    acknowledgements its sending side has taken, and the floor's command line."""

    tree: dict[str, Any]
    answered: Callable[[], int]
    floor: list[str]
    floor_env: dict[str, str]


# A back-end: given the referrals, a context manager giving a fresh mailbox holding them.
Backend = Callable[[list[bytes]], Any]


def _tree(mailbox: dict[str, Any]) -> dict[str, Any]:
    tree = config_tree(mailbox__backend=mailbox["backend"])
    tree["mailbox"].update(mailbox)
    tree["limits"]["max_sends_per_recipient_per_hour"] = 10_000
    return tree


def _script(code: str, *args: str) -> list[str]:
    return [sys.executable, "-c", code, *args]


@contextmanager
def graph_backend(work: Path) -> Iterator[Backend]:
    with running_entra(work / "entra") as entra:

        @contextmanager
        def fresh(mails: list[bytes]) -> Iterator[Mailbox]:
            with running_graph(entra, ADDRESS) as graph:
                for n, raw in enumerate(mails):
                    # Exchange stamps receivedDateTime to the second: one second apart.
                    when = f"2026-11-02T{9 + n // 3600:02d}:{n // 60 % 60:02d}:{n % 60:02d}Z"
                    graph.mailbox.add(raw, received=when)
                token = entra.tokens.issue(GRAPH)["access_token"]
                mailbox = {"backend": "graph", "address": ADDRESS}
                tree = _tree(mailbox | {"oauth": entra.oauth_config(), "graph": graph.config()})
                floor = _script(GRAPH_FLOOR, graph.base_url, ADDRESS, token, str(entra.tls.ca_file))
                yield Mailbox(tree, lambda: len(graph.mailbox.sent), floor, {})

        yield fresh


@contextmanager
def ews_backend(work: Path) -> Iterator[Backend]:
    @contextmanager
    def fresh(mails: list[bytes]) -> Iterator[Mailbox]:
        with running_ews(work / f"ews-{uuid.uuid4().hex[:8]}") as ews:
            for raw in mails:
                ews.mailbox.deliver(raw)
            config = ews.ews_config()
            tree = _tree({"backend": "ews", "address": ADDRESS, "ews": config})
            floor = _script(
                EWS_FLOOR, ews.endpoint, ADDRESS, config["username"], config["password"]
            )
            env = {"REQUESTS_CA_BUNDLE": config["ca_file"]}
            yield Mailbox(tree, lambda: len(ews.mailbox.sent), floor, env)

    yield fresh


@contextmanager
def imap_oauth_backend(work: Path) -> Iterator[Backend]:
    with running_oauth_dovecot() as server:

        @contextmanager
        def fresh(mails: list[bytes]) -> Iterator[Mailbox]:
            with oauth_world(work / f"oauth-{uuid.uuid4().hex[:8]}", server) as world:
                for raw in mails:
                    world.account.deliver(raw)
                token = world.entra.tokens.issue(EXCHANGE)["access_token"]
                port = str(server.dovecot.imap_port)
                floor = _script(IMAP_FLOOR, port, world.address, token)
                yield Mailbox(
                    _tree(world.mailbox_tree()), lambda: len(world.smtp.messages), floor, {}
                )

        yield fresh


OPENERS: dict[str, Callable[[Path], Any]] = {
    "graph": graph_backend,
    "ews": ews_backend,
    "imap-oauth": imap_oauth_backend,
}


def run_pipeline(box: Mailbox, count: int, work: Path) -> dict[str, float]:
    folder = work / f"service-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    (folder / "config.yaml").write_text(yaml.safe_dump(box.tree))
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "poll"],
        cwd=folder,
        env={**os.environ, "MASP_CONFIG": str(folder / "config.yaml")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    # A slower sampler than bench/intake.py's: it shares the stand-ins' interpreter, and the
    # peak (VmHWM) is a high-water mark, so sampling less often loses nothing long-lived.
    sampler = TreePeak(process.pid, interval=0.25)
    sampler.start()
    _, errors = process.communicate()
    sampler.done.set()
    sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"masp poll failed:\n{errors.decode(errors='replace')}")
    deadline = time.monotonic() + 600
    while box.answered() < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {box.answered()} of {count} acknowledgements were sent")
        time.sleep(0.01)
    return {"seconds": time.perf_counter() - start, "rss_mb": sampler.total_mb()}


def run_floor(box: Mailbox, count: int) -> dict[str, Any]:
    start = time.perf_counter()
    out = subprocess.run(
        box.floor,
        capture_output=True,
        text=True,
        env={**os.environ, **box.floor_env},
    )
    if out.returncode != 0:
        raise SystemExit(f"the floor failed:\n{out.stderr}")
    data: dict[str, Any] = json.loads(out.stdout)
    if data["count"] != count:
        raise SystemExit(f"the floor read {data['count']} of {count} messages")
    data["seconds"] = time.perf_counter() - start
    return data


@dataclass
class Result:
    pipeline: list[float]
    floor: list[float]
    ratios: list[float]
    rss: list[float]
    floor_rss: list[float]


def bench(name: str, mails: list[bytes], repeat: int, work: Path) -> Result:
    result = Result([], [], [], [], [])
    with OPENERS[name](work) as fresh:
        for i in range(repeat):
            with fresh(mails) as box:
                run = run_pipeline(box, len(mails), work)
            with fresh(mails) as box:
                bare = run_floor(box, len(mails))
            result.pipeline.append(run["seconds"])
            result.floor.append(bare["seconds"])
            result.ratios.append(run["seconds"] / bare["seconds"])
            result.rss.append(run["rss_mb"])
            result.floor_rss.append(bare["rss_mb"])
            print(
                f"{name} run {i + 1}: pipeline {run['seconds']:.2f} s, floor "
                f"{bare['seconds']:.2f} s, ratio {result.ratios[-1]:.2f}, "
                f"peak RSS {run['rss_mb']:.0f} MB",
                flush=True,
            )
    return result


def report(n: int, repeat: int, results: dict[str, Result]) -> None:
    print(f"\nintake of N = {n} referrals, median of {repeat} back-to-back pair(s)")
    for name, got in results.items():
        pipe, floor = statistics.median(got.pipeline), statistics.median(got.floor)
        print(
            f"{name:10} pipeline {n / pipe:5.1f} emails/s {1000 * pipe / n:7.1f} ms/email   "
            f"floor {n / floor:5.1f} emails/s {1000 * floor / n:7.1f} ms/email   "
            f"ratio {statistics.median(got.ratios):.2f} (target <= 1.5)   "
            f"peak RSS {max(got.rss):.0f} MB (floor {max(got.floor_rss):.0f} MB)"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.backends intake", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--count", type=int, default=50, help="referrals per run (default 50)")
    parser.add_argument("--repeat", type=int, default=3, help="back-to-back pairs (default 3)")
    parser.add_argument("--only", choices=BACKENDS, action="append", help="this back-end only")
    args = parser.parse_args(argv)
    mails = make_mails(args.count)
    results: dict[str, Result] = {}
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="masp-bench-")))
        for name in args.only or BACKENDS:
            results[name] = bench(name, mails, args.repeat, work)
    report(args.count, args.repeat, results)


if __name__ == "__main__":
    main()
