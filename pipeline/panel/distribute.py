"""Sends each meeting's pack to its named recipients once per version, and records who got what.

The job is due a few minutes after the slot notices go out (R10), so the agenda it carries
has its slots. Its key holds the pack's input digest: a change after the first sending (a
Section 20 case, a late approval) makes a new key, so the new version is reissued whole, once.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator, Sequence
from datetime import datetime
from operator import attrgetter
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.jobs import Job, bind
from pipeline.outbox.compose import FileAttachment
from pipeline.outbox.queue import Draft, enqueue
from pipeline.outbox.wording import DOCX, when
from pipeline.outputs.agenda import agenda_docx
from pipeline.outputs.pack import (
    Built,
    Original,
    PackInputs,
    Recipient,
    Rendered,
    build_pack,
    gather,
    originals,
    render,
    section_pdf,
    split,
    stamp,
    zip_originals,
)
from pipeline.panel.release import pack_due
from pipeline.panel.screening.jobs import remind_unscreened
from pipeline.rules.meetings import meeting_stamp, upcoming
from pipeline.store.audit import audit
from pipeline.store.models import OutboxItem, Pack, PackSend

log = logging.getLogger(__name__)

T = TypeVar("T")

# Room left in an email for its text, headers and MIME boundaries.
EMAIL_OVERHEAD = 64_000
PDF = "application/pdf"
ZIP = "application/zip"


def attachment_budget(app: App) -> int:
    """The most attachment bytes one email may carry: base64 makes every 3 bytes 4."""
    return max(app.config.pack.max_email_bytes * 3 // 4 - EMAIL_OVERHEAD, 10_000)


def pack_jobs(app: App, session: Session, now: datetime) -> Iterator[Job]:
    """A job source: each panel's next meetings, once their slot notices have gone (and, with
    `pack.release: manual`, once the administrator has released the pack)."""
    for panel in app.config.panels:
        for meeting in upcoming(panel, app.config.tz, now, 2):
            due = pack_due(app, session, meeting)
            if due is None or now < due:
                continue
            digest = gather(app, session, panel.id, meeting.starts_at).digest()
            key = f"pack:{panel.id}:{meeting_stamp(app.config.tz, meeting.starts_at)}:{digest[:16]}"
            action = bind(distribute, panel.id, meeting.starts_at)
            yield Job(key, due, action, stale_after=meeting.starts_at)


def distribute(app: App, session: Session, panel_id: str, starts_at: datetime) -> Built:
    """Build (or reuse) the meeting's pack and send each recipient their copy of it."""
    built = build_pack(app, session, panel_id, starts_at)
    remind_unscreened(app, session, panel_id, starts_at)
    for recipient in built.inputs.distribution:
        send_copy(app, session, built, recipient)
    return built


def _already_sent(session: Session, pack: Pack, recipient: Recipient) -> bool:
    query = select(PackSend.id).where(
        PackSend.pack_id == pack.id, PackSend.recipient == recipient.email.lower()
    )
    return session.scalar(query) is not None


def _copy(
    app: App, session: Session, built: Built, recipient: Recipient
) -> tuple[PackInputs, Rendered] | None:
    """What this recipient may see: the whole pack, or only the cases their agency is on."""
    if recipient.whole:
        return built.inputs, built.rendered
    references = built.inputs.for_agency(recipient.agency or "")
    if not references:
        return None
    inputs = built.inputs.only(references)
    return inputs, render(app, session, inputs, built.pack.version, partial=True)


def send_copy(app: App, session: Session, built: Built, recipient: Recipient) -> None:
    """One recipient's stamped copy, in as many emails as its size needs, recorded (R12)."""
    if _already_sent(session, built.pack, recipient):
        return
    copy = _copy(app, session, built, recipient)
    if copy is None:
        return
    inputs, rendered = copy
    files = _attachments(app, built.pack, inputs, rendered, recipient)
    emails = _emails(files, attachment_budget(app))
    items = [
        _enqueue(app, session, built, recipient, inputs, group, n, len(emails))
        for n, group in enumerate(emails, start=1)
    ]
    session.add(
        PackSend(
            pack_id=built.pack.id,
            recipient=recipient.email.lower(),
            outbox_id=items[0].id,
            sent_at=app.clock.now(),
            references=inputs.agenda.references,
        )
    )
    audit(
        session,
        app.clock.now(),
        None,
        "pack_sent",
        pack=built.pack.id,
        version=built.pack.version,
        recipient=recipient.email.lower(),
        outbox=[item.id for item in items],
    )


