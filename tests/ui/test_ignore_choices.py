"""The "Ignore..." chooser's patterns: anchored where they should be, escaped, and each one
covering what its label says."""

from __future__ import annotations

from pathlib import Path

from fim_tray.app.ignore import check_pattern, covers
from fim_tray.scan.excludes import Excluder
from fim_tray.ui.ignore import choices


def _covers(pattern: str, rel: str) -> bool:
    return covers(Excluder([pattern]), rel, False, 0o644)


def test_four_choices_for_a_file_in_a_subfolder() -> None:
    found = choices({"folder": "/w", "path": "logs/app.log"})
    assert [p for _label, p in found] == ["logs/app.log", "/logs/", "logs/*.log", "*.log"]
    assert found[3][0] == "Files like *.log everywhere in this watched folder"
    assert _covers("logs/app.log", "logs/app.log")
    assert not _covers("logs/app.log", "other/logs/app.log")
    assert _covers("/logs/", "logs/deep/x.txt") and not _covers("/logs/", "a/logs/x.txt")
    assert _covers("logs/*.log", "logs/b.log") and not _covers("logs/*.log", "b.log")
    assert _covers("*.log", "a/b/c.log")


def test_a_top_level_file_has_no_folder_choice_and_odd_names_are_escaped() -> None:
    found = [p for _label, p in choices({"folder": "/w", "path": "we[ir]d*.txt"})]
    assert found == ["/we[[]ir]d[*].txt", "/*.txt", "*.txt"]
    assert _covers(found[0], "we[ir]d*.txt") and not _covers(found[0], "wed.txt")
    assert [p for _l, p in choices({"folder": "/w", "path": "Makefile"})] == ["/Makefile"]
    assert choices({"folder": "/w", "path": "."}) == []


def test_every_choice_passes_the_check_of_a_pattern_typed_for_the_folder(tmp_path: Path) -> None:
    """Even for a file gone with its folder, named like a folder at the top of the file
    system (``tmp/``): a choice never reads as a path outside the watched folder."""
    root = tmp_path / "w"
    root.mkdir()
    for path in ("tmp/old/app.log", "etc/x.conf", "Makefile", "logs/a b.txt"):
        for _label, pattern in choices({"folder": str(root), "path": path}):
            checked = check_pattern(pattern, str(root))
            assert checked.pattern == pattern and not checked.note
