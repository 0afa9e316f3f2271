"""Every command has --help and appears in the README; the gates a newcomer relies on."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipeline.cli import app
from tests.helpers import ROOT, config_tree, masp


def commands() -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for info in app.registered_commands:
        assert info.callback is not None
        found.append((info.name or info.callback.__name__.replace("_", "-"),))
    for group in app.registered_groups:
        assert group.name is not None and group.typer_instance is not None
        for info in group.typer_instance.registered_commands:
            assert info.callback is not None
            found.append((group.name, info.name or info.callback.__name__))
    return found


@pytest.mark.parametrize("command", commands(), ids=" ".join)
def test_every_command_has_help_and_is_in_the_readme(command: tuple[str, ...]) -> None:
    result = masp(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout
    assert f"masp {' '.join(command)}" in (ROOT / "README.md").read_text()


def test_the_spec_commands_exist() -> None:
    names = {" ".join(c) for c in commands()}
    for required in (
        "run",
        "poll",
        "tick",
        "status",
        "meetings",
        "form",
        "check-config",
        "demo",
        "quarantine list",
        "quarantine replay",
    ):
        assert required in names


def test_unknown_option_exits_2() -> None:
    assert masp("status", "--no-such-option").returncode == 2


def test_status_json_on_an_empty_installation(tmp_path: Path) -> None:
    config = (ROOT / "config.yaml").read_text()
    (tmp_path / "config.yaml").write_text(config)
    result = masp("--config", str(tmp_path / "config.yaml"), "status", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []
    missing = masp("--config", str(tmp_path / "config.yaml"), "status", "MASP-2026-0001")
    assert missing.returncode == 1 and "no case" in missing.stderr and not missing.stdout


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    result = masp("demo", "--keep", str(tmp_path / "demo"))
    assert result.returncode == 0, result.stderr
    assert "Section 20" in result.stdout
    status = masp("--config", str(tmp_path / "demo" / "config.yaml"), "status", "--json")
    cases = {c["referrer"]: c for c in json.loads(status.stdout)}
    assert len(cases) == 5
    # Approved by the manager's reply, heard, and decided from the workbook the administrator
    # sent back; the Section 20 case was heard while still in screening, and decided too.
    school, health = cases["jo.example@school.example.org"], cases["lee.sample@health.example.org"]
    emergency = cases["duty@police.example.org"]
    assert emergency["state"] == "decided"
    assert emergency["section20"] is True
    # Accepted in January (with a LARP recommendation), reviewed in February.
    assert health["decision"]["outcome"] == "Accepted: multi-agency support agreed"
    assert emergency["decision"]["no_further_review"] is True
    assert "to larp@example.org: " + health["reference"] in result.stdout
    # The school's case: accepted with two actions in January, closed at its review.
    assert school["decision"]["outcome"] == "Closed: no further panel involvement"
    assert "Offer a parenting programme place" in result.stdout
    # The review lists the school's case at the next meeting, shown with its overdue action;
    # that meeting's final review closes it.
    assert "Review: " + school["reference"] in result.stdout
    assert school["state"] == "closed" and health["state"] == "decided"
    assert health["review_meeting"] > health["meeting"]
    assert "Hold a Team Around the Family meeting — Education — by " in result.stdout
    # Twelve weeks on, the Lead Professional of the case with no further review is asked.
    assert emergency["follow_up"]["asked_at"] is not None
    assert "outcomes of the agreed actions, please [follow-up:" in result.stdout
    # Still incomplete at the deadline: moved on, meeting after meeting.
    deferred = cases["max.madeup@charity.example.org"]
    assert deferred["state"] == "incomplete" and deferred["missing"] == ["assessment"]
    assert deferred["meeting"] > school["meeting"]
    assert "The pack: version 1" in result.stdout
    # The pack shown is the meeting's, with its cases (not a later, empty one).
    shown = result.stdout.split("The pack: version 1", 1)[1].split("\n", 1)[0]
    assert school["reference"] in shown and health["reference"] in shown
    # The final table is as of the story's last day (twelve weeks on): actions are overdue.
    assert "OVERDUE" in result.stdout


def test_demo_chooses_its_meeting_from_the_one_clock() -> None:
    # From 2 November the next meeting is on 10 November; the demo stages the one after it.
    result = masp("--now", "2026-11-02T09:00:00+00:00", "demo")
    assert result.returncode == 0, result.stderr
    assert "the month before the meeting on Tuesday 08 December 2026." in result.stdout


def test_form_command_writes_our_form(tmp_path: Path) -> None:
    out = tmp_path / "form.docx"
    assert masp("form", "--out", str(out)).returncode == 0
    assert out.read_bytes()[:2] == b"PK"


def test_commands_collect_garbage_once_their_libraries_are_loaded(tmp_path: Path) -> None:
    """`main` pauses the cyclic collector while a command imports its libraries (start-up
    speed); once the command has its config and store, collection is back on, so `masp run`
    and other long commands never grow without bound."""
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config_tree()))
    probe = (
        "import atexit, gc, sys; atexit.register(lambda: print('collecting', gc.isenabled())); "
        "from pipeline.cli import main; sys.argv = ['masp', *sys.argv[1:]]; main()"
    )
    for command in (["status", "--json"], ["check-config"]):
        done = subprocess.run(
            [sys.executable, "-c", probe, "--config", str(tmp_path / "config.yaml"), *command],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.stdout.rstrip().endswith("collecting True"), done.stdout + done.stderr
