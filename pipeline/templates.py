"""Email templates by name from `mail_templates/`, rendered with Jinja2 in strict mode.

Each email NAME has `NAME.txt` (first line `Subject: …`, a blank line, then the text body)
and `NAME.html` (the HTML body). A missing variable is an error, never an empty gap.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from pipeline.errors import PipelineError

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


class Templates:
    """Renders the named email's subject, text and HTML from one context."""

    def __init__(self, folder: Path = TEMPLATE_DIR) -> None:
        self.folder = folder
        self.env = Environment(
            loader=FileSystemLoader(str(folder)),
            undefined=StrictUndefined,
            autoescape=select_autoescape(enabled_extensions=("html",), default=False),
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )

    def names(self) -> list[str]:
        return sorted(p.stem for p in self.folder.glob("*.txt") if not p.name.startswith("_"))

    def render(self, name: str, context: dict[str, Any]) -> Rendered:
        text = self.env.get_template(f"{name}.txt").render(context)
        head, _, body = text.partition("\n")
        if not head.startswith("Subject: "):
            raise PipelineError(f"template {name}.txt must start with a 'Subject: ' line")
        body = body.lstrip("\n")
        html = self.env.get_template(f"{name}.html").render(context)
        return Rendered(subject=head.removeprefix("Subject: ").strip(), text=body, html=html)
