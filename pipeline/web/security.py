"""What every response carries (a strict Content-Security-Policy, no framing, no referrer, no
caching of pages) and the session-bound CSRF token every form posts back."""

from __future__ import annotations

import secrets
from collections.abc import MutableMapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# No inline script or style anywhere: every script and stylesheet is a file under /static.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
)
# Pages hold children's details: no browser or proxy may keep a copy.
NO_STORE = (b"cache-control", b"no-store")
# Behind TLS, browsers are told to use nothing else for a year.
HSTS = (b"strict-transport-security", b"max-age=31536000")
CSRF_FIELD = "csrf_token"
CSRF_REFUSED = (
    "This form could not be accepted: it was not sent from this console's own page, or the "
    "page was open too long. Go back, reload the page and try again."
)


class SecurityHeaders:
    """ASGI middleware adding HEADERS to every response, no-store to all but static files, and
    HSTS when the console is reached over HTTPS."""

    def __init__(self, app: ASGIApp, behind_tls: bool, static_prefix: str = "/static/") -> None:
        self.app = app
        self.static_prefix = static_prefix
        self.extra = (HSTS,) if behind_tls else ()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith(self.static_prefix)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.extend(HEADERS)
                headers.extend(self.extra)
                if not static:
                    headers.append(NO_STORE)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


def csrf_token(session: MutableMapping[str, Any]) -> str:
    """The session's CSRF token, made on first use; it lives as long as the session."""
    token = session.get(CSRF_FIELD)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[CSRF_FIELD] = token
    return token


def csrf_ok(session: MutableMapping[str, Any], posted: object) -> bool:
    expected = session.get(CSRF_FIELD)
    return (
        isinstance(expected, str)
        and isinstance(posted, str)
        and secrets.compare_digest(expected.encode(), posted.encode())
    )
