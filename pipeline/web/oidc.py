"""Single sign-on with Microsoft Entra ID: OpenID Connect's authorization code flow with PKCE,
a state and a nonce, and the id_token verified against the tenant's published keys (issuer,
audience, expiry by the service's clock, nonce). The role comes from `web.oidc.roles` (by
email address) or from the token's `roles` claim (app roles assigned in Entra ID)."""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
import ssl
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from pipeline.app import App
from pipeline.config import OidcConfig
from pipeline.errors import PipelineError
from pipeline.store.audit import audit
from pipeline.web.guard import refusal, render_page
from pipeline.web.signin import local_path, start_session
from pipeline.web.users import Role, entra_user, normal_email, user_of

log = logging.getLogger(__name__)
SESSION_KEY = "oidc"
CALLBACK = "/sign-in/entra/callback"
# Clocks drift: a token issued a little "in the future" or just expired is still accepted.
LEEWAY_SECONDS = 120
# When a token carries several app roles, the strongest one counts.
_STRENGTH = (Role.ADMINISTRATOR, Role.CHAIR, Role.SERVICE_MANAGER, Role.MEMBER)


class SignInFailed(PipelineError):
    """Entra ID's answer could not be trusted or used; the message says what to do."""


@dataclass(frozen=True)
class Identity:
    email: str
    name: str
    roles: tuple[str, ...]


