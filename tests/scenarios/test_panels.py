"""Many panels in one installation, for a month: a monthly MASP and two fortnightly MASG
localities (North and South) read from one mailbox on the real Dovecot, sending through the
real SMTP server (R1).

February 2026 (London time is UTC). MASP meets on the second Tuesday at 10:00 (10 February; its
timeslots go on Thursday 5 February). MASG North meets every other Wednesday at 14:00 (4 and 18
February), MASG South every other Thursday at 14:00 (5 and 19 February); each sends its
timeslots two days before, after a deadline five days before at noon.

The cast:
  A   to the shared inbox; its form names MASP.
  N1  to the shared inbox; its form names the Northtown locality.
  N2  to MASG North's alias (masg-north@example.org); its form names MASP: the address wins and
      the case is flagged for the administrator.
  S1  to the shared inbox in its To, but delivered to the plus address panel+masg-south@…
      (what the server recorded in Delivered-To).
  N3  in the second fortnight, to the plus address panel+masg-north@…, for the 18 February
      meeting.

MASG North has no Service Manager of its own: its CAF co-ordinator screens, and receives its
pack beside its own member; the installation's administrator and chair serve it, and its
acknowledgement is its own template. MASG South has its own administrator, chair, manager
and member. MASP has the installation's people.
"""

from __future__ import annotations

import email
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email import policy
from pathlib import Path

import pytest
import yaml
from imap_tools import MailBoxUnencrypted
from sqlalchemy import select

from pipeline import samples
from pipeline.app import App
from pipeline.clock import Clock
from pipeline.config import parse_config
from pipeline.intake.poll import poll
from pipeline.service import run_due_jobs
from pipeline.store.models import AuditEvent, Case
from pipeline.templates import TEMPLATE_DIR
from tests.helpers import config_tree
from tests.postgres import Postgres, on_postgres
from tests.scenarios.harness import Out, expect, reply
from tests.servers import Dovecot, ImapAccount, SmtpCapture, fresh_account, running_smtp

pytestmark = [pytest.mark.servers, pytest.mark.timeout(600)]

ADMIN, CHAIR, SM, CORE = (
    "admin@example.org",
    "chair@example.org",
    "sm@example.org",
    "core@example.org",
)
CAF = "caf.north@example.org"
NORTH_CORE = "north.core@example.org"
SOUTH_ADMIN, SOUTH_CHAIR, SOUTH_SM, SOUTH_CORE = (
    "south.admin@example.org",
    "south.chair@example.org",
    "south.sm@example.org",
    "south.core@example.org",
)
ALIAS = "masg-north@example.org"
MASP_PLACE, NORTH_PLACE, SOUTH_PLACE = (
    "Committee Room 2, Civic Centre",
    "Northtown Family Hub",
    "Southtown Library, Room 1",
)
FORTNIGHTLY = "FREQ=WEEKLY;INTERVAL=2;BYDAY="


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def person(name: str, address: str) -> dict[str, str]:
    return {"name": name, "email": address}


def masg(panel_id: str, locality: str, day: str, place: str) -> dict[str, object]:
    return {
        "id": panel_id,
        "name": f"MASG {locality}",
        "locality": f"{locality}town",
        "meetings": {"rrule": f"{FORTNIGHTLY}{day}", "time": "14:00", "place": place},
        "deadline": {"days_before": 5, "time": "12:00"},
        "slot_notice_days": 2,
        "quarterly": False,
    }


def north_templates(folder: Path) -> Path:
    """MASG North's own acknowledgement: its own subject and a line about its hub, the rest as
    shipped."""
    own = folder / "north-templates"
    own.mkdir()
    shipped = (TEMPLATE_DIR / "acknowledgement.txt").read_text()
    head, _, body = shipped.partition("\n")
    own_head = "Subject: MASG North — {{ reference }}: referral received"
    own_body = body.replace(
        "Its reference is {{ reference }}.",
        "Its reference is {{ reference }}. MASG North meets at the Northtown Family Hub.",
    )
    assert head.startswith("Subject: ") and own_body != body
    (own / "acknowledgement.txt").write_text(f"{own_head}\n{own_body}")
    return own


