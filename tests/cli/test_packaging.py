"""Councils install a wheel, not a checkout: it must carry everything the service reads."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.helpers import ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(folder), str(ROOT)],
        check=True,
        capture_output=True,
    )
    [built] = folder.glob("*.whl")
    return built


def test_the_wheel_carries_every_email_template_and_the_decision_sheet(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA")))
    shipped = {Path(n).name for n in names if n.startswith("pipeline/mail_templates/")}
    expected = {
        p.name for p in (ROOT / "mail_templates").iterdir() if p.suffix in (".txt", ".html")
    }
    assert shipped == expected
    assert "pipeline/outputs/templates/decision_sheet.docx" in names
    assert any(name.endswith("migrations/versions/0004_fixintake.py") for name in names)
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)
    assert b"License-Expression: MIT" in metadata
    # GPL code stays out of the core install: .msg support is the `msg` extra.
    requires = [line for line in metadata.decode().splitlines() if line.startswith("Requires")]
    assert [r for r in requires if "extract-msg" in r] == [
        'Requires-Dist: extract-msg<0.58,>=0.48; extra == "msg"'
    ]


def installed(wheel: Path, venv: Path) -> Path:
    """The wheel installed into a fresh venv outside the checkout, as a council installs it:
    its own dependencies from the package index, at the tested versions (constraints.txt), and
    nothing of the test extra. Returns the venv's bin folder.

    pip's cache holds what scripts/test.sh installed a moment ago, so this is quick; and it is
    the only check that the core install declares every library the service imports.
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            python,
            "install",
            "-q",
            "-c",
            str(ROOT / "constraints.txt"),
            str(wheel),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return venv / "bin"


def run(bin_folder: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # Nothing of the test run's: its path, its config, its database.
    ours = ("PYTHONPATH", "MASP_CONFIG", "MASP_DATABASE", "MASP_TEST_DATABASE")
    env = {k: v for k, v in os.environ.items() if k not in ours}
    return subprocess.run(
        [str(bin_folder / args[0]), *args[1:]],
        cwd=cwd,
        env={**env, "COLUMNS": "80"},
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_installed_wheel_runs_the_demo_and_writes_the_form(wheel: Path, tmp_path: Path) -> None:
    bin_folder = installed(wheel, tmp_path / "venv")
    away = tmp_path / "elsewhere"
    away.mkdir()
    where = run(bin_folder, away, "python", "-c", "import pipeline; print(pipeline.__file__)")
    assert where.stdout.startswith(str(tmp_path / "venv")), where.stdout + where.stderr
    version = run(bin_folder, away, "masp", "--version")
    assert (version.returncode, version.stdout) == (0, "masp-pipeline 0.1.0\n")
    demo = run(bin_folder, away, "masp", "demo")
    assert demo.returncode == 0, demo.stderr
    assert "Section 20" in demo.stdout
    form = run(bin_folder, away, "masp", "form", "--out", "blank.docx")
    assert form.returncode == 0, form.stderr
    assert "Wrote the blank referral form to blank.docx" in form.stdout
    with zipfile.ZipFile(away / "blank.docx") as document:
        assert "word/document.xml" in document.namelist()
