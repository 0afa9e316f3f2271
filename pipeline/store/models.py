"""Database tables: a ledger of every message, cases, documents, the outbox and the audit trail."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from pipeline.states import CaseState, ConversionState, MessageState, OutboxState


class UTCDateTime(TypeDecorator[datetime]):
    """Stores instants as naive UTC and gives them back timezone-aware.

    SQLite drops offsets; PostgreSQL keeps them. Doing it here means no code compares a
    naive time with an aware one, whichever database is configured.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored: pass an aware UTC time")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class CaseStateType(TypeDecorator[CaseState]):
    """Stores a CaseState as its string, the same column as before, and reads it back a member."""

    impl = String(24)
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        # CaseState(value) refuses a string no member carries before it reaches the database.
        return None if value is None else CaseState(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> CaseState | None:
        return None if value is None else CaseState(value)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSON,
        list[Any]: JSON,
        datetime: UTCDateTime,
    }


class Message(Base):
    """One inbound email, ledgered before anything acts on it.

    The unique keys let the database refuse a second copy of the same server message
    (location) or of the same bytes (sha256), whatever the UIDVALIDITY does.
    """

    __tablename__ = "messages"
    __table_args__ = (UniqueConstraint("backend", "folder", "uidvalidity", "uid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    backend: Mapped[str] = mapped_column(String(16))
    folder: Mapped[str] = mapped_column(String(200))
    uidvalidity: Mapped[int] = mapped_column(Integer, default=0)
    uid: Mapped[str] = mapped_column(String(200))
    message_id: Mapped[str | None] = mapped_column(String(998), index=True)
    # The body without trace headers: a re-delivered copy after a UIDVALIDITY change matches it.
    body_sha256: Mapped[str] = mapped_column(String(64), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column()
    stored_at: Mapped[datetime] = mapped_column()
    raw_path: Mapped[str] = mapped_column(String(500))
    # A MessageState: new -> filed | ignored | duplicate | quarantined, and purged after the
    # retention period; 'moved' records the server-side move.
    status: Mapped[str] = mapped_column(String(16), default=MessageState.NEW, index=True)
    # A MessageCategory: what the email was taken to be (None until filing decides; a duplicate
    # is never filed).
    category: Mapped[str | None] = mapped_column(String(32))
    moved: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    case: Mapped[Case | None] = relationship(back_populates="messages")
    # The From address, lower-cased (None when there is no one readable address): any worker
    # files mail, but one sender's emails are filed one after another, in the order received,
    # so a referral's follow-up never overtakes it (intake/claims.py).
    sender: Mapped[str | None] = mapped_column(String(320), index=True)
    # The worker filing the email, or the last that did, and until when it holds it: a worker
    # that died lets go when its claim runs out. Kept after filing, to say who filed it.
    claimed_by: Mapped[str | None] = mapped_column(String(300))
    claimed_until: Mapped[datetime | None] = mapped_column()


class Case(Base):
    """One referral for one family, across however many emails it took."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    panel_id: Mapped[str] = mapped_column(String(32))
    # Indexed: the board counts the cases of the meetings still to come.
    meeting: Mapped[datetime | None] = mapped_column(index=True)
    # Stored as its string; only `pipeline.store.lifecycle.move` changes it.
    state: Mapped[CaseState] = mapped_column(CaseStateType, index=True)
    referrer_email: Mapped[str] = mapped_column(String(320), index=True)
    referrer_name: Mapped[str | None] = mapped_column(String(200))
    # Whoever sent the referral in for the referrer named on its form (a duty desk): copied on
    # what the referrer is sent, and may add to the case by quoting its reference (R5).
    forwarded_by: Mapped[str | None] = mapped_column(String(320))
    # The From address of the email that opened the case when its answers went to a Reply-To
    # (a shared safeguarding mailbox writing for a named person): it too may add to the case
    # by quoting its reference (R5). Never written to.
    sender_email: Mapped[str | None] = mapped_column(String(320))
    received_at: Mapped[datetime] = mapped_column()
    section20: Mapped[bool] = mapped_column(Boolean, default=False)
    genogram_required: Mapped[bool | None] = mapped_column(Boolean)
    # A keyed hash of the child's name and date of birth: links re-referrals without storing either.
    child_key: Mapped[str | None] = mapped_column(String(64), index=True)
    linked_case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    flags: Mapped[list[Any]] = mapped_column(default=list)
    # Facts read from the referral form (FormFacts), kept for status and later steps.
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    messages: Mapped[list[Message]] = relationship(back_populates="case")
    documents: Mapped[list[Document]] = relationship(back_populates="case", order_by="Document.id")


class Document(Base):
    """One attachment on a case; a newer one of the same kind supersedes, both are kept."""

    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    message_row_id: Mapped[int] = mapped_column(ForeignKey("messages.id"))
    kind: Mapped[str] = mapped_column(String(24))
    filename: Mapped[str] = mapped_column(String(300))
    content_type: Mapped[str] = mapped_column(String(120))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    stored_path: Mapped[str] = mapped_column(String(500))
    version: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    classification: Mapped[str] = mapped_column(Text, default="")
    superseded: Mapped[bool] = mapped_column(Boolean, default=False)
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column()
    case: Mapped[Case] = relationship(back_populates="documents")


class Counter(Base):
    """The next case number per reference prefix and year (MASP-2026-0007)."""

    __tablename__ = "counters"

    prefix: Mapped[str] = mapped_column(String(16), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class OutboxItem(Base):
    """An email waiting to be sent, or sent; the bytes are rendered before the first try."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    # What this email is for ('ack:message:17'): a replay can never queue a second copy.
    purpose: Mapped[str] = mapped_column(String(200), unique=True)
    message_id: Mapped[str] = mapped_column(String(998), unique=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    template: Mapped[str] = mapped_column(String(64))
    # One row per exact address, in the order written: never a comma string, which a quoted
    # local part can split, and which a substring search matches for look-alike addresses.
    recipients: Mapped[list[OutboxRecipient]] = relationship(
        order_by="OutboxRecipient.id", cascade="all, delete-orphan", lazy="selectin"
    )
    subject: Mapped[str] = mapped_column(String(998))
    raw_path: Mapped[str] = mapped_column(String(500))
    # An OutboxState: pending -> sent | held (not an allowed recipient, or a rate fuse) |
    # failed (gave up); pending or held -> purged after the retention period.
    status: Mapped[str] = mapped_column(String(16), default=OutboxState.PENDING, index=True)
    hold_reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column()
    # A worker sending this email holds it until then (a lease): no other worker takes it
    # meanwhile, and one that died holding it only delays it until the lease runs out.
    claimed_until: Mapped[datetime | None] = mapped_column()

    @property
    def addresses(self) -> list[str]:
        """The recipients' addresses, lower case, in the order they were written."""
        return [r.address for r in self.recipients]


class OutboxRecipient(Base):
    """One exact recipient address of an outbox email; the rate fuse counts these."""

    __tablename__ = "outbox_recipients"
    __table_args__ = (UniqueConstraint("outbox_id", "address"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id", ondelete="CASCADE"), index=True)
    # RFC 5321 limits a path to 254 octets; 320 characters leave room for any spelling of it.
    address: Mapped[str] = mapped_column(String(320), index=True)


class AuditEvent(Base):
    """What happened, to which case, when: sends, holds, refusals, replays. Never names people."""

    __tablename__ = "audit"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    action: Mapped[str] = mapped_column(String(48))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class JobRun(Base):
    """A time-based job that has happened. The unique key makes `masp tick` idempotent: a job's
    effect and its row are committed together, so running tick twice does everything once."""

    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    # e.g. "reminder:72h:case:7:2026-12-08T10:00" — what happened, to what, for which meeting.
    key: Mapped[str] = mapped_column(String(300), unique=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    ran_at: Mapped[datetime] = mapped_column()
    # done | skipped (stale: its moment passed while the service was down) | failed
    outcome: Mapped[str] = mapped_column(String(16))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ScreeningRequest(Base):
    """One email asking a Service Manager to screen a case (R9). Only a reply carrying this
    request's signed token, from this manager, and not used before, counts."""

    __tablename__ = "screening_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    manager_email: Mapped[str] = mapped_column(String(320))
    # A random nonce; the token in the email is the nonce signed with the installation key.
    nonce: Mapped[str] = mapped_column(String(64), unique=True)
    sent_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()
    # A Verdict (approve, decline, more_info), with the manager's reason and any co-opted agencies.
    decision: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    coopt: Mapped[list[Any]] = mapped_column(default=list)


class Slot(Base):
    """A case's time at a meeting (R10), and whether the referrer said they will attend."""

    __tablename__ = "slots"
    __table_args__ = (UniqueConstraint("case_id", "meeting"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    panel_id: Mapped[str] = mapped_column(String(32))
    meeting: Mapped[datetime] = mapped_column(index=True)
    position: Mapped[int] = mapped_column(Integer)
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime] = mapped_column()
    notified_at: Mapped[datetime | None] = mapped_column()
    # None until the referrer answers; then "yes" or "no".
    attendance: Mapped[str | None] = mapped_column(String(8))
    attendance_at: Mapped[datetime | None] = mapped_column()


class Pack(Base):
    """One version of a meeting's pack (R12); a change reissues the whole pack as a new version."""

    __tablename__ = "packs"
    __table_args__ = (UniqueConstraint("panel_id", "meeting", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    panel_id: Mapped[str] = mapped_column(String(32))
    meeting: Mapped[datetime] = mapped_column(index=True)
    version: Mapped[int] = mapped_column(Integer)
    # The digest of everything that went in: the same inputs never make a new version.
    inputs_sha256: Mapped[str] = mapped_column(String(64))
    stored_path: Mapped[str] = mapped_column(String(500))
    pages: Mapped[int] = mapped_column(Integer)
    references: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column()


class PackSend(Base):
    """Who received which version of a pack, and when (R12: recorded for every sending)."""

    __tablename__ = "pack_sends"
    __table_args__ = (UniqueConstraint("pack_id", "recipient"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    pack_id: Mapped[int] = mapped_column(ForeignKey("packs.id"), index=True)
    recipient: Mapped[str] = mapped_column(String(320))
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    sent_at: Mapped[datetime] = mapped_column()
    references: Mapped[list[Any]] = mapped_column(default=list)


class PackRelease(Base):
    """The administrator's word that a meeting's agenda is final and its pack may go (R17),
    when `pack.release` is manual: who said so, and when."""

    __tablename__ = "pack_releases"
    __table_args__ = (UniqueConstraint("panel_id", "meeting"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    panel_id: Mapped[str] = mapped_column(String(32))
    meeting: Mapped[datetime] = mapped_column()
    released_at: Mapped[datetime] = mapped_column()
    # "cli:<user>" or "web:<email>", as the audit trail has it.
    released_by: Mapped[str] = mapped_column(String(200))


class Conversion(Base):
    """A document turned into PDF for the pack, done when it arrives so packs build in seconds."""

    __tablename__ = "conversions"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Keyed by content: the same bytes are converted once, whatever case they arrive on.
    source_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    pdf_path: Mapped[str | None] = mapped_column(String(500))
    pages: Mapped[int | None] = mapped_column(Integer)
    # A ConversionState: pending, done, or failed (the pack then carries a page saying so).
    status: Mapped[str] = mapped_column(String(16), default=ConversionState.PENDING, index=True)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column()


class MeetingWorkbook(Base):
    """The decisions workbook made with a meeting's pack and sent to the administrator (R13).

    Only a reply carrying this workbook's signed token, from the administrator, is read as the
    meeting's decisions; the rows it was made with say which cases it may decide.
    """

    __tablename__ = "meeting_workbooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    panel_id: Mapped[str] = mapped_column(String(32))
    meeting: Mapped[datetime] = mapped_column(index=True)
    # A random nonce; the token in the email is the nonce signed with the installation key.
    nonce: Mapped[str] = mapped_column(String(64), unique=True)
    # The case references it lists, in its order: presented cases, then reviews.
    references: Mapped[list[Any]] = mapped_column(default=list)
    stored_path: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column()
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))


class DecisionImport(Base):
    """One filled workbook that came back (by email or `masp decisions import`): applied whole,
    or refused whole with its problems by sheet and cell. A later one replaces an earlier one."""

    __tablename__ = "decision_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    panel_id: Mapped[str] = mapped_column(String(32))
    meeting: Mapped[datetime] = mapped_column(index=True)
    workbook_id: Mapped[int | None] = mapped_column(ForeignKey("meeting_workbooks.id"))
    # "email" (with the ledger row) or "command".
    source: Mapped[str] = mapped_column(String(16))
    message_row_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    sha256: Mapped[str] = mapped_column(String(64))
    stored_path: Mapped[str] = mapped_column(String(500))
    # applied | refused
    status: Mapped[str] = mapped_column(String(16))
    # Each problem as {"cell": "Actions!D7", "problem": "..."}; empty when applied.
    problems: Mapped[list[Any]] = mapped_column(default=list)
    imported_at: Mapped[datetime] = mapped_column()


class Decision(Base):
    """The panel's decision on one case at one meeting (R13); a corrected workbook replaces it."""

    __tablename__ = "decisions"
    __table_args__ = (UniqueConstraint("case_id", "meeting"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    panel_id: Mapped[str] = mapped_column(String(32))
    meeting: Mapped[datetime] = mapped_column(index=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("decision_imports.id"))
    # "presented" (section 3 of the agenda) or "review" (section 1, R14).
    heard_as: Mapped[str] = mapped_column(String(16), default="presented")
    outcome: Mapped[str] = mapped_column(String(80))
    lead_name: Mapped[str | None] = mapped_column(String(200))
    lead_agency: Mapped[str | None] = mapped_column(String(200))
    lead_email: Mapped[str | None] = mapped_column(String(320))
    review_date: Mapped[date | None] = mapped_column(Date)
    # MASG: no further panel review; the Lead Professional is asked for outcomes instead (R14).
    no_further_review: Mapped[bool] = mapped_column(Boolean, default=False)
    # A recommendation to the resource panel (LARP), with what it recommends.
    larp: Mapped[bool] = mapped_column(Boolean, default=False)
    larp_note: Mapped[str | None] = mapped_column(Text)
    # This review was the last: the case closes (R14).
    final: Mapped[bool] = mapped_column(Boolean, default=False)
    notes: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column()
    case: Mapped[Case] = relationship()
    actions: Mapped[list[Action]] = relationship(
        back_populates="decision", order_by="Action.position", cascade="all, delete-orphan"
    )


class Action(Base):
    """An agreed action: what, who, which agency, by when (R13); done when a review says so."""

    __tablename__ = "actions"

    id: Mapped[int] = mapped_column(primary_key=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id", ondelete="CASCADE"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(200))
    agency: Mapped[str | None] = mapped_column(String(200))
    due: Mapped[date] = mapped_column(Date, index=True)
    done_at: Mapped[datetime | None] = mapped_column()
    decision: Mapped[Decision] = relationship(back_populates="actions")


class DecisionSheet(Base):
    """One version of a case's decision sheet (R13), as Word and PDF, and its sending."""

    __tablename__ = "decision_sheets"
    __table_args__ = (UniqueConstraint("decision_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)
    # The digest of what the sheet says: the same decision never makes a second version.
    inputs_sha256: Mapped[str] = mapped_column(String(64))
    docx_path: Mapped[str] = mapped_column(String(500))
    pdf_path: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column()
    # The email to the referrer (cc the Lead Professional), and the LARP contact's, if any.
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    larp_outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    sent_at: Mapped[datetime | None] = mapped_column()


class FollowUp(Base):
    """R14: a Lead Professional asked for outcomes 12 weeks after the last review (MASG)."""

    __tablename__ = "follow_ups"
    __table_args__ = (UniqueConstraint("decision_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id"))
    lead_email: Mapped[str] = mapped_column(String(320))
    # A random nonce; the token in the email is the nonce signed with the installation key.
    nonce: Mapped[str] = mapped_column(String(64), unique=True)
    due_at: Mapped[datetime] = mapped_column()
    asked_at: Mapped[datetime | None] = mapped_column()
    reminded_at: Mapped[datetime | None] = mapped_column()
    answered_at: Mapped[datetime | None] = mapped_column()
    # The ledger row of the Lead Professional's answer (its text stays in the raw email).
    answer_row_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))


class MailboxCursor(Base):
    """Where a mailbox back-end got to in its folder (a Graph delta link, an EWS sync state):
    the database, not the server, is the source of truth. Written in the same transaction as
    the last messages read before it, so it never runs ahead of the ledger."""

    __tablename__ = "mailbox_cursors"

    backend: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column()


class Heartbeat(Base):
    """The service's one row of vital signs, for `masp status` and `masp health`: when it last
    read the mailbox and ran its jobs, and the last failure of the mail server on each side.

    A failure stays until the same side next succeeds, so a refused login is still seen by a
    monitor that looks minutes later."""

    __tablename__ = "heartbeat"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The last poll that read the mailbox to the end, and the last pass of the due jobs.
    last_poll_at: Mapped[datetime | None] = mapped_column()
    last_tick_at: Mapped[datetime | None] = mapped_column()
    # The mailbox (reading) and the mail server (sending): "login" when it refused the
    # service's credentials, "failure" otherwise; the message says what to check.
    mailbox_error_kind: Mapped[str | None] = mapped_column(String(16))
    mailbox_error: Mapped[str | None] = mapped_column(Text)
    mailbox_error_at: Mapped[datetime | None] = mapped_column()
    send_error_kind: Mapped[str | None] = mapped_column(String(16))
    send_error: Mapped[str | None] = mapped_column(Text)
    send_error_at: Mapped[datetime | None] = mapped_column()
    # Which worker ("host:pid") holds the mailbox and polls it, as of its last poll.
    poller: Mapped[str | None] = mapped_column(String(200))


class WebUser(Base):
    """A person who may sign in to the console (`masp web`): a local account with an argon2
    hash of its password, or someone Entra ID signed in (no password here)."""

    __tablename__ = "web_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Lower case: one account per address, however it is typed.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    # administrator | chair | service_manager | member (config.WebRole).
    role: Mapped[str] = mapped_column(String(24))
    # local | entra
    source: Mapped[str] = mapped_column(String(16), default="local")
    password_hash: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column()
    last_sign_in_at: Mapped[datetime | None] = mapped_column()


class WebSession(Base):
    """One signed-in browser. The cookie holds a random token; only its SHA-256 is kept here, so
    signing out, a removed account or an idle timeout ends the session on the server."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("web_users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column()
    # The last request, to the minute (see pipeline.web.users.session_user).
    seen_at: Mapped[datetime] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()


class SignInAttempt(Base):
    """One try at a password, right or wrong: what throttles guessing, per account and per
    client address."""

    __tablename__ = "web_sign_ins"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    email: Mapped[str] = mapped_column(String(320), index=True)
    client: Mapped[str] = mapped_column(String(64), index=True)
    succeeded: Mapped[bool] = mapped_column(Boolean)


# The flag of a case whose working copies the retention purge deleted (its emails' status is
# then MessageState.PURGED, the same string).
PURGED = "purged"

__all__ = [
    "PURGED",
    "Action",
    "AuditEvent",
    "Base",
    "Case",
    "Conversion",
    "Counter",
    "Decision",
    "DecisionImport",
    "DecisionSheet",
    "Document",
    "FollowUp",
    "Heartbeat",
    "JobRun",
    "MailboxCursor",
    "MeetingWorkbook",
    "Message",
    "OutboxItem",
    "OutboxRecipient",
    "Pack",
    "PackRelease",
    "PackSend",
    "ScreeningRequest",
    "SignInAttempt",
    "Slot",
    "UTCDateTime",
    "WebSession",
    "WebUser",
]