def _base_name(pack: Pack, app: App) -> str:
    day = pack.meeting.astimezone(app.config.tz).date().isoformat()
    return f"{pack.panel_id}-pack-{day}-v{pack.version}"


def _attachments(
    app: App, pack: Pack, inputs: PackInputs, rendered: Rendered, recipient: Recipient
) -> list[FileAttachment]:
    budget = attachment_budget(app)
    name = _base_name(pack, app)
    stamped = stamp(rendered.data, recipient.name, marking=inputs.agenda.marking)
    parts = split(stamped, rendered.sections, budget)
    pdfs = [
        FileAttachment(
            f"{name}.pdf" if len(parts) == 1 else f"{name}-part{n}of{len(parts)}.pdf", PDF, data
        )
        for n, data in enumerate(parts, start=1)
    ]
    zips = _zip_parts(app, inputs, budget)
    # The agenda on its own too (R11): as Word, for people who annotate it, and as the PDF
    # pages that open the pack, with its page ranges and the recipient's stamp.
    agenda = [
        FileAttachment(f"{name}-agenda.docx", DOCX, agenda_docx(inputs.agenda, app.clock.now())),
        FileAttachment(
            f"{name}-agenda.pdf", PDF, section_pdf(stamped, rendered.sections, "Agenda")
        ),
    ]
    return [*pdfs, *agenda] + [
        FileAttachment(
            f"{name}-originals.zip" if len(zips) == 1 else f"{name}-originals-{n}.zip", ZIP, data
        )
        for n, data in enumerate(zips, start=1)
    ]


def _zip_parts(app: App, inputs: PackInputs, budget: int) -> list[bytes]:
    """The original files zipped, shared out between zips when one would be too big.

    Whole cases stay together while they fit; a case too big for one zip is shared out by file.
    A zip of several pieces is never bigger than theirs added up, so each piece is zipped once
    to learn its size, the groups are made from those sizes, and each group is zipped once.
    Only a single file bigger than the budget travels in a zip over it (its own).
    """
    files = originals(inputs)
    whole = zip_originals(app, files)
    if len(whole) <= budget:
        return [whole]
    pieces: list[list[Original]] = []
    sizes: list[int] = []
    for _reference, grouped in itertools.groupby(files, key=attrgetter("case")):
        case = list(grouped)
        size = len(zip_originals(app, case))
        if size <= budget or len(case) == 1:
            pieces.append(case)
            sizes.append(size)
        else:
            pieces += [[original] for original in case]
            sizes += [len(zip_originals(app, [original])) for original in case]
    groups = _shared_out(pieces, sizes, budget)
    return [zip_originals(app, [o for piece in group for o in piece]) for group in groups]


def _emails(files: Sequence[FileAttachment], budget: int) -> list[list[FileAttachment]]:
    """Attachments shared out between emails, in order, each email within the budget."""
    return _shared_out(files, [len(item.data) for item in files], budget)


def _shared_out(items: Sequence[T], sizes: Sequence[int], budget: int) -> list[list[T]]:
    """`items` in order, in groups whose sizes add up to `budget` at most (or one item alone)."""
    groups: list[list[T]] = []
    total = 0
    for item, size in zip(items, sizes, strict=True):
        if groups and total + size <= budget:
            groups[-1].append(item)
            total += size
        else:
            groups.append([item])
            total = size
    return groups


def _enqueue(
    app: App,
    session: Session,
    built: Built,
    recipient: Recipient,
    inputs: PackInputs,
    attachments: list[FileAttachment],
    number: int,
    count: int,
) -> OutboxItem:
    pack = built.pack
    context = {
        "panel_name": inputs.agenda.panel_name,
        "meeting": when(app.config.tz, pack.meeting),
        "recipient_name": recipient.name,
        "pack_version": pack.version,
        "pack_part": number,
        "pack_parts": count,
        "pack_whole": recipient.whole,
        "pack_references": inputs.agenda.references,
        "pack_reissued": pack.version > 1,
        "administrator": app.config.people_of(inputs.agenda.panel_id).administrator.name,
        "panel_address": app.config.mailbox.address,
    }
    draft = Draft(
        purpose=f"pack:{pack.id}:{recipient.email.lower()}:{number}",
        template="pack",
        to=(recipient.email,),
        context=context,
        attachments=tuple(attachments),
        panel=inputs.agenda.panel_id,
    )
    return enqueue(app, session, draft)
