"""`masp check-config`: connect to the configured mailbox and mail server and say what was found."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from pipeline.config import Config
from pipeline.errors import PipelineError
from pipeline.mailbox.registry import open_sender, open_source


def check_mailbox(config: Config, console: Console) -> bool:
    """Print plain-English facts or failures; return True when both sides work."""
    ok = True
    try:
        with open_source(config) as source:
            console.print(f"[green]Inbox ({escape(config.mailbox.backend)}) reachable:[/green]")
            for fact in source.describe():
                console.print(f"  - {fact}", markup=False, highlight=False)
    except PipelineError as exc:
        ok = False
        console.print(f"[red]Inbox: {escape(str(exc))}[/red]", highlight=False)
    try:
        sender = open_sender(config)
        try:
            facts = sender.describe()
        finally:
            sender.close()
        console.print("[green]Sending works:[/green]")
        for fact in facts:
            console.print(f"  - {fact}", markup=False, highlight=False)
    except PipelineError as exc:
        ok = False
        console.print(f"[red]Sending: {escape(str(exc))}[/red]", highlight=False)
    return ok
