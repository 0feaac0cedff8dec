"""The writer hint: a process of this user with a file open for writing is found through /proc
within its short budget; a reader, another file or no process at all leave nothing."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fim_tray.models import Writer
from fim_tray.platform.writers import writers

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")
HOLD = (
    "import sys, time; f = open(sys.argv[1], sys.argv[2]); print('open', flush=True); "
    "time.sleep(30)"
)


@pytest.fixture
def holding() -> Iterator[list[subprocess.Popen[str]]]:
    children: list[subprocess.Popen[str]] = []
    yield children
    for child in children:
        child.kill()
        child.wait()


def _hold(children: list[subprocess.Popen[str]], path: Path, mode: str) -> int:
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path), mode], stdout=subprocess.PIPE, text=True
    )
    children.append(child)
    assert child.stdout is not None and child.stdout.readline().strip() == "open"
    return child.pid


def test_a_process_writing_a_file_is_found(
    tmp_path: Path, holding: list[subprocess.Popen[str]]
) -> None:
    log = tmp_path / "app.log"
    log.write_text("")
    pid = _hold(holding, log, "a")
    found = writers([str(log), str(tmp_path / "other")], budget=5.0)
    assert list(found) == [str(log)]
    assert found[str(log)].pid == pid and "python" in found[str(log)].name
    assert str(found[str(log)]) == f"{found[str(log)].name} (pid {pid})"


def test_a_reader_is_no_writer(tmp_path: Path, holding: list[subprocess.Popen[str]]) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("x")
    _hold(holding, notes, "r")
    assert writers([str(notes)], budget=5.0) == {}


def test_nothing_is_claimed_when_nobody_holds_it(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("x")
    assert writers([str(tmp_path / "a")]) == {}
    assert writers([]) == {}


def test_a_writer_reads_as_a_hint() -> None:
    assert str(Writer("gedit", 4321)) == "gedit (pid 4321)"
