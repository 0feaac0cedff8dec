"""Targeted scans (the paths file events named): only those paths and what is below them, excludes
kept, a removed folder removed with all below it."""

from __future__ import annotations

from pathlib import Path

from fim_tray.scan.compare import compare
from fim_tray.scan.scanner import Scanner
from tests.helpers import targeted_tree


def test_only_the_named_paths_and_what_is_below_them_are_scanned(tmp_path: Path) -> None:
    root = targeted_tree(tmp_path / "w")
    result = Scanner(str(root), only={"docs", "a.txt", "docs/deep/c.txt", "gone.txt"}).run()
    assert sorted(result.entries) == ["a.txt", "docs", "docs/b.txt", "docs/deep", "docs/deep/c.txt"]
    assert result.hashed_files == 3


def test_excluded_names_stay_out_of_a_targeted_scan(tmp_path: Path) -> None:
    root = targeted_tree(tmp_path / "w")
    result = Scanner(str(root), excludes=["*.swp", "other/"], only={"x.swp", "other/d.txt"}).run()
    assert result.entries == {}


def test_an_empty_path_means_the_whole_folder(tmp_path: Path) -> None:
    root = targeted_tree(tmp_path / "w")
    whole = Scanner(str(root), excludes=[]).run()
    assert Scanner(str(root), excludes=[], only={""}).run().entries == whole.entries


def test_a_removed_folder_is_removed_with_everything_below_it(tmp_path: Path) -> None:
    root = targeted_tree(tmp_path / "w")
    baseline = Scanner(str(root)).run().entries
    for rel in ("docs/deep/c.txt", "docs/b.txt"):
        (root / rel).unlink()
    (root / "docs/deep").rmdir()
    (root / "docs").rmdir()
    result = Scanner(str(root), only={"docs"}).run()
    inside = {p: e for p, e in baseline.items() if p == "docs" or p.startswith("docs/")}
    removed = [c.path for c in compare(inside, result.entries) if c.kind == "removed"]
    assert removed == ["docs", "docs/b.txt", "docs/deep", "docs/deep/c.txt"]
