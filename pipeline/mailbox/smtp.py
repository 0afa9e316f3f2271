"""SMTP sender: hands rendered mail to the relay over one connection kept open between sends."""

from __future__ import annotations

import logging
import smtplib
import socket
import ssl
from collections.abc import Sequence

from pipeline.config import SmtpConfig
from pipeline.errors import MailboxError, PartialDelivery, SendError, Unsendable
from pipeline.mailbox.oauth import TokenProvider, refused_token_message, xoauth2

log = logging.getLogger(__name__)

CHECK_SERVER = "mailbox.smtp.host, mailbox.smtp.port and mailbox.smtp.security"
CHECK_LOGIN = "mailbox.smtp.username and mailbox.smtp.password"
# What Exchange Online needs before it takes the app's token to send as a mailbox.
SMTP_PERMISSION = "SMTP.SendAsApp"
# "Authentication credentials invalid" (RFC 4954): the token itself was refused.
BAD_CREDENTIALS = 535
# A kept-open connection the server has dropped shows up as one of these on the next command.
DROPPED = (smtplib.SMTPServerDisconnected, ConnectionError, TimeoutError)


class SmtpSender:
    """Sends raw messages through the configured SMTP server, reconnecting once if it dropped us."""

    name = "smtp"

    def __init__(
        self, cfg: SmtpConfig, *, tokens: TokenProvider | None = None, address: str = ""
    ) -> None:
        """`tokens` and `address` (the mailbox's address, the login when `cfg.username` is
        empty) are for `auth: oauth2`; a password login needs neither."""
        self._cfg = cfg
        self._tokens = tokens
        self._user = cfg.username or address
        self._conn: smtplib.SMTP | None = None
        self._starttls_offered = False

    def send(self, raw: bytes, sender: str, recipients: Sequence[str]) -> None:
        """Deliver `raw` unchanged to `recipients`; raise SendError if it may not be accepted."""
        if not recipients:
            raise Unsendable("the message has no recipients, so there is nothing to send")
        try:
            refused = self._send_retrying(raw, sender, list(recipients))
        except Unsendable:
            self.close()
            raise
        except (UnicodeError, ValueError) as exc:
            # Whatever smtplib could not put on the wire; the connection may be mid-way
            # through a transaction, so it is closed, and this email alone fails.
            self.close()
            raise Unsendable(
                f"the email could not be written to the SMTP server at {self._where()} "
                f"({type(exc).__name__})",
                _not_ascii(sender, recipients),
            ) from exc
        except MailboxError as exc:
            # Entra ID refused the app a token: nothing can be sent until someone fixes it.
            self.close()
            raise SendError(str(exc), login_refused=exc.login_refused) from exc
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            raise SendError(
                self._explain(exc),
                temporary=not _permanent(exc),
                refused=_refused(exc),
                login_refused=isinstance(exc, smtplib.SMTPAuthenticationError),
            ) from exc
        if refused:
            # Some recipients accepted it: say how many were refused, never who (no addresses).
            # Sending again would duplicate it for the others, so this counts as sent.
            raise PartialDelivery(
                f"the SMTP server at {self._where()} refused {len(refused)} of "
                f"{len(recipients)} recipient(s); the others accepted the message",
                tuple(refused),
            )

    def _send_retrying(self, raw: bytes, sender: str, recipients: list[str]) -> dict[str, object]:
        reused = self._conn is not None
        try:
            return self._send_once(raw, sender, recipients)
        except DROPPED:
            # Only a reused connection is worth one more try: the server may have timed it out.
            # A fresh one that fails means the server is down, and retrying would only wait twice.
            self.close()
            if not reused:
                raise
            log.info("SMTP connection to %s was dropped; reconnecting once", self._where())
        return self._send_once(raw, sender, recipients)

    def _send_once(self, raw: bytes, sender: str, recipients: list[str]) -> dict[str, object]:
        conn = self._connection()
        options = self._mail_options(conn, raw, sender, recipients)
        refused = conn.sendmail(sender, recipients, raw, mail_options=options)
        return dict(refused)

    def _mail_options(
        self, conn: smtplib.SMTP, raw: bytes, sender: str, recipients: list[str]
    ) -> list[str]:
        """SMTPUTF8 (RFC 6531) when an address or a header is not plain ASCII.

        A server that does not offer it cannot carry such an email at all: it fails alone,
        at once, instead of stopping every email queued after it.
        """
        if raw.isascii() and not _not_ascii(sender, recipients):
            return []
        if not conn.has_extn("smtputf8"):
            raise Unsendable(
                f"the SMTP server at {self._where()} does not offer SMTPUTF8, which an email "
                "to an address with letters beyond plain ASCII needs",
                _not_ascii(sender, recipients),
            )
        return ["SMTPUTF8", "BODY=8BITMIME"] if conn.has_extn("8bitmime") else ["SMTPUTF8"]

    def close(self) -> None:
        """Say QUIT if the server still listens; forget the connection either way."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.quit()
        except (smtplib.SMTPException, OSError):
            conn.close()

    def describe(self) -> list[str]:
        """Plain-English facts for `masp check-config`: server, EHLO features, login."""
        try:
            conn = self._connection()
        except MailboxError as exc:
            self.close()
            raise SendError(str(exc)) from exc
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            raise SendError(self._explain(exc)) from exc
        return self._facts(conn)

    def _facts(self, conn: smtplib.SMTP) -> list[str]:
        cfg = self._cfg
        features = conn.esmtp_features
        if cfg.auth == "oauth2" and self._tokens is not None:
            tenant = self._tokens.config.tenant_id
            login = f"signed in as {self._user} with the app's OAuth 2.0 token (tenant {tenant})"
        else:
            login = "login succeeded" if cfg.username else "no login configured"
        if cfg.security == "starttls":
            starttls = "in use"
        else:
            starttls = "offered" if "starttls" in features else "not offered"
        size = features.get("size", "").strip()
        return [
            f"SMTP server {self._where()} (security: {cfg.security}); connected, {login}",
            f"EHLO features: {', '.join(sorted(f.upper() for f in features)) or 'none'}",
            f"STARTTLS: {starttls}",
            f"AUTH mechanisms: {features.get('auth', '').strip() or 'none offered'}",
            f"SIZE limit: {size + ' bytes' if size and size != '0' else 'none announced'}",
        ]

    def _connection(self) -> smtplib.SMTP:
        if self._conn is None:
            self._conn = self._open()
        return self._conn

    def _open(self) -> smtplib.SMTP:
        cfg = self._cfg
        context = ssl.create_default_context()
        # gethostname, not smtplib's default getfqdn, which may stall on a reverse DNS lookup.
        helo = socket.gethostname() or "localhost"
        conn: smtplib.SMTP
        if cfg.security == "ssl":
            conn = smtplib.SMTP_SSL(
                cfg.host, cfg.port, helo, timeout=cfg.timeout_seconds, context=context
            )
        else:
            conn = smtplib.SMTP(cfg.host, cfg.port, helo, timeout=cfg.timeout_seconds)
        try:
            self._greet(conn, context)
        except BaseException:
            conn.close()
            raise
        return conn

    def _greet(self, conn: smtplib.SMTP, context: ssl.SSLContext) -> None:
        conn.ehlo()
        if self._cfg.security == "starttls":
            conn.starttls(context=context)
            # The features seen before TLS may not be trusted, so ask again over TLS.
            conn.ehlo()
        if self._cfg.auth == "oauth2":
            self._login_oauth(conn)
        elif self._cfg.username:
            conn.login(self._cfg.username, self._cfg.password or "")

    def _login_oauth(self, conn: smtplib.SMTP) -> None:
        """AUTH XOAUTH2 with the app's own token; a refused token once more with a new one."""
        tokens = self._tokens
        if tokens is None or not self._user:
            raise SendError(
                "mailbox.smtp.auth is oauth2, which needs mailbox.oauth (the app registration) "
                "and mailbox.address (or mailbox.smtp.username)"
            )
        for attempt in (1, 2):
            token = tokens.token()
            try:
                _auth_xoauth2(conn, self._user, token)
                return
            except smtplib.SMTPAuthenticationError as exc:
                if exc.smtp_code != BAD_CREDENTIALS:
                    raise
                # Expired early or revoked: msal would hand out the same token, so drop it.
                tokens.forget()
                if attempt == 1:
                    log.info("the SMTP server refused the app's token; asking for a new one")
        raise _TokenRefused()

    def _explain(self, exc: BaseException) -> str:
        if isinstance(exc, _TokenRefused) and self._tokens is not None:
            where, user = self._where(), self._user
            return refused_token_message("SMTP", where, self._tokens, SMTP_PERMISSION, user)
        return _explain(exc, self._where())

    def _where(self) -> str:
        return f"{self._cfg.host}:{self._cfg.port}"


