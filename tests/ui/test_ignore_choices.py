"""The "Ignore..." chooser's patterns: anchored where they should be, escaped, and each one
covering what its label says."""

from __future__ import annotations

from fim_tray.app.ignore import covers
from fim_tray.scan.excludes import Excluder
from fim_tray.ui.ignore import choices


def _covers(pattern: str, rel: str) -> bool:
    return covers(Excluder([pattern]), rel, False, 0o644)


def test_four_choices_for_a_file_in_a_subfolder() -> None:
    found = choices({"folder": "/w", "path": "logs/app.log"})
    assert [p for _label, p in found] == ["/logs/app.log", "/logs/", "/logs/*.log", "*.log"]
    assert found[3][0] == "Files like *.log everywhere in this watched folder"
    assert _covers("/logs/app.log", "logs/app.log")
    assert not _covers("/logs/app.log", "other/logs/app.log")
    assert _covers("/logs/", "logs/deep/x.txt")
    assert _covers("/logs/*.log", "logs/b.log") and not _covers("/logs/*.log", "b.log")
    assert _covers("*.log", "a/b/c.log")


def test_a_top_level_file_has_no_folder_choice_and_odd_names_are_escaped() -> None:
    found = [p for _label, p in choices({"folder": "/w", "path": "we[ir]d*.txt"})]
    assert found == ["/we[[]ir]d[*].txt", "/*.txt", "*.txt"]
    assert _covers(found[0], "we[ir]d*.txt") and not _covers(found[0], "wed.txt")
    assert [p for _l, p in choices({"folder": "/w", "path": "Makefile"})] == ["/Makefile"]
    assert choices({"folder": "/w", "path": "."}) == []
