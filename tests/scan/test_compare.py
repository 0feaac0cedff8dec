"""Unit tests of fim_tray.scan.compare: every kind of change, what counts for folders, the order."""

from __future__ import annotations

from typing import Any

from fim_tray.models import Entry
from fim_tray.scan.compare import compare, compare_entry


def _file(data: str = "a", **changes: Any) -> Entry:
    base = Entry(
        type="file",
        size=10,
        mtime_ns=1_000,
        ctime_ns=1_000,
        ino=1,
        mode=0o644,
        uid=1000,
        gid=1000,
        digest=data * 64,
    )
    return base._replace(**changes)


def _dir(**changes: Any) -> Entry:
    base = Entry("dir", 0, 1_000, 1_000, 2, 0o755, 1000, 1000)
    return base._replace(**changes)


def _link(target: str, **changes: Any) -> Entry:
    base = Entry("symlink", len(target), 1_000, 1_000, 3, 0o777, 1000, 1000, target=target)
    return base._replace(**changes)


def test_identical_entries_give_no_change() -> None:
    assert compare({"a": _file(), "d": _dir()}, {"a": _file(), "d": _dir()}) == []


def test_ctime_and_inode_alone_are_not_changes() -> None:
    # A quick rescan re-hashed the file because its ctime moved; the content is the same.
    assert compare_entry("a", _file(), _file(ctime_ns=5_000, ino=9)) is None


def test_added_and_removed() -> None:
    changes = compare({"old": _file()}, {"new": _file()})
    assert [(c.kind, c.path) for c in changes] == [("added", "new"), ("removed", "old")]
    added, removed = changes
    assert added.before is None and added.after == _file()
    assert removed.before == _file() and removed.after is None


def test_content_change_is_modified_with_the_fields_that_moved() -> None:
    change = compare_entry("a", _file("a"), _file("b", size=12, mtime_ns=2_000))
    assert change is not None
    assert change.kind == "modified"
    assert change.fields == ("size", "mtime_ns")
    assert not change.suspicious


def test_content_change_with_size_and_mtime_kept_is_suspicious() -> None:
    change = compare_entry("a", _file("a"), _file("b", ctime_ns=9_000))
    assert change is not None
    assert change.kind == "modified"
    assert change.suspicious
    assert change.fields == ()


def test_content_change_with_only_mtime_kept_is_not_suspicious() -> None:
    change = compare_entry("a", _file("a"), _file("b", size=11))
    assert change is not None and change.kind == "modified"
    assert not change.suspicious


def test_content_change_with_only_size_kept_is_not_suspicious() -> None:
    change = compare_entry("a", _file("a"), _file("b", mtime_ns=2_000))
    assert change is not None and change.kind == "modified"
    assert not change.suspicious


def test_file_readable_again_is_not_suspicious() -> None:
    # Unreadable when the baseline was recorded: its content was never known, so a digest now
    # is news, not the sign of a timestamp put back.
    before = _file(digest=None, error="permission denied", mode=0o000)
    change = compare_entry("a", before, _file("b"))
    assert change is not None
    assert change.kind == "modified"
    assert not change.suspicious
    assert "mode" in change.fields


def test_mode_owner_group_change_is_metadata() -> None:
    change = compare_entry("a", _file(), _file(mode=0o600, uid=0, gid=0))
    assert change is not None
    assert change.kind == "metadata"
    assert change.fields == ("mode", "uid", "gid")
    assert not change.suspicious


def test_touch_alone_is_metadata_mtime() -> None:
    change = compare_entry("a", _file(), _file(mtime_ns=5_000))
    assert change is not None
    assert (change.kind, change.fields) == ("metadata", ("mtime_ns",))


def test_type_change_file_to_folder() -> None:
    changes = compare(
        {"x": _file()},
        {"x": _dir(), "x/inner": _file()},
    )
    assert [(c.kind, c.path, c.fields) for c in changes] == [
        ("modified", "x", ("type",)),
        ("added", "x/inner", ()),
    ]
    assert changes[0].before is not None and changes[0].before.type == "file"
    assert changes[0].after is not None and changes[0].after.type == "dir"


