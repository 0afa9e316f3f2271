"""The verbs of `masp`: thin wrappers that load the config, call one step and print the result."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from sqlalchemy import select

from pipeline.cli import (
    app,
    case_app,
    console,
    errors,
    open_app,
    outbox_app,
    print_json,
    quarantine_app,
    settings,
)
from pipeline.errors import NotFound
from pipeline.states import MessageState, OutboxState
from pipeline.text import clean_text


@app.command()
def poll(ctx: typer.Context) -> None:
    """One intake pass: read new mail, file and answer it, move it aside, send the outbox."""
    from pipeline.intake.poll import poll as run_poll

    service = open_app(ctx)
    try:
        report = run_poll(service)
    finally:
        service.close()
    console.print(
        f"Stored {report.ingest.stored} new email(s) ({report.ingest.duplicates} duplicate(s)); "
        f"filed {report.filing.filed}, automatic (not answered) {report.filing.ignored}, "
        f"quarantined {report.filing.quarantined}; "
        f"moved {report.moved}; sent {report.delivery.sent}, "
        f"waiting {report.delivery.waiting}, failed {report.delivery.failed}."
    )
    for error in report.errors:
        errors.print(f"[yellow]Warning:[/yellow] {escape(error)}", highlight=False)
    if report.delivery.waiting:
        errors.print(
            f"[yellow]Warning:[/yellow] the mail server could not take "
            f"{report.delivery.waiting} email(s); they wait in the outbox for the next poll.",
            highlight=False,
        )
    if report.errors or report.delivery.waiting:
        raise typer.Exit(1)


@app.command()
def run(ctx: typer.Context) -> None:
    """Run the service until SIGTERM or SIGINT: poll on the interval, wake on IMAP IDLE."""
    from pipeline.service import serve, stop_on_signals

    # Installed before anything slow, so a signal during start-up still stops cleanly.
    stop = stop_on_signals()
    service = open_app(ctx)
    try:
        serve(service, stop)
    finally:
        service.close()


@app.command()
def tick(ctx: typer.Context) -> None:
    """Run every time-based job that is due (reminders, cut-off, …) and send the outbox."""
    from pipeline.service import run_due_jobs

    service = open_app(ctx)
    try:
        report = run_due_jobs(service)
    finally:
        service.close()
    console.print(
        f"{len(report.done)} job(s) done, {len(report.skipped)} skipped as stale, "
        f"{len(report.failed)} failed; {report.sent} email(s) sent."
    )
    for key in report.failed:
        errors.print(f"Warning: job {key} failed (the log says why).", markup=False)
    if report.failed:
        raise typer.Exit(1)


@app.command()
def status(
    ctx: typer.Context,
    reference: Annotated[str | None, typer.Argument(help="One case, e.g. MASP-2026-0007.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Where every case stands: documents present and missing, meeting, deadline."""
    from pipeline.outputs import status as view

    service = open_app(ctx)
    try:
        with service.store.session() as session:
            if reference:
                data = view.one_case(service, session, reference)
                print_json(data) if as_json else view.print_detail(console, data)
                return
            rows = view.all_cases(service, session)
            attention = view.needs_attention(session)
    finally:
        service.close()
    if as_json:
        print_json(rows)
        return
    view.print_table(console, rows)
    for line in attention:
        console.print(f"[yellow]{escape(line)}[/yellow]", highlight=False)


@app.command()
def meetings(
    ctx: typer.Context,
    count: Annotated[int, typer.Option(help="How many meetings per panel.")] = 6,
) -> None:
    """List upcoming meetings with their document deadline and timeslot-notice date."""
    from pipeline.outputs.calendar import print_meetings

    config, clock = settings(ctx)
    print_meetings(console, config, clock.now(), count)


@app.command()
def form(
    out: Annotated[Path, typer.Option("--out", help="Where to write the blank form.")] = Path(
        "referral-form.docx"
    ),
) -> None:
    """Write the panel's blank referral form (Word, with content controls)."""
    from pipeline.documents.form import write_blank_form

    write_blank_form(out)
    console.print(f"Wrote the blank referral form to {out}", markup=False)