class _TokenRefused(smtplib.SMTPAuthenticationError, SendError):
    """The server refused the app's token twice, a fresh one included: an authentication
    failure as smtplib reports one (so it is judged like any), and one of ours."""

    def __init__(self) -> None:
        smtplib.SMTPAuthenticationError.__init__(
            self, BAD_CREDENTIALS, b"the OAuth 2.0 token was refused twice"
        )
        self.reference, self.temporary, self.refused = None, True, ()
        self.login_refused = True


def _auth_xoauth2(conn: smtplib.SMTP, user: str, token: str) -> None:
    """AUTH XOAUTH2 with the initial response on the command line.

    smtplib calls the auth object with no challenge for the initial response, then with each
    334 challenge: after a refused token the server sends its error (JSON) as a challenge and
    wants an empty line back before it answers 535.
    """

    def answer(challenge: bytes | None = None) -> str:
        return xoauth2(user, token) if challenge is None else ""

    conn.auth("XOAUTH2", answer, initial_response_ok=True)


def _not_ascii(sender: str, recipients: Sequence[str]) -> tuple[str, ...]:
    """The addresses (recipients first) that need SMTPUTF8."""
    return tuple(a for a in (*recipients, sender) if not a.isascii())


def _refused(exc: BaseException) -> tuple[str, ...]:
    """The recipients a server refused outright (for the administrator, never the log)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return tuple(exc.recipients)
    return ()


def _permanent(exc: BaseException) -> bool:
    """A 5xx answer means the server will never take this email; anything else may pass later."""
    if isinstance(exc, _TokenRefused):
        # Not this email's fault: it waits (using up no attempt) until the grant is fixed.
        return False
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return bool(codes) and all(code >= 500 for code in codes)
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code >= 500
    return False


def _explain(exc: BaseException, where: str) -> str:
    """A plain sentence for the administrator, naming what to check; never an address."""
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return f"the SMTP server at {where} refused the login; check {CHECK_LOGIN}"
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return f"the SMTP server at {where} lacks a feature we need ({exc}); check {CHECK_SERVER}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return f"the SMTP server at {where} refused every recipient of the message"
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return f"the SMTP server at {where} refused the sender address; check mailbox.address"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"the SMTP server at {where} refused the message (reply code {exc.smtp_code})"
    kind = type(exc).__name__
    return f"could not talk to the SMTP server at {where} ({kind}); check {CHECK_SERVER}"
