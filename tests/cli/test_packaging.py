"""Councils install a wheel, not a checkout: it must carry everything the service reads."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from tests.helpers import ROOT


def test_the_wheel_carries_every_email_template(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )
    [wheel] = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = {
            Path(name).name
            for name in archive.namelist()
            if "/data/share/masp/mail_templates/" in name
        }
        names = archive.namelist()
    expected = {
        p.name for p in (ROOT / "mail_templates").iterdir() if p.suffix in (".txt", ".html")
    }
    assert shipped == expected
    assert any(name.endswith("migrations/versions/0004_fixintake.py") for name in names)
