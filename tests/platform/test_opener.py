"""Opening a folder in the file manager: only the absolute path of a folder is ever handed on,
never a web address, a program or a relative name a forged history line may hold."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fim_tray.platform import opener


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    commands: list[list[str]] = []

    def popen(command: list[str], **_kwargs: Any) -> None:
        commands.append(command)

    monkeypatch.setattr(subprocess, "Popen", popen)
    return commands


@pytest.mark.parametrize(
    "path",
    ["https://example.org/", "file:///etc", "relative/folder", "", "-h"],
)
def test_anything_but_an_absolute_folder_is_refused(path: str, started: list[list[str]]) -> None:
    assert opener.open_folder(path) is False
    assert started == []


def test_a_file_or_a_program_is_refused(tmp_path: Path, started: list[list[str]]) -> None:
    program = tmp_path / "run.sh"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    assert opener.open_folder(str(program)) is False
    assert opener.open_folder(str(tmp_path / "missing")) is False
    assert started == []


@pytest.mark.skipif(sys.platform == "win32", reason="Windows opens folders with startfile")
def test_a_folder_is_opened_and_never_launched(tmp_path: Path, started: list[list[str]]) -> None:
    bundle = tmp_path / "Some.app"
    bundle.mkdir()
    assert opener.open_folder(str(bundle)) is True
    expected = ["open", "-R"] if sys.platform == "darwin" else ["xdg-open"]
    assert started == [[*expected, str(bundle)]]