def config(folder: Path, account: ImapAccount, smtp: SmtpCapture) -> dict[str, object]:
    tree = config_tree(mailbox__backend="imap")
    tree["mailbox"]["imap"] = account.config.model_dump()
    tree["mailbox"]["smtp"] = {"host": "127.0.0.1", "port": smtp.port, "security": "none"}
    tree["limits"]["max_sends_per_recipient_per_hour"] = 1000
    tree["people"]["members"] = [{"name": "K Core", "email": CORE, "agency": "Health"}]
    masp_panel = tree["panels"][0]
    masp_panel["meetings"]["place"] = MASP_PLACE
    north = masg("masg-north", "North", "WE", NORTH_PLACE) | {
        "addresses": [ALIAS],
        "templates": str(north_templates(folder)),
        "people": {
            "service_managers": [],
            "caf_coordinator": person("C Coordinator", CAF),
            "members": [{"name": "N Core", "email": NORTH_CORE, "agency": "Early Help"}],
        },
    }
    south = masg("masg-south", "South", "TH", SOUTH_PLACE) | {
        "people": {
            "administrator": person("S Admin", SOUTH_ADMIN),
            "chair": person("S Chair", SOUTH_CHAIR),
            "service_managers": [person("S South", SOUTH_SM)],
            "members": [{"name": "S Core", "email": SOUTH_CORE, "agency": "Schools"}],
        },
    }
    tree["panels"] = [masp_panel, north, south]
    return tree


@dataclass(frozen=True)
class Referrer:
    key: str
    address: str
    panel_on_form: str

    @property
    def sender(self) -> str:
        return f"Referrer {self.key} <{self.address}>"

    def referral(self, to: str = "panel@example.org", **headers: str) -> samples.Mail:
        child = samples.Child(
            name=f"Child {self.key}case",
            referrer_name=f"Referrer {self.key}",
            referrer_email=self.address,
            panel=self.panel_on_form,
        )
        files = samples.full_referral(child)
        mail = samples.Mail(self.sender, f"Referral {self.key}", files=files, to=to)
        return mail.with_headers(headers)


A = Referrer("A", "a.ref@school.example.org", "MASP")
N1 = Referrer("N1", "n1.ref@school.example.org", "Northtown")
N2 = Referrer("N2", "n2.ref@health.example.org", "MASP")
S1 = Referrer("S1", "s1.ref@school.example.org", "Southtown")
N3 = Referrer("N3", "n3.ref@police.example.org", "")


class Panels:
    """The installation, run in this process at chosen moments; each step keeps what the SMTP
    server received while it ran."""

    def __init__(
        self,
        folder: Path,
        account: ImapAccount,
        smtp: SmtpCapture,
        dovecot: Dovecot,
        database: str | None,
    ) -> None:
        self.account, self.smtp, self.dovecot = account, smtp, dovecot
        tree = config(folder, account, smtp)
        if database is not None:
            tree["database"] = database
        (folder / "config.yaml").write_text(yaml.safe_dump(tree))
        self.app = App.open(parse_config(tree, folder, env={}), Clock.frozen_at(at("2026-01-26")))
        self.steps: dict[str, list[Out]] = {}
        self.seen = 0

    def append(self, mail: samples.Mail, received: datetime) -> None:
        with MailBoxUnencrypted("127.0.0.1", self.dovecot.imap_port).login(
            self.account.user, self.account.password
        ) as box:
            box.append(mail.as_bytes(), "INBOX", dt=received)

    def _kept(self, step: str) -> None:
        with self.smtp.lock:
            captured = list(self.smtp.messages[self.seen :])
            self.seen = len(self.smtp.messages)
        self.steps[step] = [
            Out(
                tuple(sorted(r.lower() for r in rcpts)),
                email.message_from_bytes(raw, policy=policy.default),
            )
            for _, rcpts, raw in captured
        ]

    def poll(self, step: str, now: datetime) -> None:
        poll(replace(self.app, clock=Clock.frozen_at(now)))
        self._kept(step)

    def tick(self, step: str, now: datetime) -> None:
        run_due_jobs(replace(self.app, clock=Clock.frozen_at(now)))
        self._kept(step)

    def got(self, step: str, to: str, subject: str) -> Out:
        found = [o for o in self.steps[step] if o.to == to and re.search(subject, o.subject)]
        assert len(found) == 1, (to, subject, [(o.to, o.subject) for o in self.steps[step]])
        return found[0]

    def case(self, who: Referrer) -> Case:
        with self.app.store.session() as session:
            found = session.scalars(select(Case).where(Case.referrer_email == who.address)).one()
            session.expunge(found)
            return found

    def request(self, who: Referrer) -> Out:
        """The one request to screen `who`'s referral, whichever step sent it."""
        reference = self.case(who).reference
        found = [
            o
            for got in self.steps.values()
            for o in got
            if o.subject.startswith(f"{reference}: referral to screen")
        ]
        assert len(found) == 1, [o.subject for o in found]
        return found[0]


