"""Signing in with a local account (password, throttled) and signing out."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from pipeline.app import App
from pipeline.store.audit import audit
from pipeline.web.guard import SESSION_KEY, Pages, Visit, refusal, render_page
from pipeline.web.security import CSRF_FIELD, CSRF_REFUSED, csrf_ok
from pipeline.web.users import (
    EVERYONE,
    User,
    check_password,
    end_session,
    forget_attempts,
    forget_sessions,
    open_session,
    record_attempt,
    throttled_until,
    user_of,
)

pages = Pages()
WRONG = "The email address or the password is wrong."


def local_path(value: str | None) -> str:
    """Where to go after signing in: a path on this console only, never another site."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def start_session(request: Request, app: App, user: User) -> RedirectResponse:
    """A fresh session for `user`, open on the server (no state carried over from before
    signing in, so a cookie planted earlier signs nobody in)."""
    target = local_path(request.query_params.get("next") or request.session.get("next"))
    now = app.clock.now()
    with app.store.session() as db:
        token = open_session(db, user.id, now)
        forget_sessions(db, now - timedelta(days=1, minutes=app.config.web.session_minutes))
    request.session.clear()
    request.session[SESSION_KEY] = token
    return RedirectResponse(target, status_code=303)


async def sign_in_form(request: Request) -> Response:
    return render_page(request, "sign_in.html", **_form_context(request, "", None))


def _form_context(request: Request, email: str, error: str | None) -> dict[str, Any]:
    web = request.app.state.masp.config.web
    return {
        "email": email,
        "error": error,
        "local_users": web.local_users,
        "oidc": web.oidc.enabled,
        "next": local_path(request.query_params.get("next")),
    }


async def sign_in(request: Request) -> Response:
    posted = await request.form()
    form = {k: v for k, v in posted.items() if isinstance(v, str)}
    if not csrf_ok(request.session, form.get(CSRF_FIELD)):
        return refusal(request, None, CSRF_REFUSED)
    return await run_in_threadpool(_sign_in, request, form)


def _sign_in(request: Request, form: dict[str, str]) -> Response:
    app: App = request.app.state.masp
    web = app.config.web
    email, password = form.get("email", "").strip(), form.get("password", "")
    if not web.local_users:
        return refusal(request, None, "Local accounts are turned off: sign in with Microsoft.")
    if not email or not password:
        error = "Enter your email address and your password."
        return render_page(request, "sign_in.html", 400, **_form_context(request, email, error))
    client = request.client.host if request.client else "unknown"
    now = app.clock.now()
    with app.store.session() as session:
        until = throttled_until(session, web, email, client, now)
        if until is None:
            row = check_password(session, email, password)
            record_attempt(session, email, client, row is not None, now)
            user = user_of(row) if row is not None else None
            if row is not None:
                row.last_sign_in_at = now
                audit(session, now, None, "signed-in", by=f"web:{row.email}")
        forget_attempts(session, now - timedelta(days=1, minutes=web.throttle_minutes))
    if until is not None:
        error = _throttled(until, app)
        return render_page(request, "sign_in.html", 429, **_form_context(request, email, error))
    if user is None:
        return render_page(request, "sign_in.html", 400, **_form_context(request, email, WRONG))
    return start_session(request, app, user)


def _throttled(until: datetime, app: App) -> str:
    local = until.astimezone(app.config.tz)
    return (
        "Too many wrong passwords have been given for this account or from this computer. "
        f"Try again after {local:%H:%M} on {local.day} {local:%B}."
    )


@pages.post("/sign-out", EVERYONE)
def sign_out(visit: Visit) -> Response:
    with visit.app.store.session() as session:
        end_session(session, str(visit.request.session.get(SESSION_KEY)), visit.now)
        visit.audit(session, None, "signed-out")
    visit.request.session.clear()
    return RedirectResponse("/sign-in", status_code=303)


# Open to anyone: the form itself, and its POST (which checks the CSRF token itself).
public_routes = [
    Route("/sign-in", sign_in_form, methods=["GET"]),
    Route("/sign-in", sign_in, methods=["POST"]),
]
