"""Children of the tray (its windows, the tray at login) start this installation's fim-tray, never
a ``fim_tray`` planted in the folder the tray was started from."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fim_tray.platform.launch import child_env, safe_cwd, self_command


def _hostile_folder(tmp_path: Path) -> tuple[Path, Path]:
    """A working folder holding a ``fim_tray`` package that leaves a marker when imported."""
    folder = tmp_path / "downloads"
    marker = tmp_path / "PWNED"
    planted = f"open({str(marker)!r}, 'w').close()\n"
    (folder / "fim_tray").mkdir(parents=True)
    (folder / "fim_tray" / "__init__.py").write_text(planted)
    (folder / "fim_tray" / "__main__.py").write_text(planted)
    return folder, marker


def test_a_fim_tray_in_the_working_folder_is_never_run(tmp_path: Path) -> None:
    folder, marker = _hostile_folder(tmp_path)
    done = subprocess.run(
        [*self_command(), "--version"], cwd=folder, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("fim-tray ")
    assert not marker.exists()
    # What the plain `python -m fim_tray` did: the planted package runs (so this test can fail).
    subprocess.run([sys.executable, "-m", "fim_tray", "--version"], cwd=folder, timeout=60,
                   capture_output=True, check=False)  # fmt: skip
    assert marker.exists()


def test_children_start_in_the_home_folder() -> None:
    assert Path(safe_cwd()) == Path.home()


def test_a_frozen_build_starts_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    assert self_command()[0] == sys.executable
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert self_command() == [sys.executable]


def test_an_empty_entry_in_pythonpath_cannot_bring_the_working_folder_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, marker = _hostile_folder(tmp_path)
    absolute = str(Path(__file__).resolve().parents[2])  # this checkout: kept
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(["", "relative/dir", absolute]))
    env = child_env()
    assert env["PYTHONPATH"] == absolute
    done = subprocess.run(
        [*self_command(), "--version"], cwd=folder, env=env, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0 and not marker.exists(), done.stderr
    # With the environment as it was, -P alone is not enough (so this test can fail).
    subprocess.run([*self_command(), "--version"], cwd=folder, capture_output=True, timeout=60,
                   check=False)  # fmt: skip
    assert marker.exists()
