"""The `web:` section of config.yaml: validated with the key named, secrets from outside."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import parse_config
from pipeline.errors import ConfigError
from tests.helpers import config_tree


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"web__session_minutes": 0}, "web.session_minutes"),
        ({"web__max_failed_sign_ins": 0}, "web.max_failed_sign_ins"),
        ({"web__oidc": {"roles": {"a@example.org": "king"}}}, "web.oidc.roles.a@example.org"),
        ({"web__no_such_key": True}, "web.no_such_key"),
    ],
)
def test_a_bad_web_key_is_named(tmp_path: Path, overrides: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(config_tree(**overrides), tmp_path, env={})
    assert caught.value.key == key


def test_the_console_secrets_come_from_the_environment_or_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "client-secret"
    secret.write_text("from-a-file\n")
    env = {
        "MASP_WEB_SESSION_SECRET": "from-the-environment",
        "MASP_WEB_OIDC_CLIENT_SECRET_FILE": str(secret),
    }
    config = parse_config(config_tree(), tmp_path, env=env)
    assert config.web.session_secret == "from-the-environment"
    assert config.web.oidc.client_secret == "from-a-file"


def test_roles_are_matched_by_address_in_any_case(tmp_path: Path) -> None:
    tree = config_tree(web__oidc={"roles": {"Chair@Example.ORG": "chair"}})
    config = parse_config(tree, tmp_path, env={})
    assert dict(config.web.oidc.roles) == {"chair@example.org": "chair"}