def test_type_change_file_to_symlink() -> None:
    change = compare_entry("x", _file(), _link("elsewhere"))
    assert change is not None
    assert (change.kind, change.fields) == ("modified", ("type",))


def test_symlink_target_change_is_modified() -> None:
    change = compare_entry("l", _link("old/target"), _link("new/target!"))
    assert change is not None
    assert change.kind == "modified"
    assert "size" in change.fields
    assert not change.suspicious


def test_symlink_target_change_of_the_same_length_is_still_modified() -> None:
    change = compare_entry("l", _link("aaa"), _link("bbb"))
    assert change is not None
    assert change.kind == "modified"
    assert not change.suspicious


def test_folder_mtime_change_is_ignored() -> None:
    assert compare_entry("d", _dir(), _dir(mtime_ns=99_000, ctime_ns=99_000)) is None


def test_folder_size_change_is_ignored() -> None:
    assert compare_entry("d", _dir(), _dir(size=4096)) is None


def test_folder_mode_change_is_reported() -> None:
    change = compare_entry("d", _dir(), _dir(mode=0o700, mtime_ns=5_000))
    assert change is not None
    assert (change.kind, change.fields) == ("metadata", ("mode",))


def test_folder_owner_change_is_reported() -> None:
    change = compare_entry("d", _dir(), _dir(uid=0))
    assert change is not None
    assert (change.kind, change.fields) == ("metadata", ("uid",))


def test_file_that_became_unreadable() -> None:
    change = compare_entry("a", _file(), _file(digest=None, error="permission denied"))
    assert change is not None
    assert change.kind == "unreadable"


def test_file_still_unreadable_is_not_reported_again() -> None:
    old = _file(digest=None, error="permission denied")
    assert compare_entry("a", old, _file(digest=None, error="permission denied")) is None


def test_a_file_still_unreadable_that_changed_size_is_modified_not_metadata() -> None:
    old = _file(digest=None, error="permission denied")
    new = _file(digest=None, error="permission denied", size=old.size + 10)
    change = compare_entry("a", old, new)
    assert change is not None
    assert (change.kind, "size" in change.fields) == ("modified", True)
    only_mode = compare_entry("a", old, old._replace(mode=0o600))  # and a chmod stays metadata
    assert only_mode is not None and only_mode.kind == "metadata"


def test_paths_under_an_unlisted_folder_are_not_removed() -> None:
    baseline = {
        "locked": _dir(),
        "locked/a": _file(),
        "locked/sub/b": _file(),
        "lockedness": _file(),  # a sibling whose name starts alike: really removed
        "other": _file(),
    }
    current = {"locked": _dir(error="permission denied")}
    changes = compare(baseline, current, unlisted=["locked"])
    assert [(c.kind, c.path) for c in changes] == [
        ("unreadable", "locked"),
        ("removed", "lockedness"),
        ("removed", "other"),
    ]


def test_unlisted_root_hides_every_removal() -> None:
    assert compare({"a": _file(), "b/c": _file()}, {}, unlisted=[""]) == []


def test_unlisted_accepts_a_one_shot_iterable() -> None:
    baseline = {"x/a": _file(), "x/b": _file()}
    assert compare(baseline, {}, unlisted=iter(["x"])) == []


def test_result_is_sorted_by_path() -> None:
    baseline = {"m": _file(), "c": _file(), "z": _file("a")}
    current = {"z": _file("b"), "a": _file(), "m": _file(mode=0o600), "b/x": _file()}
    changes = compare(baseline, current)
    assert [c.path for c in changes] == ["a", "b/x", "c", "m", "z"]
    assert [c.kind for c in changes] == ["added", "added", "removed", "metadata", "modified"]


def test_signature_tells_states_apart() -> None:
    first = compare_entry("a", _file("a"), _file("b"))
    same = compare_entry("a", _file("a"), _file("b"))
    later = compare_entry("a", _file("a"), _file("c"))
    assert first is not None and same is not None and later is not None
    assert first.signature() == same.signature()
    assert first.signature() != later.signature()
    removed = compare({"a": _file()}, {})[0]
    assert removed.signature() != first.signature()
