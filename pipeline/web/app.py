"""`masp web`: the Starlette application over one opened App (SPEC R17, §7)."""

from __future__ import annotations

import asyncio
import os
import secrets
import threading
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from pipeline.app import App
from pipeline.config import Config
from pipeline.disk import FILE_MODE, write_durably
from pipeline.web import (
    board,
    casepage,
    decisions,
    mail,
    meetings,
    oidc,
    overrides,
    packs,
    quarterly,
    screening,
    signin,
)
from pipeline.web.guard import Pages
from pipeline.web.render import environment
from pipeline.web.security import SecurityHeaders

STATIC = Path(__file__).parent / "static"
# How many pages are built at once; the others wait their turn (see guard.guarded).
PAGES_AT_ONCE = 4
# Every module with pages, in the order their links appear in the navigation.
PAGE_MODULES: tuple[Pages, ...] = (
    board.pages,
    meetings.pages,
    decisions.pages,
    screening.pages,
    packs.pages,
    mail.pages,
    quarterly.pages,
    casepage.pages,
    overrides.pages,
    signin.pages,
)


def create_app(app: App) -> Starlette:
    """The console over `app` (opened once by `masp web`, closed by the caller)."""
    web = app.config.web
    routes: list[BaseRoute] = [
        *signin.public_routes,
        *oidc.public_routes,
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    for pages in PAGE_MODULES:
        routes.extend(pages.routes)
    middleware = [
        Middleware(SecurityHeaders, behind_tls=web.behind_tls),
        Middleware(
            SessionMiddleware,
            secret_key=session_secret(app.config),
            # The name's __Host- prefix makes browsers insist on Secure, path / and no domain.
            session_cookie="__Host-masp" if web.behind_tls else "masp_session",
            # No absolute lifetime: the idle timeout (web.session_minutes) is checked on each
            # request by the service's one clock.
            max_age=None,
            same_site="strict",
            https_only=web.behind_tls,
        ),
    ]
    starlette = Starlette(routes=routes, middleware=middleware)
    starlette.state.masp = app
    # Actions run one at a time (see Visit.exclusive); pages that only read never wait.
    starlette.state.action_lock = threading.Lock()
    starlette.state.page_slots = asyncio.Semaphore(PAGES_AT_ONCE)
    starlette.state.templates = environment()
    # Messages left by actions for the next page, per session (guard.leave_message).
    starlette.state.messages = {}
    starlette.state.nav = [item for pages in PAGE_MODULES for item in pages.nav]
    starlette.state.oidc = oidc.Provider(web.oidc) if web.oidc.enabled else None
    return starlette


def session_secret(config: Config) -> str:
    """The key signing session cookies: from config or the environment, else one generated
    once into data_dir and kept owner-only."""
    if config.web.session_secret:
        return config.web.session_secret
    path = config.data_path / "web-session.key"
    if not path.exists():
        write_durably(path, secrets.token_hex(32).encode())
    os.chmod(path, FILE_MODE)
    return path.read_text().strip()