@app.command("check-config")
def check_config(ctx: typer.Context) -> None:
    """Validate config.yaml, then connect to the mailbox and mail server and say what was found."""
    from pipeline.mailbox.check import check_mailbox

    config, _ = settings(ctx)
    console.print(
        f"config is valid: {len(config.panels)} panel(s), back-end {config.mailbox.backend}",
        markup=False,
    )
    ok = check_mailbox(config, console)
    if not ok:
        raise typer.Exit(1)


@app.command()
def demo(
    keep: Annotated[Path | None, typer.Option(help="Keep the demo data in this folder.")] = None,
) -> None:
    """Show the whole intake flow on synthetic referrals, with no mail server needed."""
    from pipeline.demo import run_demo

    run_demo(console, keep)


@quarantine_app.command("list")
def quarantine_list(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Emails that could not be processed: who sent them, their subject, and why."""
    from pipeline.mime.message import headline
    from pipeline.store.models import Message

    service = open_app(ctx)
    try:
        with service.store.session() as session:
            rows = session.scalars(
                select(Message).where(Message.status == MessageState.QUARANTINED)
            )
            items = []
            for r in rows:
                sender, subject = headline(service.files.read(r.raw_path))
                error = (r.error or "").strip().splitlines()
                items.append(
                    {
                        "id": r.id,
                        "received_at": r.received_at.isoformat(),
                        "from": sender,
                        "subject": subject,
                        "category": r.category,
                        "attempts": r.attempts,
                        "size": r.size,
                        "error": error[-1] if error else "",
                    }
                )
    finally:
        service.close()
    if as_json:
        print_json(items)
        return
    if not items:
        console.print("Nothing is quarantined.")
    for item in items:
        # Senders write the from and subject lines: printed as text, never read as markup.
        console.print(
            f"{item['id']}: {item['received_at']} from {item['from'] or '(no sender)'}, "
            f'subject "{item["subject"]}": {item["category"]} '
            f"({item['size']} bytes, {item['attempts']} attempt(s)) {item['error']}",
            markup=False,
            highlight=False,
        )


@quarantine_app.command("replay")
def quarantine_replay(
    ctx: typer.Context,
    ledger_id: Annotated[int, typer.Argument(help="The id shown by `masp quarantine list`.")],
) -> None:
    """Process a quarantined email again (after a fix, or after raising a limit)."""
    from pipeline.intake.filing import replay
    from pipeline.intake.poll import deliver_configured
    from pipeline.store.models import Message

    service = open_app(ctx)
    try:
        with service.store.session() as session:
            row = session.get(Message, ledger_id)
            if row is not None and row.status == MessageState.PURGED:
                raise NotFound(
                    f"email {ledger_id} was deleted after the retention period "
                    "(retention.quarantine_days); ask its sender to send it again"
                )
            if row is None or row.status != MessageState.QUARANTINED:
                raise NotFound(
                    f"no quarantined email with id {ledger_id}: see `masp quarantine list`"
                )
        report = replay(service, ledger_id)
        deliver_configured(service)
    finally:
        service.close()
    if report.quarantined:
        errors.print(f"Email {ledger_id} failed again and stays in quarantine.")
        raise typer.Exit(1)
    console.print(
        f"Email {ledger_id} processed: {', '.join(report.cases) or 'no case'}.", markup=False
    )


@outbox_app.command("list")
def outbox_list(
    ctx: typer.Context,
    state: Annotated[str, typer.Option(help="pending, held, sent, failed or all.")] = "held",
) -> None:
    """Emails in the outbox; by default those held for the administrator."""
    from pipeline.store.models import OutboxItem

    service = open_app(ctx)
    try:
        with service.store.session() as session:
            query = select(OutboxItem).order_by(OutboxItem.id)
            if state != "all":
                query = query.where(OutboxItem.status == state)
            for item in session.scalars(query):
                # Plain text: "[held]" is the status, and addresses may hold brackets too.
                console.print(
                    f"{item.id}: [{item.status}] {item.template} to {', '.join(item.addresses)}"
                    f"{' — ' + item.hold_reason if item.hold_reason else ''}",
                    markup=False,
                    highlight=False,
                )
    finally:
        service.close()


@outbox_app.command("release")
def outbox_release(
    ctx: typer.Context,
    outbox_id: Annotated[int, typer.Argument(help="The id shown by `masp outbox list`.")],
) -> None:
    """Let a held email go (the administrator has checked the recipient)."""
    from pipeline.store.audit import audit
    from pipeline.store.models import OutboxItem

    service = open_app(ctx)
    try:
        with service.store.session() as session:
            item = session.get(OutboxItem, outbox_id)
            if item is None or item.status != OutboxState.HELD:
                raise NotFound(f"no held email with id {outbox_id}: see `masp outbox list`")
            item.status = OutboxState.PENDING
            item.next_attempt_at = service.clock.now()
            audit(session, service.clock.now(), None, "released", outbox=item.id)
        from pipeline.intake.poll import deliver_configured

        deliver_configured(service)
    finally:
        service.close()
    console.print(f"Released email {outbox_id}.")


SCREEN_DECISIONS = {"approve": "approve", "decline": "decline", "more-info": "more_info"}


@app.command()
def screen(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="The case, e.g. MASP-2026-0007.")],
    decision: Annotated[str, typer.Argument(help="approve, decline or more-info.")],
    reason: Annotated[
        str, typer.Option(help="Why (decline) or what is needed (more-info); sent to the referrer.")
    ] = "",
    coopt: Annotated[
        str, typer.Option("--coopt", help="Agencies to co-opt, e.g. 'Housing, Police'.")
    ] = "",
) -> None:
    """Record a screening decision for a case instead of the Service Manager (R9 fallback)."""
    from pipeline.intake.poll import deliver_configured
    from pipeline.panel.screening import decide_by_administrator
    from pipeline.rules.reply_text import Decision, split_agencies

    verb = SCREEN_DECISIONS.get(decision.lower())
    if verb is None:
        raise typer.BadParameter("DECISION must be approve, decline or more-info")
    if verb != "approve" and not reason.strip():
        raise typer.BadParameter(f"{decision} needs --reason: the referrer is told it")
    service = open_app(ctx)
    try:
        with service.store.session() as session:
            # Typed or pasted by the administrator, and sent on to the referrer: cleaned too.
            chosen = Decision(verb, clean_text(reason).strip(), split_agencies(clean_text(coopt)))
            case = decide_by_administrator(service, session, reference, chosen)
            summary = f"{case.reference} is now {case.state}."
        deliver_configured(service)
    finally:
        service.close()
    console.print(summary, markup=False)


@case_app.command("release")
def case_release(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="The held case, e.g. MASP-2026-0012.")],
) -> None:
    """A held email is a referral of its own: list it and acknowledge it to its sender."""
    from pipeline.intake.overrides import release

    _case_action(ctx, lambda service, session: release(service, session, reference))


@case_app.command("attach")
def case_attach(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="The case to move, e.g. MASP-2026-0012.")],
    to: Annotated[
        str | None,
        typer.Option("--to", help="The case it belongs to (default: the case it quoted)."),
    ] = None,
    same_child: Annotated[
        bool,
        typer.Option("--same-child", help="Its form corrects the child's name or date of birth."),
    ] = False,
) -> None:
    """Move a held (or not yet screened) case's documents onto the case they belong to."""
    from pipeline.intake.overrides import attach

    _case_action(ctx, lambda service, session: attach(service, session, reference, to, same_child))


@case_app.command("dismiss")
def case_dismiss(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="The held case, e.g. MASP-2026-0012.")],
) -> None:
    """Close a held case without acting on it; nothing is sent."""
    from pipeline.intake.overrides import dismiss

    _case_action(ctx, lambda service, session: dismiss(service, session, reference))


@case_app.command("section20")
def case_section20(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="The case, e.g. MASP-2026-0007.")],
    not_section20: Annotated[
        bool, typer.Option("--not", help="It is not a Section 20 emergency: clear the question.")
    ] = False,
) -> None:
    """Confirm that a case is a Section 20 emergency admission (R7), or say it is not."""
    from pipeline.intake.overrides import section20

    _case_action(
        ctx, lambda service, session: section20(service, session, reference, not not_section20)
    )


def _case_action(ctx: typer.Context, action: Callable[[Any, Any], Any]) -> None:
    """Run one administrator action on a case in one transaction, then send what it queued."""
    from pipeline.intake.poll import deliver_configured

    service = open_app(ctx)
    try:
        with service.store.session() as session:
            case = action(service, session)
            summary = f"{case.reference} is now {case.state}" + (
                ", a Section 20 emergency" if case.section20 else ""
            )
        deliver_configured(service)
    finally:
        service.close()
    console.print(f"{summary}.", markup=False, highlight=False)
