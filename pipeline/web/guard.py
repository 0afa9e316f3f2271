"""How a page is declared: its path, the roles that may open it, and what it does.

    pages = Pages()

    @pages.get("/board", READERS, nav="Board")
    def board(visit: Visit) -> Response:
        return visit.render("board.html", meetings=...)

Every page goes through `guarded`: the session is checked (signed in, not timed out), the
person's role is checked on the server, a POST's CSRF token is checked, and the page function
runs in a worker thread (the database is synchronous). A page refuses a particular record with
`raise Forbidden(...)`; errors from the steps it calls are shown, not raised.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from pipeline.app import App
from pipeline.errors import NotFound, PipelineError
from pipeline.store.audit import audit
from pipeline.store.models import Case
from pipeline.web.render import NavItem
from pipeline.web.security import CSRF_FIELD, CSRF_REFUSED, csrf_ok, csrf_token
from pipeline.web.users import Role, User, session_user, touch_session

log = logging.getLogger(__name__)

# Cookie keys: the signed-in session's token (see users.open_session), and messages to show.
SESSION_KEY = "sid"
# Messages waiting for their sessions' next page (see leave_message), at most this many sessions.
MESSAGES_KEPT = 10_000
FLASH_KEY = "flash"
TIMED_OUT = (
    "You were signed out: the console was not used for a while, or your account changed. "
    "Sign in again."
)


class Forbidden(PipelineError):
    """The signed-in person's role does not reach this record (another member's pack)."""


@dataclass(frozen=True)
class Visit:
    """One request by a signed-in person: what every page function receives."""

    request: Request
    app: App
    user: User
    # The posted fields of a form (text fields only); empty for a GET.
    form: Mapping[str, str] = field(default_factory=dict)

    @property
    def now(self) -> datetime:
        return self.app.clock.now()

    def render(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        return render_page(self.request, template, status, user=self.user, **context)

    def redirect(self, path: str, message: str | None = None) -> RedirectResponse:
        """After a POST: 303 to `path` (a local path), with a message shown on arrival."""
        if message:
            leave_message(self.request, message)
        return RedirectResponse(path, status_code=303)

    @property
    def actor(self) -> str:
        """Who did it, as the audit trail records it ("web:jo@example.org")."""
        return f"web:{self.user.email}"

    def audit(self, session: Session, case: Case | None, action: str, **detail: Any) -> None:
        """The audit trail, with the person who did it."""
        audit(session, self.now, case, action, by=self.actor, **detail)

    def exclusive(self) -> AbstractContextManager[object]:
        """Held while an action changes cases or reads attachments: one at a time, as a
        `masp` command would (the document reader serves one request at a time)."""
        lock: AbstractContextManager[object] = self.request.app.state.action_lock
        return lock


PageFunction = Callable[[Visit], Response]


@dataclass
class Pages:
    """The routes one module declares, with their roles and navigation labels."""

    routes: list[BaseRoute] = field(default_factory=list)
    nav: list[NavItem] = field(default_factory=list)

    def get(
        self, path: str, roles: Collection[Role], nav: str | None = None
    ) -> Callable[[PageFunction], PageFunction]:
        return self._add(path, roles, ["GET"], nav)

    def post(self, path: str, roles: Collection[Role]) -> Callable[[PageFunction], PageFunction]:
        return self._add(path, roles, ["POST"], None)

    def _add(
        self, path: str, roles: Collection[Role], methods: list[str], nav: str | None
    ) -> Callable[[PageFunction], PageFunction]:
        if not roles:
            raise ValueError(f"{path}: say which roles may open it")
        allowed = frozenset(roles)

        def register(page: PageFunction) -> PageFunction:
            self.routes.append(Route(path, guarded(page, allowed), methods=methods))
            if nav:
                self.nav.append(NavItem(nav, path, frozenset(r.value for r in allowed)))
            return page

        return register


def guarded(page: PageFunction, roles: frozenset[Role]) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        form: dict[str, str] = {}
        if request.method == "POST":
            posted = await request.form()
            form = {k: v for k, v in posted.items() if isinstance(v, str)}
            if not csrf_ok(request.session, form.get(CSRF_FIELD)):
                return refusal(request, None, CSRF_REFUSED)
        # A few pages at a time: more threads would not run faster under the GIL, only hold
        # more pages in memory at once (the console's budget is 200 MB).
        slots: asyncio.Semaphore = request.app.state.page_slots
        async with slots:
            return await run_in_threadpool(_serve, request, form, page, roles)

    # Marks the endpoint as checked, for create_app's count of unguarded routes.
    endpoint.guarded = True  # type: ignore[attr-defined]
    return endpoint


def _serve(
    request: Request, form: dict[str, str], page: PageFunction, roles: frozenset[Role]
) -> Response:
    app: App = request.app.state.masp
    user = current_user(request, app)
    if user is None:
        return _to_sign_in(request)
    if user.role not in roles:
        return refusal(request, user, "Your role does not let you open this page.")
    visit = Visit(request, app, user, form)
    try:
        return page(visit)
    except Forbidden as exc:
        return refusal(request, user, str(exc))
    except NotFound as exc:
        return render_page(request, "error.html", 404, user=user, title="Not found", error=str(exc))
    except PipelineError as exc:
        # A step refused (a case in the wrong state): said on a page, the reason as it stands.
        log.info("a console request was refused: %s", type(exc).__name__)
        return render_page(
            request, "error.html", 400, user=user, title="That could not be done", error=str(exc)
        )


def current_user(request: Request, app: App) -> User | None:
    """The signed-in person, if the session's token is still open on the server and was used
    within web.session_minutes (by the service's one clock)."""
    token = request.session.get(SESSION_KEY)
    if not isinstance(token, str):
        return None
    now = app.clock.now()
    idle = timedelta(minutes=app.config.web.session_minutes)
    with app.store.reading() as db:
        found = session_user(db, token, now, idle)
    if found is None:
        request.session.clear()
        request.session[FLASH_KEY] = [TIMED_OUT]
        return None
    if found.stale:
        with app.store.session() as db:
            touch_session(db, found.session_id, now)
    return found.user


def leave_message(request: Request, message: str) -> None:
    """A message for the person's next page, kept in this process under their session's token.

    Never in the cookie: Starlette signs it but does not encrypt it, and what an override did
    can name a document's file (SPEC §7). A restart loses a message not yet shown; the change
    itself is in the audit trail and on the page.
    """
    token = request.session.get(SESSION_KEY)
    waiting: dict[str, list[str]] = request.app.state.messages
    if isinstance(token, str):
        if len(waiting) > MESSAGES_KEPT:
            # Sessions that never came back: forget their oldest messages.
            waiting.pop(next(iter(waiting)))
        waiting.setdefault(token, []).append(message)


def _messages(request: Request) -> list[str]:
    """What the last action left to say (and the signed-out notice, which names nothing)."""
    token = request.session.get(SESSION_KEY)
    kept = request.app.state.messages.pop(token, []) if isinstance(token, str) else []
    return [*request.session.pop(FLASH_KEY, []), *kept]


def _to_sign_in(request: Request) -> Response:
    # The path only (references and ids, never a name: SPEC §7), to come back to after.
    target = request.url.path if request.method == "GET" else "/"
    return RedirectResponse(f"/sign-in?next={quote(target, safe='/')}", status_code=303)


def refusal(request: Request, user: User | None, reason: str) -> HTMLResponse:
    return render_page(request, "error.html", 403, user=user, title="Not allowed", error=reason)


def render_page(
    request: Request, template: str, status: int = 200, user: User | None = None, **context: Any
) -> HTMLResponse:
    """A page in the console's layout: the navigation for the person's role, the CSRF token for
    its forms, and any message left by the last action."""
    state = request.app.state
    nav = [item for item in state.nav if user is not None and user.role.value in item.roles]
    flash = _messages(request)
    body = state.templates.get_template(template).render(
        request_path=request.url.path,
        user=user,
        nav=nav,
        csrf_token=csrf_token(request.session),
        flash=flash,
        tz=state.masp.config.tz,
        **context,
    )
    return HTMLResponse(body, status_code=status)
