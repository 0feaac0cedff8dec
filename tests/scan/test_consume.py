"""Unit tests of a check's scan that consumes its baseline (Scanner(consume=True)): it keeps only
what differs, takes what is unchanged out of the baseline, and the comparison of what is left of
each finds exactly the changes a comparison of two whole records finds."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from fim_tray.models import Change
from fim_tray.records import Records
from fim_tray.scan import dirwalk, hashpool
from fim_tray.scan import processes as processes_module
from fim_tray.scan import record as record_module
from fim_tray.scan.compare import compare
from fim_tray.scan.record import Recorder
from fim_tray.scan.scanner import Scanner
from tests.scan.test_processes import forked as forked  # a fixture


def _tree(root: Path) -> None:
    for d in range(12):
        sub = root / f"d{d}" / "inner"
        sub.mkdir(parents=True)
        for i in range(30):
            (sub / f"f{i}.txt").write_bytes(b"x" * (i * 37))
        if d < 4:
            (root / f"d{d}" / "big.bin").write_bytes(os.urandom(3 * 1024 * 1024))
    (root / "gone").mkdir()
    (root / "gone" / "a").write_text("a")
    for i in range(40):  # files in the root too: whichever process lists it
        (root / f"top{i}").write_text(str(i))
    (root / "link").symlink_to("d0")
    os.mkfifo(root / "pipe")


def _change_everything(root: Path) -> None:
    (root / "d0" / "inner" / "f1.txt").write_text("new content")  # modified
    (root / "d1" / "inner" / "f2.txt").chmod(0o600)  # metadata
    (root / "d2" / "inner" / "f3.txt").unlink()  # removed
    (root / "d2" / "inner" / "new.txt").write_text("n")  # added
    (root / "d3" / "big.bin").write_bytes(os.urandom(3 * 1024 * 1024))  # a big file changed
    (root / "gone" / "a").unlink()
    (root / "gone").rmdir()  # a folder and its file removed
    (root / "link").unlink()
    (root / "link").symlink_to("d1")  # a link's target
    (root / "d1" / "inner").chmod(0o700)  # a folder's permissions


def _keys(changes: list[Change]) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(c.kind, c.path, c.fields) for c in changes]


@pytest.mark.parametrize(
    ("full", "processes"),
    [(False, False), (True, False), (True, True)],
    ids=["quick", "full", "workers"],
)
def test_a_consuming_scan_finds_exactly_the_changes_of_a_whole_comparison(
    tmp_path: Path,
    full: bool,
    processes: bool,
    forked: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = tmp_path / "w"
    root.mkdir()
    _tree(root)
    first = Scanner(str(root)).run()
    assert isinstance(first.entries, Records)
    _change_everything(root)
    whole = Scanner(str(root), previous=first.entries.copy(), full=full).run()
    expected = compare(first.entries, whole.entries, whole.unlisted)
    baseline = first.entries.copy()
    here: list[str] = []  # the folders this process scanned itself, beside its workers
    real = processes_module._scan_folder

    def spy(template: Recorder, opener: Any, prefix: str, tell: Any) -> Any:
        here.append(prefix)
        return real(template, opener, prefix, tell)

    monkeypatch.setattr(processes_module, "_scan_folder", spy)
    monkeypatch.setattr(processes_module, "IN_FLIGHT", 1)  # so this one takes folders too
    consumed = Scanner(
        str(root), previous=baseline, full=full, processes=processes, consume=True
    ).run()
    assert bool(forked) == processes  # the folders shared among worker processes
    assert bool(here) == processes
    got = compare(baseline, consumed.entries, consumed.unlisted)
    assert _keys(got) == _keys(expected)
    assert len(expected) == 9  # every change made, each once
    assert consumed.files == whole.files == len(whole.entries)
    # Only what differs is kept (and the folders): far fewer than the tree.
    assert len(consumed.entries) < len(whole.entries) // 4
    assert len(baseline) < len(first.entries) // 4


def test_an_unchanged_tree_leaves_nothing_but_its_folders_on_either_side(tmp_path: Path) -> None:
    root = tmp_path / "w"
    root.mkdir()
    _tree(root)
    first = Scanner(str(root)).run()
    assert isinstance(first.entries, Records)
    baseline = first.entries.copy()
    again = Scanner(str(root), previous=baseline, consume=True).run()
    assert compare(baseline, again.entries) == []
    folders = {p for p, e in first.entries.items() if e.type == "dir"}
    assert set(again.entries) == folders == set(baseline)
    assert again.files == len(first.entries)


def test_a_folder_that_vanishes_after_it_was_listed_is_reported_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "w"
    root.mkdir()
    _tree(root)
    first = Scanner(str(root)).run()
    assert isinstance(first.entries, Records)
    baseline = first.entries.copy()
    real = dirwalk.list_folder

    def vanish(folder: str, parent: Any) -> Any:  # "gone" goes once its parent listed it
        if folder.endswith("/gone"):
            (root / "gone" / "a").unlink()
            (root / "gone").rmdir()
        return real(folder, parent)

    monkeypatch.setattr(record_module, "list_folder", vanish)
    again = Scanner(str(root), previous=baseline, consume=True, hash_workers=0).run()
    changes = compare(baseline, again.entries, again.unlisted)
    assert [(c.kind, c.path) for c in changes] == [("removed", "gone"), ("removed", "gone/a")]


def test_a_big_file_hashed_on_a_worker_thread_is_consumed_when_unchanged(tmp_path: Path) -> None:
    root = tmp_path / "w"
    root.mkdir()
    _tree(root)
    first = Scanner(str(root)).run()
    assert isinstance(first.entries, Records)
    baseline = first.entries.copy()
    assert os.path.getsize(root / "d0" / "big.bin") >= hashpool.BIG_FILE
    again = Scanner(str(root), previous=baseline, full=True, consume=True, hash_workers=2).run()
    assert again.hashed_files == sum(1 for e in first.entries.values() if e.type == "file")
    assert "d0/big.bin" not in again.entries and "d0/big.bin" not in baseline
    assert compare(baseline, again.entries, again.unlisted) == []


def test_a_tree_whose_every_ctime_moved_is_still_held_once(tmp_path: Path) -> None:
    """A ``chown -R`` to the same owner moves every ctime, which no comparison reports: each
    file is hashed again, and taken out of the baseline as unchanged, never kept twice."""
    root = tmp_path / "w"
    root.mkdir()
    _tree(root)
    first = Scanner(str(root)).run()
    assert isinstance(first.entries, Records)
    for path in root.rglob("*"):
        if not path.is_symlink():
            path.chmod(path.stat().st_mode & 0o7777)  # the same mode: only ctime moves
    baseline = first.entries.copy()
    again = Scanner(str(root), previous=baseline, consume=True).run()
    files = sum(1 for e in first.entries.values() if e.type == "file")
    assert again.hashed_files == files  # ctime moved: read again
    assert compare(baseline, again.entries, again.unlisted) == []
    assert all(e.type in ("dir", "symlink") for e in again.entries.values())
