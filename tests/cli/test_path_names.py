"""One folder, many names: relative, with ``..``, with a trailing slash, through a linked parent.
Every command takes each of them as the same watched folder, and never adds it twice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fim_tray.cli.output import EXIT_CHANGES, EXIT_OK
from tests.helpers import cli, make_tree


@pytest.fixture
def place(tmp_path: Path) -> Path:
    """``real/w`` (the folder), ``real/sub`` (for ``..``) and ``link`` -> ``real``."""
    make_tree(tmp_path / "real" / "w", {"a.txt": "one\n", "b.txt": "two\n"})
    (tmp_path / "real" / "sub").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    return tmp_path


NAMES = ["w", "./w/", "sub/../w", "w//", "{abs}/w/", "{link}/w", "../link/w", "../link/sub/../w"]


def named(name: str, place: Path) -> str:
    return name.format(abs=place / "real", link=place / "link")


def folders(home: Path) -> list[str]:
    run = cli("list", "--json", home=home)
    assert run.returncode == EXIT_OK, run.err
    return [json.loads(line)["folder"] for line in run.out.splitlines()]


@pytest.mark.parametrize("first", ["w", "{link}/w", "./w/"])
def test_every_name_is_the_same_folder(first: str, place: Path, home: Path) -> None:
    cwd = place / "real"
    real = str((place / "real" / "w").resolve())
    assert cli("add", named(first, place), home=home, cwd=cwd).returncode == EXIT_OK
    assert folders(home) == [real]
    (place / "real" / "w" / "a.txt").write_text("changed\n")
    for name in NAMES:
        where = cwd if not name.startswith("../") else place / "real" / "sub"
        name = name.replace("../link", "../../link")  # from real/sub: the link two floors up
        again = cli("add", named(name, place), home=home, cwd=where)
        assert again.returncode == EXIT_OK and "already watched" in again.err, (name, again.err)
        check = cli("check", "--json", named(name, place), home=home, cwd=where)
        assert check.returncode == EXIT_CHANGES, (name, check.err)
        assert [json.loads(line)["path"] for line in check.out.splitlines()] == ["a.txt"]
        assert json.loads(check.out.splitlines()[0])["folder"] == real
    assert folders(home) == [real]  # never added twice

    accept = cli("accept", "./w/", "--file", "w/a.txt", home=home, cwd=cwd)
    assert accept.returncode == EXIT_OK, accept.err
    assert "accepted modified a.txt" in accept.err
    removed = cli("remove", named("{link}/w/", place), home=home, cwd=cwd)
    assert removed.returncode == EXIT_OK, removed.err
    assert folders(home) == []
