"""The administrator's word on a case: a screening decision, a held email, Section 20."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pipeline.cli.common import actor, console, open_app
from pipeline.states import Verdict
from pipeline.text import clean_text

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from pipeline.app import App
    from pipeline.intake.admin import Changed
    from pipeline.store.models import Case

case_app = typer.Typer(
    help=(
        "The administrator's word on a case: held emails, Section 20, its documents, "
        "meeting, referrer's address, withdrawal or closure."
    ),
    no_args_is_help=True,
)
Reference = Annotated[str, typer.Argument(help="The case, e.g. MASP-2026-0007.")]
DocumentArg = Annotated[
    str, typer.Argument(help="The document's id or file name, as `masp status REF --json` shows.")
]
MessageText = Annotated[
    str | None,
    typer.Option("--message", help="The paragraph the referrer is sent, instead of the default."),
]
MessageFile = Annotated[
    Path | None,
    typer.Option(
        "--message-file",
        help="A UTF-8 text file holding the paragraph the referrer is sent.",
        exists=True,
        dir_okay=False,
    ),
]

SCREEN_DECISIONS = {
    "approve": Verdict.APPROVE,
    "decline": Verdict.DECLINE,
    "more-info": Verdict.MORE_INFO,
}


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
    from pipeline.panel.screening.decisions import decide_by_administrator
    from pipeline.rules.reply_text import Decision, split_agencies

    verb = SCREEN_DECISIONS.get(decision.lower())
    if verb is None:
        raise typer.BadParameter("DECISION must be approve, decline or more-info")
    if verb != Verdict.APPROVE and not reason.strip():
        raise typer.BadParameter(f"{decision} needs --reason: the referrer is told it")
    with open_app(ctx) as service:
        with service.store.session() as session:
            # Typed or pasted by the administrator, and sent on to the referrer: cleaned too.
            chosen = Decision(verb, clean_text(reason).strip(), split_agencies(clean_text(coopt)))
            case = decide_by_administrator(service, session, reference, chosen)
            summary = f"{case.reference} is now {case.state}."
        deliver_configured(service)
    console.print(summary, markup=False)


@case_app.command("release")
def case_release(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="The held case, e.g. MASP-2026-0012.")],
) -> None:
    """A held email is a referral of its own: list it and acknowledge it to its sender."""
    from pipeline.intake.overrides import release

    who = actor()
    _case_action(ctx, lambda service, session: release(service, session, reference, who))


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

    who = actor()
    _case_action(
        ctx, lambda service, session: attach(service, session, reference, to, who, same_child)
    )


@case_app.command("dismiss")
def case_dismiss(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="The held case, e.g. MASP-2026-0012.")],
) -> None:
    """Close a held case without acting on it; nothing is sent."""
    from pipeline.intake.overrides import dismiss

    who = actor()
    _case_action(ctx, lambda service, session: dismiss(service, session, reference, who))


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

    who = actor()
    _case_action(
        ctx,
        lambda service, session: section20(service, session, reference, not not_section20, who),
    )


def _case_action(ctx: typer.Context, action: Callable[[App, Session], Case]) -> None:
    """Run one administrator action on a case in one transaction, then send what it queued."""
    from pipeline.intake.poll import deliver_configured

    with open_app(ctx) as service:
        with service.store.session() as session:
            case = action(service, session)
            summary = f"{case.reference} is now {case.state}" + (
                ", a Section 20 emergency" if case.section20 else ""
            )
        deliver_configured(service)
    console.print(f"{summary}.", markup=False, highlight=False)


@case_app.command("reclassify")
def case_reclassify(
    ctx: typer.Context,
    reference: Reference,
    document: DocumentArg,
    kind: Annotated[
        str, typer.Argument(help="referral_form, chronology, genogram, assessment or other.")
    ],
) -> None:
    """Say what kind a misread document is; the case is checked again (R4) and relisted."""
    from pipeline.intake.corrections import reclassify

    who = actor()
    _override(ctx, lambda app, session: reclassify(app, session, reference, document, kind, who))


@case_app.command("accept")
def case_accept(ctx: typer.Context, reference: Reference, document: DocumentArg) -> None:
    """Accept a document that needs review (a scan, an unknown layout) as it is."""
    from pipeline.intake.corrections import accept

    who = actor()
    _override(ctx, lambda app, session: accept(app, session, reference, document, who))


@case_app.command("move")
def case_move(
    ctx: typer.Context,
    reference: Reference,
    meeting: Annotated[str, typer.Option("--meeting", help="The new meeting's date, YYYY-MM-DD.")],
    panel: Annotated[
        str | None,
        typer.Option(
            "--panel",
            help="Another panel's id (`masp meetings` lists them): the case becomes its case.",
        ),
    ] = None,
) -> None:
    """List a case for another meeting that has not started, of its panel or another
    (--panel); its referrer is told."""
    from pipeline.intake.moves import move_case

    day = _date(meeting, "--meeting")
    who = actor()
    _override(ctx, lambda app, session: move_case(app, session, reference, day, who, panel))


@case_app.command("withdraw")
def case_withdraw(
    ctx: typer.Context,
    reference: Reference,
    message: MessageText = None,
    message_file: MessageFile = None,
) -> None:
    """Withdraw a case not yet heard; its referrer is told (default wording, or yours)."""
    from pipeline.intake.moves import withdraw_case

    text = _message(message, message_file)
    who = actor()
    _override(ctx, lambda app, session: withdraw_case(app, session, reference, who, text))


@case_app.command("close")
def case_close(
    ctx: typer.Context,
    reference: Reference,
    message: MessageText = None,
    message_file: MessageFile = None,
) -> None:
    """Close a case; its referrer is told (default wording, or yours)."""
    from pipeline.intake.moves import close_case

    text = _message(message, message_file)
    who = actor()
    _override(ctx, lambda app, session: close_case(app, session, reference, who, text))


@case_app.command("address")
def case_address(
    ctx: typer.Context,
    reference: Reference,
    new_email: Annotated[str, typer.Argument(help="The referrer's right email address.")],
) -> None:
    """Correct the referrer's address; mail not yet delivered is re-addressed."""
    from pipeline.intake.address import correct_address

    who = actor()
    _override(ctx, lambda app, session: correct_address(app, session, reference, new_email, who))


def _date(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{option} must be a date, YYYY-MM-DD, got {value!r}") from None


def _message(text: str | None, path: Path | None) -> str | None:
    """The administrator's own words for the referrer, from --message or --message-file."""
    if text is not None and path is not None:
        raise typer.BadParameter("give --message or --message-file, not both")
    if path is None:
        return text
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise typer.BadParameter(f"--message-file {path}: cannot read it as UTF-8 text") from exc


def _override(ctx: typer.Context, action: Callable[[App, Session], Changed]) -> None:
    """Run one override in one transaction, then send what it queued."""
    from pipeline.intake.poll import deliver_configured

    with open_app(ctx) as service:
        with service.store.session() as session:
            result = action(service, session)
        deliver_configured(service)
    console.print(str(result), markup=False, highlight=False)