def play(p: Panels) -> None:
    """The month; nothing is checked here, each test checks a step."""
    p.append(A.referral(), at("2026-01-26T09:00"))
    p.append(N1.referral(), at("2026-01-26T09:05"))
    p.append(N2.referral(to=f"MASG North <{ALIAS}>"), at("2026-01-26T09:10"))
    delivered = {"Delivered-To": "panel+masg-south@example.org"}
    p.append(S1.referral(**delivered), at("2026-01-26T09:15"))
    p.poll("referrals", at("2026-01-26T09:30"))
    p.tick("requests", at("2026-01-26T10:00"))
    # The installation's Service Manager answers a North request: not North's screener.
    p.append(reply(p.request(N2), f"S Manager <{SM}>", "APPROVE"), at("2026-01-27T09:00"))
    for who, screener in ((A, SM), (N1, CAF), (N2, CAF), (S1, SOUTH_SM)):
        p.append(reply(p.request(who), f"Screener <{screener}>", "APPROVE"), at("2026-01-27T09:10"))
    p.poll("answers", at("2026-01-27T09:30"))
    # MASG North's first meeting (4 February): its deadline, timeslots, pack.
    p.tick("north deadline", at("2026-01-30T12:00:30"))
    p.tick("south deadline", at("2026-01-31T12:00:30"))
    p.tick("north slots", at("2026-02-02T14:00:30"))
    p.tick("north pack", at("2026-02-02T14:11"))
    # MASG South's first meeting (5 February); a North referral by plus address meanwhile.
    p.append(N3.referral(to="panel+masg-north@example.org"), at("2026-02-03T09:00"))
    p.poll("second fortnight", at("2026-02-03T09:30"))
    p.tick("second fortnight requests", at("2026-02-03T10:00"))
    p.append(reply(p.request(N3), f"C Coordinator <{CAF}>", "approve"), at("2026-02-03T11:00"))
    p.poll("N3 approved", at("2026-02-03T11:30"))
    p.tick("south slots", at("2026-02-03T14:00:30"))
    p.tick("south pack", at("2026-02-03T14:11"))
    # MASP's meeting (10 February).
    p.tick("masp slots", at("2026-02-05T10:00:30"))
    p.tick("masp pack", at("2026-02-05T10:11"))
    # MASG North's second meeting (18 February).
    p.tick("north again slots", at("2026-02-16T14:00:30"))
    p.tick("north again pack", at("2026-02-16T14:11"))


