"""ImapSource against a real Dovecot on loopback: O(new) fetch, flags untouched, moves, IDLE."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP

import pytest
from imap_tools import MailBoxUnencrypted, MailMessageFlags
from imap_tools.mailbox import BaseMailBox

from pipeline.errors import MailboxError
from pipeline.mailbox import imap as imap_module
from pipeline.mailbox.base import Location
from pipeline.mailbox.imap import ImapSource, parse_internaldate
from tests.servers import ImapAccount

pytestmark = pytest.mark.servers


def synthetic_message(n: int) -> bytes:
    """A made-up referral email with an old Date: header and a binary attachment."""
    msg = EmailMessage(policy=SMTP)
    msg["From"] = "Test Referrer <referrer@example.org>"
    msg["To"] = "panel@example.org"
    msg["Subject"] = f"Synthetic referral {n}"
    # Far from the receive time, so a test notices if received_at came from this header.
    msg["Date"] = "Mon, 01 Jan 2001 09:00:00 +0000"
    msg["Message-ID"] = f"<synthetic-{n}-{uuid.uuid4().hex}@example.org>"
    msg.set_content(f"Synthetic body {n}.\n.A line that starts with a dot.\n")
    blob = bytes(range(256)) * 8
    msg.add_attachment(blob, maintype="application", subtype="octet-stream", filename="x.bin")
    return msg.as_bytes()


def nothing_seen(folder: str, uidvalidity: int) -> int | None:
    return None


def nothing_known(loc: Location) -> bool:
    return False


def other_client(account: ImapAccount) -> BaseMailBox:
    """A second, independent IMAP session, standing in for a person reading the inbox."""
    box = MailBoxUnencrypted("127.0.0.1", account.server.imap_port, timeout=10)
    return box.login(account.user, account.password, initial_folder="INBOX")


def flags_by_uid(account: ImapAccount, folder: str = "INBOX") -> dict[str, tuple[str, ...]]:
    with other_client(account) as box:
        box.folder.set(folder)
        messages = box.fetch(mark_seen=False, headers_only=True, bulk=True)
        return {m.uid: m.flags for m in messages if m.uid is not None}


def deliver(account: ImapAccount, count: int) -> list[bytes]:
    raws = [synthetic_message(n) for n in range(count)]
    for raw in raws:
        account.deliver(raw)
    return raws


def test_fetch_new_yields_every_message_in_uid_order(imap_account: ImapAccount) -> None:
    raws = deliver(imap_account, 3)
    before = datetime.now(UTC) - timedelta(minutes=1)
    with ImapSource(imap_account.config) as source:
        got = list(source.fetch_new(nothing_seen, nothing_known))
    assert [m.location.uid for m in got] == ["1", "2", "3"]
    for message, raw in zip(got, raws, strict=True):
        assert message.location.backend == "imap"
        assert message.location.folder == "INBOX"
        # LMTP adds trace headers in front; everything the sender wrote must be intact.
        assert message.raw.endswith(raw)
        assert message.received_at is not None and message.received_at.tzinfo is UTC
        assert before <= message.received_at <= datetime.now(UTC) + timedelta(minutes=1)
    assert all(r"\Seen" not in flags for flags in flags_by_uid(imap_account).values())


def test_message_a_person_already_read_is_still_fetched(imap_account: ImapAccount) -> None:
    deliver(imap_account, 2)
    with other_client(imap_account) as box:
        box.flag(["1"], MailMessageFlags.SEEN, True)
    with ImapSource(imap_account.config) as source:
        got = list(source.fetch_new(nothing_seen, nothing_known))
    assert [m.location.uid for m in got] == ["1", "2"]
    assert r"\Seen" in flags_by_uid(imap_account)["1"]


def test_known_locations_are_not_fetched(imap_account: ImapAccount) -> None:
    deliver(imap_account, 3)
    with ImapSource(imap_account.config) as source:
        got = list(source.fetch_new(nothing_seen, lambda loc: loc.uid == "2"))
    assert [m.location.uid for m in got] == ["1", "3"]


def test_fetch_is_o_new(imap_account: ImapAccount, monkeypatch: pytest.MonkeyPatch) -> None:
    deliver(imap_account, 3)
    searches: list[object] = []
    real_uids = BaseMailBox.uids

    def counting_uids(self: BaseMailBox, *args: object, **kwargs: object) -> list[str]:
        searches.append(args[0] if args else kwargs.get("criteria"))
        return real_uids(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(BaseMailBox, "uids", counting_uids)
    with ImapSource(imap_account.config) as source:
        validity = next(iter(source.fetch_new(nothing_seen, nothing_known))).location.uidvalidity
        searches.clear()
        up_to_date = source.fetch_new(lambda f, v: 3 if v == validity else None, nothing_known)
        assert list(up_to_date) == []
        # UIDNEXT already said nothing is new, so the server was not even searched.
        assert searches == []
        extra = synthetic_message(99)
        imap_account.deliver(extra)
        got = list(source.fetch_new(lambda f, v: 3, nothing_known))
    assert [m.location.uid for m in got] == ["4"]
    assert got[0].raw.endswith(extra)
    assert searches == ["UID 4:*"]


def test_small_batches_keep_uid_order(
    imap_account: ImapAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    deliver(imap_account, 5)
    monkeypatch.setattr(imap_module, "FETCH_BATCH", 2)
    # Smaller than one message, so every FETCH carries exactly one message.
    monkeypatch.setattr(imap_module, "FETCH_BATCH_BYTES", 100)
    with ImapSource(imap_account.config) as source:
        got = list(source.fetch_new(nothing_seen, nothing_known))
    assert [m.location.uid for m in got] == ["1", "2", "3", "4", "5"]


def test_mark_processed_moves_only_current_uidvalidity(imap_account: ImapAccount) -> None:
    deliver(imap_account, 3)
    with ImapSource(imap_account.config) as source:
        assert "MOVE" in source.capabilities
        got = list(source.fetch_new(nothing_seen, nothing_known))
        first, second, third = (m.location for m in got)
        stale = Location("imap", "INBOX", third.uidvalidity + 1, third.uid)
        moved = source.mark_processed([first, second, stale])
        facts = source.describe()
    assert moved == [first, second]
    assert list(flags_by_uid(imap_account)) == ["3"]
    assert len(flags_by_uid(imap_account, "Processed")) == 2
    assert "Processed folder 'Processed' exists" in facts
    with other_client(imap_account) as box:
        assert "Processed" in [f.name for f in box.folder.list(subscribed_only=True)]


def test_mark_processed_without_move_uses_copy_and_uid_expunge(
    imap_account: ImapAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    deliver(imap_account, 3)
    with ImapSource(imap_account.config) as source:
        # Pretend the server lacks MOVE, to exercise the UIDPLUS path on a real server.
        monkeypatch.setattr(source, "_caps", source.capabilities - {"MOVE"})
        got = [m.location for m in source.fetch_new(nothing_seen, nothing_known)]
        with other_client(imap_account) as box:
            # A person's own \Deleted mark on another message must survive our expunge.
            # Raw STORE: imap-tools' flag() would expunge at once, which a person's client may not.
            box.client.uid("STORE", "3", "+FLAGS", r"(\Deleted)")
        assert source.mark_processed(got[:2]) == got[:2]
        assert source.mark_processed(got[:2]) == []
    assert list(flags_by_uid(imap_account)) == ["3"]
    assert len(flags_by_uid(imap_account, "Processed")) == 2


def test_uidvalidity_change_fetches_everything_again(imap_account: ImapAccount) -> None:
    deliver(imap_account, 2)

    def last_seen(folder: str, uidvalidity: int) -> int | None:
        return 2 if uidvalidity == old[0].uidvalidity else None

    # One session throughout: the change happens while the service is connected.
    with ImapSource(imap_account.config) as source:
        old = [m.location for m in source.fetch_new(nothing_seen, nothing_known)]
        new_validity = imap_account.force_uidvalidity_change()
        assert new_validity != old[0].uidvalidity
        got = list(source.fetch_new(last_seen, nothing_known))
        assert source.mark_processed(old) == []
    assert [m.location.uid for m in got] == ["1", "2"]
    assert {m.location.uidvalidity for m in got} == {new_validity}


def test_wait_for_mail_wakes_on_delivery(imap_account: ImapAccount) -> None:
    stop = threading.Event()
    timer = threading.Timer(0.5, imap_account.deliver, args=(synthetic_message(1),))
    with ImapSource(imap_account.config) as source:
        started = time.monotonic()
        timer.start()
        try:
            assert source.wait_for_mail(15, stop) is True
        finally:
            timer.join()
        assert time.monotonic() - started < 5


def test_wait_for_mail_notices_mail_that_came_after_the_last_fetch(
    imap_account: ImapAccount,
) -> None:
    with ImapSource(imap_account.config) as source:
        assert list(source.fetch_new(nothing_seen, nothing_known)) == []
        imap_account.deliver(synthetic_message(1))
        started = time.monotonic()
        assert source.wait_for_mail(15, threading.Event()) is True
        assert time.monotonic() - started < 2


def test_wait_for_mail_returns_false_on_stop_and_timeout(imap_account: ImapAccount) -> None:
    stop = threading.Event()
    with ImapSource(imap_account.config) as source:
        started = time.monotonic()
        assert source.wait_for_mail(1.2, stop) is False
        assert 1.1 <= time.monotonic() - started < 4
        timer = threading.Timer(0.3, stop.set)
        timer.start()
        started = time.monotonic()
        assert source.wait_for_mail(60, stop) is False
        timer.join()
        assert time.monotonic() - started < 3
        # The session is still usable after an interrupted IDLE.
        assert list(source.fetch_new(nothing_seen, nothing_known)) == []


def test_idle_is_renewed_before_the_server_limit(
    imap_account: ImapAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A 29-minute limit shrunk to 0.4 s: the mail arrives during the third or later IDLE.
    monkeypatch.setattr(imap_module, "IDLE_LIMIT_SECONDS", 0.4)
    idles: list[float] = []
    real_idle_once = ImapSource._idle_once

    def counting_idle_once(self: ImapSource, seconds: float, stop: threading.Event) -> bool:
        idles.append(seconds)
        return real_idle_once(self, seconds, stop)

    monkeypatch.setattr(ImapSource, "_idle_once", counting_idle_once)
    timer = threading.Timer(1.2, imap_account.deliver, args=(synthetic_message(1),))
    with ImapSource(imap_account.config) as source:
        timer.start()
        try:
            assert source.wait_for_mail(10, threading.Event()) is True
        finally:
            timer.join()
    assert len(idles) >= 3
    assert max(idles) <= 0.4


def test_without_idle_it_sleeps_until_timeout_or_stop(
    imap_account: ImapAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    stop = threading.Event()
    with ImapSource(imap_account.config) as source:
        monkeypatch.setattr(source, "_caps", source.capabilities - {"IDLE"})
        started = time.monotonic()
        assert source.wait_for_mail(0.5, stop) is False
        assert 0.45 <= time.monotonic() - started < 2
        threading.Timer(0.2, stop.set).start()
        started = time.monotonic()
        assert source.wait_for_mail(30, stop) is False
        assert time.monotonic() - started < 2


def test_describe_reads_capabilities_after_login(imap_account: ImapAccount) -> None:
    deliver(imap_account, 2)
    facts = ImapSource(imap_account.config).describe()
    text = "\n".join(facts)
    capabilities = next(line for line in facts if line.startswith("Capabilities after login"))
    # Dovecot only advertises MOVE once logged in: seeing it proves the list was re-read.
    assert "MOVE" in capabilities.split()
    assert "Inbox folder 'INBOX' holds 2 message(s)" in text
    assert "Processed folder 'Processed' does not exist yet" in text


def test_bad_password_names_the_credentials(imap_account: ImapAccount) -> None:
    config = imap_account.server.imap_config(imap_account.user, password="wrong")
    with pytest.raises(MailboxError, match="credentials") as caught:
        ImapSource(config).__enter__()
    assert caught.value.__cause__ is not None
    assert "wrong" not in str(caught.value)


def test_unreachable_server_names_host_and_port(imap_account: ImapAccount) -> None:
    from tests.servers import free_port

    config = imap_account.config.model_copy(update={"port": free_port()})
    with pytest.raises(MailboxError, match=r"mailbox\.imap\.host, mailbox\.imap\.port"):
        ImapSource(config).__enter__()


def test_using_a_closed_source_is_a_plain_error(imap_account: ImapAccount) -> None:
    with pytest.raises(MailboxError, match="not open"):
        list(ImapSource(imap_account.config).fetch_new(nothing_seen, nothing_known))


def test_parse_internaldate_gives_aware_utc() -> None:
    expected = datetime(2026, 11, 9, 1, 0, tzinfo=UTC)
    assert parse_internaldate(" 8-Nov-2026 23:30:00 -0130") == expected
    assert parse_internaldate("28-Mar-2027 01:30:00 +0100").tzinfo is UTC
    with pytest.raises(MailboxError):
        parse_internaldate("not a date")


def test_uid_sets_collapse_runs() -> None:
    assert imap_module._uid_set([9, 1, 2, 3, 7, 10]) == "1:3,7,9:10"
    assert imap_module._uid_set([5]) == "5"
