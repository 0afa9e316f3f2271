"""Loads `config.yaml` once at start-up into frozen, validated objects.

Every error names the key that is wrong (exit status 2). Secrets may come from the
environment instead of the file: see `SECRET_ENV` below, and `secret_values` for the files a
secret may be read from (`*_FILE`, systemd's credentials).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from dateutil.rrule import rrulestr
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from pipeline.errors import ConfigError

# Environment variables that override secrets in the file, so passwords need not be in it.
# Each has a `_FILE` twin naming a file that holds the secret (MASP_IMAP_PASSWORD_FILE), and
# under systemd a credential of the variable's name in lower case (masp_imap_password, see
# deploy/masp.service) is read from $CREDENTIALS_DIRECTORY.
SECRET_ENV: dict[str, tuple[str, ...]] = {
    "MASP_IMAP_PASSWORD": ("mailbox", "imap", "password"),
    "MASP_SMTP_PASSWORD": ("mailbox", "smtp", "password"),
    "MASP_OAUTH_CLIENT_SECRET": ("mailbox", "oauth", "client_secret"),
    "MASP_EWS_PASSWORD": ("mailbox", "ews", "password"),
    "MASP_SIGNING_KEY": ("security", "signing_key"),
    "MASP_DATABASE": ("database",),
    "MASP_WEB_SESSION_SECRET": ("web", "session_secret"),
    "MASP_WEB_OIDC_CLIENT_SECRET": ("web", "oidc", "client_secret"),
}

Email = Annotated[str, Field(pattern=r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")]
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _one_line(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError(
            "must be one line of plain text, without line breaks or control characters"
        )
    return value.strip()


# The Government Security Classification for personal data about children.
DEFAULT_MARKING = "OFFICIAL-SENSITIVE"
# One line of printable text, trimmed: what a document header, a calendar field or an email
# line can carry as it is.
OneLine = AfterValidator(_one_line)


class Frozen(BaseModel):
    """Base for every config section: immutable, and unknown keys are an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")


# How a back-end signs in: a password, or an OAuth 2.0 token from Microsoft Entra ID
# (`mailbox.oauth`), which Exchange Online requires (SASL XOAUTH2 for IMAP and SMTP).
Auth = Literal["password", "oauth2"]


class ImapConfig(Frozen):
    auth: Auth = "password"
    host: str = "127.0.0.1"
    port: int = Field(993, ge=1, le=65535)
    security: Literal["ssl", "starttls", "none"] = "ssl"
    username: str = ""
    password: str = ""
    folder: str = "INBOX"
    processed_folder: str = "Processed"
    idle_seconds: int = Field(300, ge=10, le=1740)


class SmtpConfig(Frozen):
    auth: Auth = "password"
    host: str = "127.0.0.1"
    port: int = Field(587, ge=1, le=65535)
    security: Literal["ssl", "starttls", "none"] = "starttls"
    username: str | None = None
    password: str | None = None
    timeout_seconds: float = Field(30.0, gt=0)


class MaildirConfig(Frozen):
    inbox: str = "var/mail/inbox"
    processed: str = "var/mail/processed"
    sent: str = "var/mail/sent"


class OAuthConfig(Frozen):
    """The service's own app registration in Microsoft Entra ID (client credentials): used by
    `graph`, and by `imap`/`smtp` with `auth: oauth2`."""

    tenant_id: str = ""
    client_id: str = ""
    # A client secret, or better a certificate (PEM with its private key) and its thumbprint.
    client_secret: str = ""
    certificate_file: str = ""
    certificate_thumbprint: str = ""
    # Where tokens come from; only a test points it elsewhere.
    authority_host: str = "https://login.microsoftonline.com"
    # A CA bundle (PEM) to trust for Microsoft's endpoints, e.g. behind a council proxy that
    # re-signs TLS; empty: the system's.
    ca_file: str = ""


class GraphConfig(Frozen):
    # The panel mailbox the app reads and sends as (its address).
    mailbox: str = ""
    folder: str = "Inbox"
    processed_folder: str = "Processed"
    # Microsoft Graph's address; only a test points it elsewhere.
    base_url: str = "https://graph.microsoft.com/v1.0"


