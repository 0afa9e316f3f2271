"""Single sign-on with Microsoft Entra ID: OpenID Connect, authorization code with PKCE."""

from __future__ import annotations

from starlette.routing import BaseRoute

from pipeline.config import OidcConfig


class Provider:
    def __init__(self, config: OidcConfig) -> None:
        self.config = config


public_routes: list[BaseRoute] = []
