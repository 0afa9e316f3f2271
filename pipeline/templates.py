"""Email templates by name from `mail_templates/`, rendered with Jinja2 in strict mode.

Each email NAME has `NAME.txt` (first line `Subject: …`, a blank line, then the text body)
and `NAME.html` (the HTML body). A missing variable is an error, never an empty gap.

A panel may give a folder of its own (`panels[].templates`): a file there replaces the file of
the same name in `mail_templates/` for that panel's emails, partials (`_base.html`) included.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    select_autoescape,
)

from pipeline.config import Config, key_name
from pipeline.errors import ConfigError, PipelineError

# The folder is kept at the top of the checkout, where councils edit it (SPEC §5);
# `pipeline/mail_templates` is a symbolic link to it, so a checkout, an editable install and a
# built wheel (which carries real copies: setuptools follows the link) all find it in one place.
# The package is always installed as files on disk, never zipped, so this is a real folder.
TEMPLATE_DIR = Path(str(files("pipeline") / "mail_templates"))


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def _environment(loader: BaseLoader) -> Environment:
    return Environment(
        loader=loader,
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html",), default=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


class Templates:
    """Renders the named email's subject, text and HTML from one context; with `panel`, from
    that panel's own templates where it has them (`overrides`: folders by panel id)."""

    def __init__(
        self, folder: Path = TEMPLATE_DIR, overrides: Mapping[str, Path] | None = None
    ) -> None:
        self.folder = folder
        self.env = _environment(FileSystemLoader(str(folder)))
        # Strict and escaping as the shipped templates are: an override cannot turn either off.
        self.panel_envs = {
            panel: _environment(
                ChoiceLoader([FileSystemLoader(str(own)), FileSystemLoader(str(folder))])
            )
            for panel, own in (overrides or {}).items()
        }

    @classmethod
    def for_config(cls, config: Config, folder: Path = TEMPLATE_DIR) -> Templates:
        """The templates with each panel's own folder, checked: a folder that is missing, or
        a file in it that replaces no template or does not compile, is a config error naming
        the panel's key (and the file)."""
        overrides = {}
        for i, panel in enumerate(config.panels):
            if panel.templates is not None:
                key = key_name(("panels", i, "templates"))
                overrides[panel.id] = check_override_folder(
                    config.path(panel.templates), key, folder
                )
        return cls(folder, overrides)

    def names(self) -> list[str]:
        return sorted(p.stem for p in self.folder.glob("*.txt") if not p.name.startswith("_"))

    def render(self, name: str, context: dict[str, Any], panel: str | None = None) -> Rendered:
        env = self.panel_envs.get(panel or "", self.env)
        text = env.get_template(f"{name}.txt").render(context)
        head, _, body = text.partition("\n")
        if not head.startswith("Subject: "):
            raise PipelineError(f"template {name}.txt must start with a 'Subject: ' line")
        body = body.lstrip("\n")
        html = env.get_template(f"{name}.html").render(context)
        return Rendered(subject=head.removeprefix("Subject: ").strip(), text=body, html=html)


def check_override_folder(own: Path, key: str, folder: Path = TEMPLATE_DIR) -> Path:
    """`own` if it is a folder whose every file replaces a template of `folder` and compiles."""
    if not own.is_dir():
        raise ConfigError(key, f"{own} is not a folder of templates")
    known = {p.name for p in folder.iterdir() if p.is_file()}
    env = _environment(ChoiceLoader([FileSystemLoader(str(own)), FileSystemLoader(str(folder))]))
    # Hidden files (an editor's or a file manager's) are not templates anyone wrote.
    for path in sorted(p for p in own.iterdir() if not p.name.startswith(".")):
        if path.name not in known:
            raise ConfigError(
                key,
                f"{path.name} in {own} replaces no template: its name must be one of the files "
                "in mail_templates/ (e.g. acknowledgement.txt)",
            )
        try:
            env.get_template(path.name)
        except (TemplateError, UnicodeDecodeError) as exc:
            raise ConfigError(key, f"{path.name} in {own} cannot be read: {exc}") from exc
    return own