class EwsConfig(Frozen):
    # The EWS endpoint, e.g. https://mail.council.example/EWS/Exchange.asmx (no autodiscover).
    server: str = ""
    auth: Literal["ntlm", "kerberos", "oauth2", "basic"] = "ntlm"
    username: str = ""
    password: str = ""
    folder: str = "Inbox"
    processed_folder: str = "Processed"
    # A CA bundle (PEM) to trust for the server's certificate (a council's own CA); empty: the
    # system's.
    ca_file: str = ""
    # The Exchange Server release, so the service never has to probe for it.
    version: Literal["2013", "2016", "2019"] = "2016"
    # How long to wait for an answer, and at most how long to back off when the server says
    # it is busy (EWS throttling), before giving up until the next poll.
    timeout_seconds: float = Field(60.0, gt=0)
    max_wait_seconds: float = Field(60.0, ge=0, le=900)


class MailboxConfig(Frozen):
    backend: Literal["imap", "graph", "ews", "maildir"] = "maildir"
    address: Email = "panel@example.org"
    display_name: str = "Multi Agency Support Panel"
    poll_interval_seconds: int = Field(60, ge=5)
    imap: ImapConfig = ImapConfig()
    smtp: SmtpConfig = SmtpConfig()
    maildir: MaildirConfig = MaildirConfig()
    oauth: OAuthConfig = OAuthConfig()
    graph: GraphConfig = GraphConfig()
    ews: EwsConfig = EwsConfig()


class MeetingsConfig(Frozen):
    rrule: str
    time: dt.time
    add: tuple[dt.date, ...] = ()
    cancel: tuple[dt.date, ...] = ()
    # Where the panel meets; the timeslot invitation's LOCATION. Empty: not said.
    place: Annotated[str, Field(max_length=200), OneLine] = ""

    @field_validator("rrule")
    @classmethod
    def _valid_rrule(cls, value: str) -> str:
        try:
            rrulestr(value)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"not a valid RFC 5545 RRULE ({exc})") from exc
        return value


class DeadlineConfig(Frozen):
    days_before: int = Field(7, ge=0, le=60)
    time: dt.time = dt.time(12, 0)


class SlotBreak(Frozen):
    at: dt.time
    minutes: int = Field(15, ge=1, le=240)


class SlotsConfig(Frozen):
    start: dt.time | None = None
    length_minutes: int = Field(30, ge=5, le=240)
    breaks: tuple[SlotBreak, ...] = ()


def _lower_addresses(value: Any) -> Any:
    # Addresses are compared in lower case: "MASG-North@Example.org" in the file is the same.
    if isinstance(value, list | tuple):
        return [v.strip().lower() if isinstance(v, str) else v for v in value]
    return value