class Provider:
    """The tenant's endpoints and signing keys, fetched once and again when a key is new."""

    def __init__(self, config: OidcConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._discovery: dict[str, Any] | None = None
        self._keys: jwt.PyJWKSet | None = None

    @property
    def authority(self) -> str:
        return f"{self.config.authority_host.rstrip('/')}/{self.config.tenant_id}/v2.0"

    def _http(self) -> httpx.Client:
        verify: ssl.SSLContext | bool = True
        if self.config.ca_file:
            verify = ssl.create_default_context(cafile=self.config.ca_file)
        return httpx.Client(verify=verify, timeout=15, follow_redirects=False)

    def _get_json(self, url: str) -> dict[str, Any]:
        try:
            with self._http() as http:
                answer = http.get(url)
                answer.raise_for_status()
                data = answer.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise SignInFailed(
                f"Microsoft's sign-in service could not be read ({type(exc).__name__}): "
                "try again later, or check web.oidc.authority_host and tenant_id"
            ) from exc
        if not isinstance(data, dict):
            raise SignInFailed("Microsoft's sign-in service answered with something unexpected")
        return data

    def discovery(self) -> dict[str, Any]:
        with self._lock:
            if self._discovery is None:
                url = f"{self.authority}/.well-known/openid-configuration"
                self._discovery = self._get_json(url)
            return self._discovery

    def _signing_key(self, token: str) -> Any:
        kid = jwt.get_unverified_header(token).get("kid")
        for refresh in (False, True):
            with self._lock:
                if self._keys is None or refresh:
                    assert self._discovery is not None
                    self._keys = jwt.PyJWKSet.from_dict(self._get_json(self._discovery["jwks_uri"]))
                keys = self._keys
            for key in keys.keys:
                if key.key_id == kid:
                    return key.key
        raise SignInFailed("the sign-in token is signed with a key the tenant does not publish")

    def authorize_url(self, redirect_uri: str, state: str, nonce: str, verifier: str) -> str:
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        query = {
            "client_id": self.config.client_id,
            "response_type": "code",
            "redirect_uri": redirect_uri,
            "response_mode": "query",
            "scope": "openid profile email",
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge.rstrip(b"=").decode(),
            "code_challenge_method": "S256",
        }
        return f"{self.discovery()['authorization_endpoint']}?{urlencode(query)}"

    def redeem(self, code: str, redirect_uri: str, verifier: str) -> str:
        """The id_token for an authorization code (with the PKCE verifier and the secret)."""
        form = {
            "grant_type": "authorization_code",
            "client_id": self.config.client_id,
            "client_secret": self.config.client_secret,
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
            "scope": "openid profile email",
        }
        try:
            with self._http() as http:
                answer = http.post(self.discovery()["token_endpoint"], data=form)
            body = answer.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise SignInFailed(
                f"Microsoft's token service could not be reached ({type(exc).__name__})"
            ) from exc
        if answer.status_code != 200 or not isinstance(body.get("id_token"), str):
            # Entra's error codes (AADSTS…) say what to fix in the app registration.
            reason = body.get("error_description") or body.get("error")
            raise SignInFailed(f"Microsoft refused the sign-in: {reason}")
        return str(body["id_token"])

    def verify(self, token: str, nonce: str, now: datetime) -> Identity:
        """The signed-in person, if the token is genuine, for us, current and this sign-in's."""
        try:
            claims = jwt.decode(
                token,
                self._signing_key(token),
                algorithms=["RS256"],
                audience=self.config.client_id,
                issuer=self.discovery()["issuer"],
                # Times are checked below by the service's one clock.
                options={
                    "require": ["exp", "iat", "nonce", "aud", "iss"],
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise SignInFailed(f"the sign-in token was refused: {exc}") from exc
        _check_times(claims, now.timestamp())
        if not secrets.compare_digest(str(claims["nonce"]), nonce):
            raise SignInFailed("the sign-in token was not issued for this sign-in (nonce)")
        email = claims.get("email") or claims.get("preferred_username") or ""
        if not isinstance(email, str) or "@" not in email:
            raise SignInFailed("the sign-in token names no email address")
        roles = claims.get("roles") or []
        return Identity(
            normal_email(email),
            str(claims.get("name") or ""),
            tuple(str(r) for r in roles if isinstance(r, str)),
        )

    def role_for(self, identity: Identity) -> Role | None:
        named = self.config.roles.get(identity.email)
        if named is not None:
            return Role(named)
        given = {r.strip().lower() for r in identity.roles}
        return next((role for role in _STRENGTH if role.value in given), None)


def _check_times(claims: dict[str, Any], now: float) -> None:
    if float(claims["exp"]) < now - LEEWAY_SECONDS:
        raise SignInFailed("the sign-in token has expired: sign in again")
    if float(claims.get("nbf", claims["iat"])) > now + LEEWAY_SECONDS:
        raise SignInFailed("the sign-in token is not valid yet: check this computer's clock")


def _redirect_uri(request: Request, app: App) -> str:
    base = app.config.web.public_url or str(request.base_url)
    return base.rstrip("/") + CALLBACK


def _provider(request: Request) -> Provider | None:
    provider: Provider | None = request.app.state.oidc
    return provider


async def start(request: Request) -> Response:
    provider = _provider(request)
    if provider is None:
        return refusal(request, None, "Signing in with Microsoft is not turned on.")
    app: App = request.app.state.masp
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)
    request.session[SESSION_KEY] = {
        "state": state,
        "nonce": nonce,
        "verifier": verifier,
        "next": local_path(request.query_params.get("next")),
    }
    try:
        url = await run_in_threadpool(
            provider.authorize_url, _redirect_uri(request, app), state, nonce, verifier
        )
    except SignInFailed as exc:
        return _failed(request, str(exc))
    return RedirectResponse(url, status_code=303)


async def callback(request: Request) -> Response:
    provider = _provider(request)
    pending = request.session.pop(SESSION_KEY, None)
    if provider is None or not isinstance(pending, dict):
        return _failed(request, "This sign-in was not started here, or has already been used.")
    params = request.query_params
    if not secrets.compare_digest(params.get("state", ""), str(pending["state"])):
        return _failed(request, "This sign-in answer does not belong to this browser (state).")
    if params.get("error"):
        reason = params.get("error_description") or params["error"]
        return _failed(request, f"Microsoft did not sign you in: {reason}")
    return await run_in_threadpool(_finish, request, provider, pending, params.get("code", ""))


def _finish(request: Request, provider: Provider, pending: dict[str, str], code: str) -> Response:
    app: App = request.app.state.masp
    now = app.clock.now()
    try:
        token = provider.redeem(code, _redirect_uri(request, app), pending["verifier"])
        identity = provider.verify(token, pending["nonce"], now)
    except SignInFailed as exc:
        log.warning("an Entra ID sign-in was refused: %s", exc)
        return _failed(request, str(exc))
    role = provider.role_for(identity)
    if role is None:
        return refusal(
            request,
            None,
            "Your Microsoft account has no role in this console: ask the administrator to "
            "give you one.",
        )
    with app.store.session() as session:
        row = entra_user(session, identity.email, identity.name, role, now)
        audit(session, now, None, "signed-in", by=f"web:{row.email}", via="entra")
        user = user_of(row)
    request.session["next"] = pending.get("next", "/")
    return start_session(request, app, user)


def _failed(request: Request, reason: str) -> Response:
    return render_page(
        request,
        "error.html",
        400,
        title="Signing in did not work",
        error=f"{reason} Go back to the sign-in page and try again.",
    )


public_routes: list[BaseRoute] = [
    Route("/sign-in/entra", start, methods=["GET"]),
    Route(CALLBACK, callback, methods=["GET"]),
]