@pytest.fixture(scope="module")
def store(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """The month's database: SQLite in its folder, or (in the PostgreSQL pass) a PostgreSQL
    database of its own kept for the whole module, which each test's own cannot be."""
    if not on_postgres():
        yield None
        return
    server: Postgres = request.getfixturevalue("postgres")
    with server.database() as url:
        yield url


@pytest.fixture(scope="module")
def panels(
    tmp_path_factory: pytest.TempPathFactory, dovecot: Dovecot, store: str | None
) -> Iterator[Panels]:
    with running_smtp() as smtp:
        folder = tmp_path_factory.mktemp("panels")
        p = Panels(folder, fresh_account(dovecot), smtp, dovecot, store)
        try:
            play(p)
            yield p
        finally:
            p.app.close()


# -- routing ------------------------------------------------------------------------------------


def test_each_referral_goes_to_the_panel_its_address_or_else_its_form_names(
    panels: Panels,
) -> None:
    found = {who.key: panels.case(who) for who in (A, N1, N2, S1, N3)}
    assert {key: case.panel_id for key, case in found.items()} == {
        "A": "masp",
        "N1": "masg-north",
        "N2": "masg-north",
        "S1": "masg-south",
        "N3": "masg-north",
    }
    assert [found[k].reference[:10] for k in ("A", "N1", "S1")] == [
        "MASP-2026-",
        "MASGNORTH-",
        "MASGSOUTH-",
    ]
    assert found["N2"].flags[0] == (
        f"routed to panel masg-north by the address it was sent to ({ALIAS}); "
        "its form names panel masp: check which is meant"
    )
    assert not any(f.startswith("routed") for k in ("A", "N1", "S1", "N3") for f in found[k].flags)
    with panels.app.store.session() as session:
        routed = {
            e.case_id: e.detail["by"]
            for e in session.scalars(select(AuditEvent).where(AuditEvent.action == "routed"))
        }
    assert [routed[found[k].id] for k in ("A", "N1", "N2", "S1", "N3")] == [
        "form",
        "form",
        "address",
        "address",
        "address",
    ]


def test_acknowledgements_use_the_panels_own_template_where_it_has_one(panels: Panels) -> None:
    refs = {who.key: panels.case(who).reference for who in (A, N1, N2, S1)}
    acks = expect(
        panels.steps["referrals"],
        (A.address, rf"^{refs['A']}: referral received — complete$"),
        (N1.address, rf"^MASG North — {refs['N1']}: referral received$"),
        (N2.address, rf"^MASG North — {refs['N2']}: referral received$"),
        (S1.address, rf"^{refs['S1']}: referral received — complete$"),
    )
    assert "MASG North meets at the Northtown Family Hub." in acks[1].text
    assert "Thank you for your referral to the MASG North." in acks[1].text
    # The HTML part is the shipped one: only the text file was replaced.
    html = acks[1].message.get_body(preferencelist=("html",))
    assert html is not None and "Northtown Family Hub" not in str(html.get_content())
    assert "Northtown Family Hub" not in acks[0].text + acks[3].text
    assert "4 February 2026, 14:00" in acks[1].text and "5 February 2026, 14:00" in acks[3].text
    assert "10 February 2026, 10:00" in acks[0].text


# -- screening ----------------------------------------------------------------------------------


def test_each_panels_own_screeners_are_asked(panels: Panels) -> None:
    refs = {who.key: panels.case(who).reference for who in (A, N1, N2, S1)}
    expect(
        panels.steps["requests"],
        (SM, rf"^{refs['A']}: referral to screen"),
        (CAF, rf"^{refs['N1']}: referral to screen"),
        (CAF, rf"^{refs['N2']}: referral to screen"),
        (SOUTH_SM, rf"^{refs['S1']}: referral to screen"),
    )
    n3 = panels.case(N3).reference
    panels.got("second fortnight requests", CAF, rf"^{n3}: referral to screen")
    # Nobody else was asked about it.
    assert [o.to for o in panels.steps["second fortnight requests"] if n3 in o.subject] == [CAF]


def test_only_the_panels_screeners_answers_count(panels: Panels) -> None:
    for who in (A, N1, N2, S1, N3):
        assert panels.case(who).state in {"approved", "decided"}, who.key
    # The installation's manager answering for MASG North was refused; the installation's
    # administrator (North has none of its own) was shown it.
    n2 = panels.case(N2).reference
    [alert] = [o for o in panels.steps["answers"] if o.to == ADMIN]
    assert n2 in alert.subject and "forged sender" in alert.text
    assert all(o.to != SOUTH_ADMIN for o in panels.steps["answers"])


# -- the meetings -------------------------------------------------------------------------------


def test_the_cut_off_digest_goes_to_the_panels_own_administrator(panels: Panels) -> None:
    assert {o.to for o in panels.steps["south deadline"]} == {SOUTH_ADMIN}
    assert {o.to for o in panels.steps["north deadline"]} == {ADMIN}


@pytest.mark.parametrize(
    ("step", "who", "place", "start"),
    [
        ("north slots", N1, NORTH_PLACE, "20260204T140000Z"),
        ("south slots", S1, SOUTH_PLACE, "20260205T140000Z"),
        ("masp slots", A, MASP_PLACE, "20260210T100000Z"),
        ("north again slots", N3, NORTH_PLACE, "20260218T140000Z"),
    ],
)
def test_timeslot_invitations_carry_the_panels_own_place(
    panels: Panels, step: str, who: Referrer, place: str, start: str
) -> None:
    sent = panels.got(step, who.address, "your timeslot")
    assert f"Where: {place}" in sent.text
    [ics] = [data for name, _, data in sent.files() if name.endswith(".ics")]
    text = ics.decode().replace("\r\n ", "")
    escaped = place.replace(",", "\\,")
    assert f"LOCATION:{escaped}" in text
    assert f"DTSTART:{start}" in text


@pytest.mark.parametrize(
    ("step", "name", "cases", "recipients"),
    [
        ("north pack", "MASG North", (N1, N2), (ADMIN, CHAIR, CAF, NORTH_CORE)),
        ("south pack", "MASG South", (S1,), (SOUTH_ADMIN, SOUTH_CHAIR, SOUTH_CORE)),
        ("masp pack", "Multi Agency Support Panel", (A,), (ADMIN, CHAIR, CORE)),
        ("north again pack", "MASG North", (N3,), (ADMIN, CHAIR, CAF, NORTH_CORE)),
    ],
)
def test_each_panels_pack_goes_to_its_own_people_only(
    panels: Panels, step: str, name: str, cases: tuple[Referrer, ...], recipients: tuple[str, ...]
) -> None:
    packs = [o for o in panels.steps[step] if "meeting pack" in o.subject]
    assert sorted(o.to for o in packs) == sorted(recipients)
    references = sorted(panels.case(who).reference for who in cases)
    for sent in packs:
        assert sent.subject.startswith(f"{name}: meeting pack for"), sent.subject
        originals = zipfile.ZipFile(io.BytesIO(sent.file("-originals.zip"))).namelist()
        assert sorted({n.split("/")[0] for n in originals}) == references
