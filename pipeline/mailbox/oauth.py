"""OAuth 2.0 tokens for the service itself (client credentials) from Microsoft Entra ID.

One `TokenProvider` per resource (Exchange Online for IMAP and SMTP, Microsoft Graph): msal
keeps the token in memory and asks for a new one shortly before it expires, so every caller
just asks `token()`. A refusal is a MailboxError that names the tenant, the app and the
permission to check, never a stack trace of HTTP.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from pipeline.config import OAuthConfig
from pipeline.errors import ConfigError, MailboxError

log = logging.getLogger(__name__)

# Seconds to wait for Entra ID before giving up (the poll tries again later).
TIMEOUT = 30.0
# The ".default" scope asks for every application permission the app was granted.
EXCHANGE = "https://outlook.office365.com/.default"
GRAPH = "https://graph.microsoft.com/.default"
# What an administrator must have granted, for each resource, in plain words.
PERMISSIONS = {
    EXCHANGE: "the IMAP.AccessAsApp and SMTP.SendAsApp application permissions",
    GRAPH: "the Mail.ReadWrite and Mail.Send application permissions",
}


class _Http:
    """The HTTP client msal uses: requests, with the CA file given on every request. (A
    session-wide `verify` loses to REQUESTS_CA_BUNDLE in the environment, so a configured
    `ca_file` would silently not count.)"""

    def __init__(self, verify: bool | str, timeout: float) -> None:
        import requests

        self.session = requests.Session()
        self.verify, self.timeout = verify, timeout

    def get(self, url: str, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self.timeout)
        return self.session.get(url, verify=self.verify, **kwargs)

    def post(self, url: str, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self.timeout)
        return self.session.post(url, verify=self.verify, **kwargs)

    def close(self) -> None:
        self.session.close()


def xoauth2(user: str, token: str) -> str:
    """The SASL XOAUTH2 initial response (before base64) for IMAP and SMTP."""
    return f"user={user}\x01auth=Bearer {token}\x01\x01"


def refused_token_message(
    protocol: str, where: str, tokens: TokenProvider, permission: str, user: str
) -> str:
    """Why a server refused a fresh token: in Exchange Online, a permission or a grant missing."""
    tenant, app = tokens.config.tenant_id, tokens.config.client_id
    return (
        f"the {protocol} server at {where} refused the OAuth 2.0 token of app {app} "
        f"(tenant {tenant}) twice, a new one included: the app has no {permission} "
        f"permission on {user}, or the mailbox is not granted to it. Check the app's API "
        f"permissions (with admin consent) and the mailbox permissions given to its service "
        f"principal in Exchange Online (see docs/microsoft-365.md)"
    )


class TokenProvider:
    """Tokens for one resource, cached and renewed before they expire."""

    def __init__(self, config: OAuthConfig, scope: str, base_dir: Path | None = None) -> None:
        if not config.tenant_id or not config.client_id:
            raise ConfigError(
                "mailbox.oauth", "tenant_id and client_id are needed to sign in with OAuth 2.0"
            )
        self.config, self.scope = config, scope
        self._base = base_dir or Path(".")
        self._app: Any = None

    def _credential(self) -> str | dict[str, str]:
        config = self.config
        if config.certificate_file:
            path = self._resolve(config.certificate_file)
            try:
                pem = path.read_text(encoding="ascii")
            except OSError as exc:
                raise ConfigError(
                    "mailbox.oauth.certificate_file", f"cannot read {path}: {exc.strerror}"
                ) from exc
            if not config.certificate_thumbprint:
                raise ConfigError(
                    "mailbox.oauth.certificate_thumbprint", "the certificate's thumbprint is needed"
                )
            return {"private_key": pem, "thumbprint": config.certificate_thumbprint}
        if not config.client_secret:
            raise ConfigError(
                "mailbox.oauth",
                "give a client_secret (or MASP_OAUTH_CLIENT_SECRET) or a certificate_file",
            )
        return config.client_secret

    def _resolve(self, value: str) -> Path:
        path = Path(value).expanduser()
        return path if path.is_absolute() else self._base / path

    def _client(self) -> Any:
        if self._app is None:
            import msal

            config = self.config
            verify: bool | str = str(self._resolve(config.ca_file)) if config.ca_file else True
            self._app = msal.ConfidentialClientApplication(
                config.client_id,
                client_credential=self._credential(),
                authority=f"{config.authority_host.rstrip('/')}/{config.tenant_id}",
                # Never ask login.microsoftonline.com which clouds exist: the authority is given.
                instance_discovery=False,
                http_client=_Http(verify, TIMEOUT),
            )
        return self._app

    def token(self) -> str:
        """A valid access token: the cached one, or a new one if it is near its expiry."""
        try:
            result = self._client().acquire_token_for_client(scopes=[self.scope])
        except (OSError, ValueError) as exc:
            raise MailboxError(
                f"could not reach Microsoft Entra ID for tenant {self.config.tenant_id}: {exc}"
            ) from exc
        token = result.get("access_token") if isinstance(result, dict) else None
        if not isinstance(token, str):
            # Entra ID answered and said no: the app's credentials are refused, which
            # `masp health` must report, unlike an outage that the next poll rides out.
            raise MailboxError(
                self._refusal(result if isinstance(result, dict) else {}), login_refused=True
            )
        return token

    def _refusal(self, result: dict[str, Any]) -> str:
        error = str(result.get("error") or "no token")
        detail = str(result.get("error_description") or "").splitlines()[0:1]
        return (
            f"Microsoft Entra ID (tenant {self.config.tenant_id}) refused app "
            f"{self.config.client_id} a token for {self.scope}: {error}"
            + (f" ({detail[0]})" if detail else "")
            + f". Check the app's secret or certificate, and that it has "
            f"{PERMISSIONS.get(self.scope, 'the permission it needs')} with admin consent."
        )

    def forget(self) -> None:
        """Drop the cached token (the server refused it: revoked, or its permission removed)."""
        if self._app is not None:
            self._app.remove_tokens_for_client()
