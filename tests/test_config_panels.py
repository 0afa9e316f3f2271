"""Many panels in one installation: each panel's own people (falling back to the
installation's), its own templates and its own addresses, each checked with the key named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline.config import Config, load_config, parse_config
from pipeline.errors import ConfigError
from pipeline.templates import TEMPLATE_DIR, Templates
from tests.helpers import ROOT, config_tree, masp

MEETINGS = {"rrule": "FREQ=WEEKLY;INTERVAL=2;BYDAY=WE", "time": "14:00"}
NORTH_SM = {"name": "N Manager", "email": "north.sm@example.org"}
CAF = {"name": "C Coordinator", "email": "caf.north@example.org"}


def tree(**north: Any) -> dict[str, Any]:
    """The test config with a second panel, MASG North, given `north`'s keys."""
    found = config_tree()
    found["panels"].append(
        {"id": "masg-north", "name": "MASG North", "meetings": MEETINGS, **north}
    )
    return found


def parsed(found: dict[str, Any], folder: Path = Path(".")) -> Config:
    return parse_config(found, folder, env={})


def test_a_panel_gives_some_people_and_the_installation_the_rest() -> None:
    people = {"service_managers": [NORTH_SM], "caf_coordinator": CAF, "chair": None}
    config = parsed(tree(people=people))
    north, masp_people = config.people_of("masg-north"), config.people_of("masp")
    assert [p.email for p in north.screeners] == ["north.sm@example.org", "caf.north@example.org"]
    # Left out (or null): the installation's.
    assert north.administrator.email == "admin@example.org"
    assert north.chair.email == "chair@example.org"
    assert masp_people == config.people
    assert [p.email for p in masp_people.screeners] == ["sm@example.org"]
    # A case of a panel no longer configured, or none at all: the installation's people.
    assert config.people_of("gone") == config.people == config.people_of(None)


def test_an_empty_list_means_nobody_and_the_coordinator_alone_screens() -> None:
    config = parsed(tree(people={"service_managers": [], "caf_coordinator": CAF, "members": []}))
    north = config.people_of("masg-north")
    assert [p.email for p in north.screeners] == ["caf.north@example.org"]
    assert north.members == ()


def test_a_screener_named_twice_screens_once() -> None:
    same = {"name": "Same", "email": "North.SM@example.org"}
    config = parsed(tree(people={"service_managers": [NORTH_SM], "caf_coordinator": same}))
    assert [p.name for p in config.people_of("masg-north").screeners] == ["N Manager"]