class PanelConfig(Frozen):
    id: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,30}$")
    name: str
    reference_prefix: str | None = Field(None, pattern=r"^[A-Z][A-Z0-9]{1,9}$")
    locality: str | None = None
    meetings: MeetingsConfig
    deadline: DeadlineConfig = DeadlineConfig()
    slot_notice_days: int = Field(5, ge=0, le=30, validate_default=True)
    slots: SlotsConfig = SlotsConfig()
    # The first meeting of each calendar quarter carries the previous quarter's picture (R15).
    quarterly: bool = True
    # The panel's own people; what it leaves out is the installation's `people`.
    # A factory: the class is declared below, beside the installation's `PeopleConfig`.
    people: PanelPeopleConfig = Field(default_factory=lambda: PanelPeopleConfig())
    # A folder of templates that replace `mail_templates/` files of the same name for this
    # panel's emails (checked at start-up, see `templates.Templates.for_config`).
    templates: str | None = None
    # Other addresses of the shared mailbox (aliases) that mean this panel when mail is sent
    # to them; `mailbox.address` with `+<id>` (panel+masg-north@…) means it too.
    addresses: tuple[Email, ...] = ()

    @field_validator("addresses", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return _lower_addresses(value)

    @field_validator("slot_notice_days")
    @classmethod
    def _notice_after_deadline(cls, value: int, info: ValidationInfo) -> int:
        # Timeslots go to the cases on the agenda once the deadline has settled who is on it:
        # a notice before the deadline would miss every case completed after it, and a notice
        # at the meeting's own time would never go at all.
        meetings, deadline = info.data.get("meetings"), info.data.get("deadline")
        if not isinstance(meetings, MeetingsConfig) or not isinstance(deadline, DeadlineConfig):
            return value
        notice = (-value, meetings.time)
        if value < 1 or notice <= (-deadline.days_before, deadline.time):
            raise ValueError(
                f"the timeslot notice ({value} days before the meeting, at its time "
                f"{meetings.time:%H:%M}) must come after the document deadline "
                f"({deadline.days_before} days before, at {deadline.time:%H:%M}) and before "
                "the meeting: slot_notice_days must be at least 1 and fewer than "
                "deadline.days_before (or the same, when meetings start later in the day than "
                "the deadline)"
            )
        return value

    @property
    def prefix(self) -> str:
        return self.reference_prefix or self.id.upper().replace("-", "").replace("_", "")[:10]


class Person(Frozen):
    name: str
    email: Email


class Member(Person):
    agency: str = ""
    role: Literal["core", "co-opted"] = "core"


class PeopleConfig(Frozen):
    administrator: Person
    chair: Person
    service_managers: tuple[Person, ...] = ()
    members: tuple[Member, ...] = ()
    # The resource panel's contact: receives LARP recommendations with the case papers (R13).
    larp: Person | None = None
    # A MASG's CAF (Early Help) co-ordinator: screens its referrals beside any Service Managers
    # and receives its agenda and pack.
    caf_coordinator: Person | None = None

    @property
    def screeners(self) -> tuple[Person, ...]:
        """Who screens (R9): the Service Managers, then the CAF co-ordinator; each address once."""
        found = [*self.service_managers, *([self.caf_coordinator] if self.caf_coordinator else [])]
        unique: dict[str, Person] = {}
        for person in found:
            unique.setdefault(person.email.lower(), person)
        return tuple(unique.values())


class PanelPeopleConfig(Frozen):
    """A panel's own people. Each key left out (null) is the installation's (`people`): an
    empty list given here means nobody, not the installation's list."""

    administrator: Person | None = None
    chair: Person | None = None
    service_managers: tuple[Person, ...] | None = None
    members: tuple[Member, ...] | None = None
    larp: Person | None = None
    caf_coordinator: Person | None = None


class LimitsConfig(Frozen):
    max_email_bytes: int = Field(35_000_000, ge=10_000)
    max_attachment_bytes: int = Field(20_000_000, ge=1_000)
    max_attachments: int = Field(40, ge=1)
    max_sends_per_recipient_per_hour: int = Field(20, ge=1)
    max_sends_per_case_per_day: int = Field(30, ge=1)
    max_unsolicited_alerts_per_hour: int = Field(5, ge=1)
    send_attempts: int = Field(8, ge=1)
    allowed_recipient_domains: tuple[str, ...] = ()
    parse_seconds: float = Field(30, gt=0)
    # Declared after parse_seconds, which its check reads.
    email_seconds: float = Field(60, gt=0)
    parse_memory_mb: int = Field(1024, ge=128)
    max_pdf_pages: int = Field(500, ge=1)
    readers: int = Field(1, ge=1)

    @field_validator("readers")
    @classmethod
    def _readers_fit_the_machine(cls, value: int) -> int:
        # Each reader is a process of about 100 MB that keeps one core busy: past two per
        # processor they only queue for the same cores and cost memory.
        most = 2 * (os.cpu_count() or 1)
        if value > most:
            raise ValueError(f"must be at most {most} (twice this machine's processors)")
        return value

    @field_validator("email_seconds")
    @classmethod
    def _budget_fits_a_file(cls, value: float, info: ValidationInfo) -> float:
        # Below one file's own limit, the budget would quietly become every file's limit.
        parse_seconds = info.data.get("parse_seconds")
        if parse_seconds is not None and value < parse_seconds:
            raise ValueError(f"must be at least limits.parse_seconds ({parse_seconds:g})")
        return value


class RemindersConfig(Frozen):
    hours_before: tuple[int, ...] = (72, 24)
    deadline_day_time: dt.time | None = dt.time(9, 0)


class ScreeningConfig(Frozen):
    unscreened: Literal["hold", "list"] = "hold"
    reminder_hours: int = Field(48, ge=1)


class PackConfig(Frozen):
    max_email_bytes: int = Field(20_000_000, ge=100_000)
    soffice: str = "soffice"
    convert_seconds: float = Field(120.0, gt=0)
    # The Government Security Classification marking printed on agendas and packs.
    protective_marking: Annotated[str, Field(max_length=80), OneLine] = DEFAULT_MARKING

    @field_validator("protective_marking")
    @classmethod
    def _marking_given(cls, value: str) -> str:
        if not value:
            raise ValueError("must not be empty: documents about children carry a marking")
        return value

    convert_memory_mb: int = Field(2048, ge=256)
    # auto: each meeting's pack goes by itself once the slot notices have gone (R12); manual:
    # it waits until the administrator says the agenda is final (`masp meeting release`).
    release: Literal["auto", "manual"] = "auto"


# The agencies the decisions workbook offers in its drop-down lists (others may be typed).
DEFAULT_AGENCIES = (
    "Children's Social Care",
    "Early Help",
    "Education",
    "Health",
    "Police",
    "Housing",
    "Youth Justice",
    "Voluntary sector",
)


class DecisionsConfig(Frozen):
    agencies: tuple[Annotated[str, Field(min_length=1, max_length=80), OneLine], ...] = (
        DEFAULT_AGENCIES
    )
    sheet_days: int = Field(7, ge=1, le=28)
    chase_days: tuple[int, ...] = (3, 6)
    follow_up_weeks: int = Field(12, ge=1, le=104)
    follow_up_reminder_days: int = Field(14, ge=1, le=90)

    @field_validator("chase_days")
    @classmethod
    def _chase_in_time(cls, value: tuple[int, ...], info: ValidationInfo) -> tuple[int, ...]:
        # A chase on or after the day the sheets are due is too late to help the referrer.
        days = info.data.get("sheet_days")
        if any(day < 1 or (days is not None and day >= days) for day in value):
            raise ValueError(
                f"each chase day must be at least 1 and before decisions.sheet_days ({days})"
            )
        return tuple(sorted(set(value)))


class RetentionConfig(Frozen):
    working_copies_days: int = Field(400, ge=1)
    quarantine_days: int = Field(90, ge=1)


# A domain name (no @, at least one dot): how `intake.shared_mail_domains` entries are checked.
Domain = Annotated[str, Field(pattern=r"^([a-z0-9-]{1,63}\.)+[a-z]{2,63}$", max_length=253)]


class IntakeConfig(Frozen):
    reference_from_referrer_domain: bool = False
    shared_mail_domains: tuple[Domain, ...] = ()

    @field_validator("shared_mail_domains", mode="before")
    @classmethod
    def _lower_case(cls, value: Any) -> Any:
        # Domains are case-insensitive: "NHS.net" in the file means nhs.net.
        if isinstance(value, list | tuple):
            return [v.strip().lower() if isinstance(v, str) else v for v in value]
        return value


class SecurityConfig(Frozen):
    signing_key: str = ""


# The console's roles (`masp web`): administrator (everything), chair (reads, agenda, quarterly),
# service_manager (the cases they are asked to screen), member (their own packs).
WebRole = Literal["administrator", "chair", "service_manager", "member"]


class OidcConfig(Frozen):
    """Single sign-on with Microsoft Entra ID (OpenID Connect, authorization code and PKCE)."""

    enabled: bool = False
    tenant_id: str = ""
    client_id: str = ""
    client_secret: str = ""
    authority_host: str = "https://login.microsoftonline.com"
    # A CA bundle to trust for the authority (a test's stand-in); empty: the system's.
    ca_file: str = ""
    # Each person's role by email address; someone not listed takes the role in their token's
    # `roles` claim (the app roles assigned in Entra ID), or is refused.
    roles: dict[str, WebRole] = {}

    @field_validator("roles", mode="before")
    @classmethod
    def _lower_emails(cls, value: Any) -> Any:
        # Addresses are matched without regard to case.
        if isinstance(value, dict):
            return {str(k).strip().lower(): v for k, v in value.items()}
        return value


class WebConfig(Frozen):
    """The administrator's console, `masp web`."""

    # Empty: generated once into data_dir/web-session.key (owner-only).
    session_secret: str = ""
    session_minutes: int = Field(30, ge=1, le=24 * 60)
    behind_tls: bool = False
    # The address people reach the console at (https://masp.example.gov.uk), for Entra ID's
    # redirect; empty: taken from each request (fine on 127.0.0.1).
    public_url: str = ""
    local_users: bool = True
    max_failed_sign_ins: int = Field(10, ge=1, le=1000)
    throttle_minutes: int = Field(15, ge=1, le=24 * 60)
    oidc: OidcConfig = OidcConfig()


class HealthConfig(Frozen):
    """When `masp health` calls the service unwell (exit status 1)."""

    # Polling has stopped once this many poll intervals pass without a successful poll.
    missed_polls: int = Field(3, ge=1, le=1000)
    # The outbox is stuck once its oldest email waiting to go is older than this.
    outbox_stuck_minutes: int = Field(60, ge=1)
    # Time-based jobs have stopped once no tick has run for this long (`masp run` ticks every
    # minute; a cron set-up must run `masp tick` at least this often).
    tick_stale_minutes: int = Field(10, ge=2, le=1440)


class LoggingConfig(Frozen):
    # json: one JSON object a line (for journald or a log collector), with the case
    # reference as a field when a line is about a case.
    format: Literal["text", "json"] = "text"


class Config(Frozen):
    """The whole configuration; `base_dir` is the folder relative paths are read from."""

    timezone: str = "Europe/London"
    data_dir: str = "var"
    database: str = ""
    mailbox: MailboxConfig = MailboxConfig()
    panels: tuple[PanelConfig, ...]
    people: PeopleConfig
    limits: LimitsConfig = LimitsConfig()
    intake: IntakeConfig = IntakeConfig()
    reminders: RemindersConfig = RemindersConfig()
    screening: ScreeningConfig = ScreeningConfig()
    pack: PackConfig = PackConfig()
    decisions: DecisionsConfig = DecisionsConfig()
    retention: RetentionConfig = RetentionConfig()
    security: SecurityConfig = SecurityConfig()
    health: HealthConfig = HealthConfig()
    logging: LoggingConfig = LoggingConfig()
    web: WebConfig = WebConfig()
    base_dir: str = "."

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("panels")
    @classmethod
    def _unique_panels(cls, value: tuple[PanelConfig, ...]) -> tuple[PanelConfig, ...]:
        if not value:
            raise ValueError("at least one panel is needed")
        ids = [p.id for p in value]
        if len(set(ids)) != len(ids):
            raise ValueError("panel ids must be unique")
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def path(self, value: str) -> Path:
        """A configured path, resolved against the config file's folder."""
        p = Path(value).expanduser()
        return p if p.is_absolute() else Path(self.base_dir) / p

    @property
    def data_path(self) -> Path:
        return self.path(self.data_dir)

    @property
    def database_url(self) -> str:
        return self.database or f"sqlite:///{self.data_path / 'masp.sqlite'}"

    def panel(self, panel_id: str) -> PanelConfig:
        for p in self.panels:
            if p.id == panel_id:
                return p
        raise ConfigError("panels", f"no panel with id {panel_id!r}")

    def people_of(self, panel_id: str | None) -> PeopleConfig:
        """The people of one panel: each key the panel gives (`panels[].people`), else the
        installation's (`people`). No panel, or one no longer configured: the installation's."""
        own = next((p.people for p in self.panels if p.id == panel_id), None)
        if own is None:
            return self.people
        given = {
            key: value
            for key in PanelPeopleConfig.model_fields
            if (value := getattr(own, key)) is not None
        }
        return self.people.model_copy(update=given) if given else self.people

    def everyone(self) -> list[PeopleConfig]:
        """The installation's people and each panel's: everyone who may be written to."""
        return [self.people, *(self.people_of(p.id) for p in self.panels)]


def _set_path(tree: dict[str, Any], keys: tuple[str, ...], value: str) -> None:
    node = tree
    for key in keys[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child
    node[keys[-1]] = value


def key_name(loc: tuple[str | int, ...]) -> str:
    """A key as the file spells it, list positions in brackets: `panels[1].addresses[0]`."""
    key = ""
    for part in loc:
        key += f"[{part}]" if isinstance(part, int) else f".{part}" if key else str(part)
    return key or "(top level)"


def _describe(error: Any) -> tuple[str, str]:
    return key_name(tuple(error["loc"])), str(error["msg"])


def _check_addresses(config: Config) -> None:
    """Each alias means one panel, and none is the shared inbox itself or names another
    panel's plus address: otherwise where its mail goes would be a guess."""
    inbox = config.mailbox.address.lower()
    local, _, domain = inbox.partition("@")
    seen: dict[str, str] = {}
    for i, panel in enumerate(config.panels):
        for j, address in enumerate(panel.addresses):
            key = key_name(("panels", i, "addresses", j))
            if address == inbox:
                raise ConfigError(key, f"{address} is mailbox.address, the shared inbox itself")
            name, _, at = address.partition("@")
            if at == domain and name.startswith(f"{local}+"):
                raise ConfigError(
                    key,
                    f"{address} is a plus address of mailbox.address: it already means "
                    f"the panel whose id follows the '+'",
                )
            if address in seen:
                raise ConfigError(key, f"{address} is already an address of panel {seen[address]}")
            seen[address] = panel.id


def _read_secret(path: Path, key: str) -> str:
    """A secret file's text without its trailing newline (what `echo` or an editor leaves)."""
    try:
        value = path.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise ConfigError(key, f"cannot read the secret file {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(key, f"the secret file {path} is not UTF-8 text") from exc
    if not value:
        raise ConfigError(key, f"the secret file {path} is empty")
    return value


def secret_values(env: Mapping[str, str]) -> dict[str, str]:
    """Each secret given outside the config file, by its variable's name.

    In order: the variable itself (MASP_IMAP_PASSWORD), a file it names (MASP_IMAP_PASSWORD_FILE),
    then systemd's credential (`LoadCredential=`) $CREDENTIALS_DIRECTORY/masp_imap_password.
    A variable and its `_FILE` twin both set is an error: which one is meant would be a guess.
    """
    found: dict[str, str] = {}
    credentials = env.get("CREDENTIALS_DIRECTORY")
    for var in SECRET_ENV:
        value, file = env.get(var), env.get(f"{var}_FILE")
        if value and file:
            raise ConfigError(var, f"set {var} or {var}_FILE, not both")
        if value:
            found[var] = value
        elif file:
            found[var] = _read_secret(Path(file), f"{var}_FILE")
        elif credentials and (Path(credentials) / var.lower()).is_file():
            found[var] = _read_secret(Path(credentials) / var.lower(), var)
    return found


def parse_config(raw: Any, base_dir: Path, env: Mapping[str, str] | None = None) -> Config:
    """Validate a YAML tree (plus secrets from `env`, see `secret_values`) into a Config."""
    if not isinstance(raw, dict):
        raise ConfigError("(top level)", "the file must be a YAML mapping of keys to values")
    tree = dict(raw)
    for var, value in secret_values(os.environ if env is None else env).items():
        _set_path(tree, SECRET_ENV[var], value)
    tree["base_dir"] = str(base_dir)
    try:
        config = Config.model_validate(tree)
    except ValidationError as exc:
        key, message = _describe(exc.errors()[0])
        raise ConfigError(key, message) from exc
    _check_addresses(config)
    return config


def load_config(path: Path) -> Config:
    """Read and validate the config file at `path`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError("--config", f"cannot read {path}: {exc.strerror}") from exc
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError("(file)", f"{path} is not valid YAML: {exc}") from exc
    return parse_config(raw, path.resolve().parent)
