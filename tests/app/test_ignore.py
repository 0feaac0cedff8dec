"""Tests of fim_tray.app.ignore: a pattern added drops what it covers from the pending changes
and the baseline, says so in the history, and an undo puts it all back."""

from __future__ import annotations

from pathlib import Path

import pytest

from fim_tray.app.ignore import check_pattern
from fim_tray.app.service import Service
from fim_tray.errors import BaselineError, ConfigError, NotWatchedError
from tests.helpers import make_tree


@pytest.fixture
def noisy(service: Service, tmp_path: Path) -> Path:
    root = make_tree(
        tmp_path / "w", {"a.txt": "a\n", "app.log": "1\n", "logs/deep.log": "x\n", "keep/k": "k"}
    )
    service.watch(str(root))
    return root


def _pending(service: Service) -> dict[str, int]:
    return {s.folder.path: s.pending for s in service.status()}


def test_ignore_drops_the_pending_changes_it_covers_and_stops_reporting_them(
    service: Service, noisy: Path
) -> None:
    (noisy / "app.log").write_text("2\n")
    (noisy / "new.log").write_text("n\n")
    (noisy / "a.txt").write_text("changed\n")
    assert len(service.check()[0].changes) == 3
    result = service.ignore(str(noisy), "*.log")
    assert result.changed and result.dropped == ("app.log", "new.log")
    assert set(result.forgotten) == {"app.log", "logs/deep.log"}
    assert _pending(service) == {str(noisy): 1}
    (noisy / "app.log").write_text("3\n")
    report = service.check()[0]
    assert [c.path for c in report.changes] == ["a.txt"]  # no "removed" for what is ignored
    line = service.history()[-1]
    assert line.change == "ignored"
    assert line.extra["pattern"] == "*.log" and line.extra["dropped"] == ["app.log", "new.log"]
    assert service.ignore_patterns(str(noisy)) == ("*.log",)


def test_undo_puts_the_baseline_back_so_the_changes_are_pending_again(
    service: Service, noisy: Path
) -> None:
    (noisy / "app.log").write_text("2\n")
    service.check()
    result = service.ignore(str(noisy), "*.log")
    undone = service.unignore(str(noisy), "*.log")
    assert undone.changed and service.ignore_patterns(str(noisy)) == ()
    assert undone.forgotten == result.forgotten
    changes = service.check()[0].changes
    assert [(c.kind, c.path) for c in changes] == [("modified", "app.log")]
    assert service.history()[-2].change == "unignored"


def test_a_record_another_pattern_still_covers_stays_set_aside_for_it(
    service: Service, noisy: Path
) -> None:
    service.ignore(str(noisy), "*.log")  # takes app.log and logs/deep.log
    service.ignore(str(noisy), "logs/")  # nothing left to take
    (noisy / "logs" / "deep.log").write_text("changed\n")
    back = service.unignore(str(noisy), "*.log")
    assert set(back.forgotten) == {"app.log"}
    assert not service.check()[0].changes  # logs/deep.log: still ignored, not "removed"
    back = service.unignore(str(noisy), "logs/")
    assert set(back.forgotten) == {"logs", "logs/deep.log"}
    changes = service.check()[0].changes
    assert [(c.kind, c.path) for c in changes] == [("modified", "logs/deep.log")]


def test_records_set_aside_in_a_file_not_the_one_the_baseline_names_are_not_taken_back(
    service: Service, noisy: Path
) -> None:
    store = service.store
    folder = store.folder(str(noisy))
    aside = store.paths.set_aside_file(folder.id, "*.log")
    service.ignore(str(noisy), "*.log")
    older = aside.read_bytes()
    service.unignore(str(noisy), "*.log")
    assert not aside.exists()
    (noisy / "app.log").write_text("2\n")
    service.ignore(str(noisy), "*.log")
    aside.write_bytes(older)  # signed too, but not the one this baseline names
    assert service.unignore(str(noisy), "*.log").forgotten == {}
    changes = service.check()[0].changes
    assert sorted((c.kind, c.path) for c in changes) == [
        ("added", "app.log"),
        ("added", "logs/deep.log"),
    ]


def test_records_set_aside_never_pass_for_the_baseline(service: Service, noisy: Path) -> None:
    store = service.store
    folder = store.folder(str(noisy))
    service.ignore(str(noisy), "*.log")
    baseline = store.paths.baseline_file(folder.id)
    baseline.write_bytes(store.paths.set_aside_file(folder.id, "*.log").read_bytes())
    with pytest.raises(BaselineError):  # another key signs them
        store.load_baseline(folder)