@pytest.mark.parametrize(
    ("north", "key", "says"),
    [
        ({"addresses": ["not an address"]}, "panels[1].addresses[0]", "pattern"),
        (
            {"addresses": ["masg-north@example.org", "panel@example.org"]},
            "panels[1].addresses[1]",
            "the shared inbox itself",
        ),
        (
            {"addresses": ["panel+masp@example.org"]},
            "panels[1].addresses[0]",
            "plus address of mailbox.address",
        ),
        (
            {"people": {"caf_coordinator": {"name": "X"}}},
            "panels[1].people.caf_coordinator.email",
            "",
        ),
        (
            {"people": {"members": [{"name": "M", "email": "m@x"}]}},
            "panels[1].people.members[0].email",
            "",
        ),
        ({"people": {"screeners": []}}, "panels[1].people.screeners", "Extra inputs"),
    ],
)
def test_bad_panel_values_name_their_key(north: dict[str, Any], key: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parsed(tree(**north))
    assert caught.value.key == key
    assert f"config key '{key}'" in str(caught.value) and says in str(caught.value)


def test_an_alias_means_one_panel_only() -> None:
    found = tree(addresses=["MASG-North@example.org"])
    found["panels"][0]["addresses"] = ["masg-north@example.org"]
    with pytest.raises(ConfigError) as caught:
        parsed(found)
    assert caught.value.key == "panels[1].addresses[0]"
    assert "already an address of panel masp" in str(caught.value)
    assert parsed(tree(addresses=["MASG-North@Example.org"])).panels[1].addresses == (
        "masg-north@example.org",
    )


# -- a panel's own templates --------------------------------------------------------------------


def test_a_panel_template_replaces_the_shipped_one_for_that_panel_only(tmp_path: Path) -> None:
    own = tmp_path / "north-templates"
    own.mkdir()
    (own / "no_attachment.txt").write_text(
        "Subject: MASG North: please attach your referral\n\nWrite to {{ panel_address }}.\n"
    )
    (own / "_base.html").write_text(
        "<p>MASG North</p>{% block body %}{% endblock %}<p>{{ panel_address }}</p>"
    )
    templates = Templates.for_config(parsed(tree(templates="north-templates"), tmp_path))
    context = {"panel_address": "<panel@example.org>", "problems": []}
    north = templates.render("no_attachment", context, "masg-north")
    assert north.subject == "MASG North: please attach your referral"
    assert north.text == "Write to <panel@example.org>.\n"
    # The shipped HTML body, inside the panel's own frame, whose values are still escaped.
    assert north.html.startswith("<p>MASG North</p>") and "&lt;panel@example.org&gt;" in north.html
    shipped = templates.render("no_attachment", context, "masp")
    assert shipped == templates.render("no_attachment", context)
    assert "MASG North" not in shipped.subject + shipped.html


def test_a_panel_template_is_strict_too(tmp_path: Path) -> None:
    from jinja2 import UndefinedError

    own = tmp_path / "own"
    own.mkdir()
    (own / "no_attachment.txt").write_text("Subject: {{ no_such_value }}\n\nHi.\n")
    templates = Templates.for_config(parsed(tree(templates=str(own))))
    with pytest.raises(UndefinedError):
        templates.render("no_attachment", {"panel_address": "p", "problems": []}, "masg-north")


@pytest.mark.parametrize(
    ("files", "says"),
    [
        (None, "is not a folder of templates"),
        ({"acknowledgment.txt": "Subject: x\n\ny\n"}, "acknowledgment.txt in"),
        ({"acknowledgement.txt": "Subject: {% if %}\n"}, "acknowledgement.txt in"),
    ],
)
def test_a_bad_template_folder_stops_the_start_naming_the_panel_and_file(
    tmp_path: Path, files: dict[str, str] | None, says: str
) -> None:
    own = tmp_path / "own"
    if files is not None:
        own.mkdir()
        for name, text in files.items():
            (own / name).write_text(text)
    with pytest.raises(ConfigError) as caught:
        Templates.for_config(parsed(tree(templates="own"), tmp_path))
    assert caught.value.key == "panels[1].templates"
    assert says in str(caught.value)


def test_every_shipped_file_may_be_replaced(tmp_path: Path) -> None:
    own = tmp_path / "own"
    own.mkdir()
    for path in TEMPLATE_DIR.iterdir():
        (own / path.name).write_bytes(path.read_bytes())
    (own / ".DS_Store").write_bytes(b"\0")
    Templates.for_config(parsed(tree(templates="own"), tmp_path))


def test_check_config_refuses_a_typo_in_a_panel_template_with_status_2(tmp_path: Path) -> None:
    (tmp_path / "own").mkdir()
    (tmp_path / "own" / "timeslots.txt").write_text("Subject: x\n\ny\n")
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(tree(templates="own")))
    done = masp("--config", str(tmp_path / "config.yaml"), "check-config")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "panels[1].templates" in done.stderr and "timeslots.txt" in done.stderr


def test_the_shipped_config_documents_and_uses_each_panel_key() -> None:
    lines = (ROOT / "config.yaml").read_text().splitlines()
    for key in ("addresses:", "templates:", "people:", "caf_coordinator:", "service_managers:"):
        found = [i for i, line in enumerate(lines) if line.strip().startswith(key)]
        assert found, key
        for i in found:
            assert lines[i - 1].strip().startswith("#"), f"no comment above line {i + 1}"
    config = load_config(ROOT / "config.yaml")
    north = config.people_of("masg-north")
    assert [p.email for p in north.screeners] == ["caf.north@example.org"]
    assert north.administrator == config.people.administrator
    assert config.panels[1].addresses == ("masg-north@example.org",)


def test_check_config_names_a_bad_alias_by_its_place_with_status_2(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(
        yaml.safe_dump(tree(addresses=["masg-north@example.org", "masg north@example.org"]))
    )
    done = masp("--config", str(tmp_path / "config.yaml"), "check-config")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "config key 'panels[1].addresses[1]'" in done.stderr


def test_check_config_says_how_mail_reaches_each_panel_and_who_screens(tmp_path: Path) -> None:
    (tmp_path / "own").mkdir()
    people = {"service_managers": [], "caf_coordinator": CAF}
    found = tree(addresses=["masg-north@example.org"], people=people, templates="own")
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(found))
    done = masp("--config", str(tmp_path / "config.yaml"), "check-config")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert "panel masp: mail to panel+masp@example.org; screened by sm@example.org" in lines
    assert (
        "panel masg-north: mail to masg-north@example.org, panel+masg-north@example.org; "
        f"screened by caf.north@example.org; its own templates in {tmp_path / 'own'}"
    ) in lines
