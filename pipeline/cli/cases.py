"""The administrator's word on a case: a screening decision, a held email, Section 20."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

from pipeline.cli.common import console, open_app
from pipeline.states import Verdict
from pipeline.text import clean_text

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from pipeline.app import App
    from pipeline.store.models import Case

case_app = typer.Typer(
    help="The administrator's word on a case: held emails, Section 20.", no_args_is_help=True
)

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