def test_removing_the_folder_removes_what_its_patterns_set_aside(
    service: Service, noisy: Path
) -> None:
    folder = service.store.folder(str(noisy))
    service.ignore(str(noisy), "*.log")
    assert service.store.paths.set_aside_file(folder.id, "*.log").exists()
    service.unwatch(str(noisy))
    assert list(service.store.paths.baselines_dir.iterdir()) == []


def test_a_folder_pattern_covers_all_below_it(service: Service, noisy: Path) -> None:
    (noisy / "logs" / "deep.log").write_text("y\n")
    (noisy / "keep" / "k").write_text("kk")
    service.check()
    result = service.ignore(str(noisy), "logs/")
    assert result.dropped == ("logs/deep.log",)
    assert set(result.forgotten) == {"logs", "logs/deep.log"}
    assert [c.path for c in service.check()[0].changes] == ["keep/k"]


def test_twice_is_no_change_and_removing_an_unknown_one_says_so(
    service: Service, noisy: Path
) -> None:
    assert service.ignore(str(noisy), "*.tmp").changed
    assert not service.ignore(str(noisy), " *.tmp ").changed
    assert not service.unignore(str(noisy), "*.nope").changed
    with pytest.raises(NotWatchedError):
        service.ignore(str(noisy / "keep"), "*.x")


@pytest.mark.parametrize("bad", ["", "  ", "/", "a\nb", "../x", "x/../y"])
def test_bad_patterns_are_refused_plainly(bad: str) -> None:
    with pytest.raises(ConfigError):
        check_pattern(bad)


def test_patterns_that_match_every_name_are_refused() -> None:
    from fim_tray.app.ignore import check_pattern
    from fim_tray.errors import ConfigError

    for pattern in ("*", "**", "?*", "*?"):
        with pytest.raises(ConfigError):
            check_pattern(pattern)
    assert check_pattern("*.log").pattern == "*.log"


def test_csv_export_never_makes_a_formula() -> None:
    from fim_tray.ui.history_data import to_csv

    out = to_csv([{"time": "t", "folder": "/w", "path": "=cmd|' -C calc'!A0", "change": "added"}])
    assert "'=cmd|" in out and ",=cmd" not in out


def test_an_absolute_path_inside_the_folder_is_taken_relative_to_it(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "Docs", {"logs/a.log": "a\n", "app.log": "b\n"})
    home = str(root)
    for given, kept in (
        (f"{home}/logs/*.log", "logs/*.log"),
        (f"  {home}/logs/deep/  ", "logs/deep/"),
        (f"{home}/app.log", "/app.log"),  # one name: anchored, never "app.log" at any depth
        (f"{home}/cache/", "/cache/"),
        ("/logs/*.log", "/logs/*.log"),  # anchored at the folder, as before
        ("/app.log", "/app.log"),
        ("*.log", "*.log"),
    ):
        checked = check_pattern(given, home)
        assert checked.pattern == kept, given
        said = f"taken as {kept}, relative to the watched folder"
        assert checked.note == (said if given.strip() != kept else "")
    (tmp_path / "link").symlink_to(root)
    assert check_pattern(f"{tmp_path}/link/logs/*.log", home).pattern == "logs/*.log"


@pytest.mark.parametrize("given", ["{out}/*.log", "{out}/logs/", "{root}", "{root}/"])
def test_an_absolute_path_outside_the_folder_or_the_folder_itself_is_refused(
    tmp_path: Path, given: str
) -> None:
    root = make_tree(tmp_path / "Docs", {"a.txt": "a\n"})
    text = given.format(out=tmp_path / "elsewhere", root=root)
    with pytest.raises(ConfigError) as refused:
        check_pattern(text, str(root))
    assert "outside the watched folder" in refused.value.message or (
        "the watched folder itself" in refused.value.message
    )


def test_a_pattern_taken_out_of_the_settings_by_hand_gives_back_what_it_set_aside(
    service: Service, noisy: Path
) -> None:
    service.ignore(str(noisy), "*.log")
    (noisy / "app.log").write_text("changed while ignored\n")
    config = service.config()
    bare = tuple(f._replace(excludes=()) for f in config.folders)
    service.store.save_config(config._replace(folders=bare))  # as an edit by hand would
    changes = service.check()[0].changes
    assert [(c.kind, c.path) for c in changes] == [("modified", "app.log")]  # not "added"
    assert service.history()[-2].change == "unignored"
    assert not service.store.paths.set_aside_file(service.folders()[0].id, "*.log").exists()
