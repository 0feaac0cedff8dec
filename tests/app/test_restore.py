"""Restore through the service: round trips, modes, removed files, links, odd names,
damaged copies, changed-again refusals, undo, the pending list, and a restore killed mid-write."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import random
import signal
import stat
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from fim_tray.app import fileops
from fim_tray.app.service import Service
from fim_tray.errors import CopyDamagedError, DamagedUndo, RestoreRefused, StorageError
from fim_tray.store import config as config_store
from fim_tray.store.history import change_json
from tests.app.conftest import NAME
from tests.helpers import REPO, make_tree


def changes(service: Service, docs: Path) -> list[tuple[str, str]]:
    [report] = service.check(str(docs))
    return [(c.kind, c.path) for c in report.changes]


def set_extra(service: Service, **extra: object) -> None:
    config = service.config()
    config_store.save(service.paths.config_file, config._replace(extra={**config.extra, **extra}))


# -- restore: round trips ----------------------------------------------------------------------


def test_text_round_trip_and_check_is_clean(service: Service, kept: Path) -> None:
    (kept / "notes.txt").write_text("one\nTWO\nthree\nfour\n")
    assert changes(service, kept) == [("modified", "notes.txt")]
    result = service.restore(str(kept), "notes.txt")
    assert result.restored and "back as in the baseline" in result.message
    assert (kept / "notes.txt").read_text() == "one\ntwo\nthree\n"
    assert changes(service, kept) == []
    assert service.status()[0].pending == 0


def test_binary_round_trip(service: Service, kept: Path) -> None:
    (kept / "image.bin").write_bytes(os.urandom(4000))
    service.restore(str(kept), str(kept / "image.bin"))  # an absolute name works too
    assert (kept / "image.bin").read_bytes() == bytes(range(256)) * 8
    assert changes(service, kept) == []


def test_mode_comes_back_with_the_content(service: Service, docs: Path) -> None:
    (docs / "notes.txt").chmod(0o640)
    service.watch(str(docs), keep_copies=True)
    (docs / "notes.txt").write_text("altered\n")
    (docs / "notes.txt").chmod(0o666)
    service.restore(str(docs), "notes.txt")
    assert stat.S_IMODE((docs / "notes.txt").stat().st_mode) == 0o640
    assert changes(service, docs) == []


def test_only_the_mode_changed_needs_no_copy(service: Service, docs: Path) -> None:
    service.watch(str(docs))  # copies off
    (docs / "notes.txt").chmod(0o600)
    result = service.restore(str(docs), "notes.txt")
    assert result.restored and result.previous_digest is None
    assert stat.S_IMODE((docs / "notes.txt").stat().st_mode) == 0o644
    assert changes(service, docs) == []


def test_removed_file_and_its_folders_come_back(service: Service, kept: Path) -> None:
    (kept / "sub" / "deep").chmod(0o750)
    service.accept(str(kept))
    (kept / "sub" / "deep" / "c.txt").unlink()
    (kept / "sub" / "deep").rmdir()
    (kept / "sub").rmdir()
    result = service.restore(str(kept), "sub/deep/c.txt")
    assert result.restored and result.previous_digest is None
    assert (kept / "sub" / "deep" / "c.txt").read_text() == "charlie\n"
    assert stat.S_IMODE((kept / "sub" / "deep").stat().st_mode) == 0o750
    assert changes(service, kept) == []


def test_name_that_is_not_utf8(service: Service, kept: Path) -> None:
    (kept / NAME).write_text("changed\n")
    diff = service.diff(str(kept), NAME)
    assert diff.lines[:2] == ("--- baseline/caf\\xe9.txt", "+++ now/caf\\xe9.txt")
    service.restore(str(kept), NAME)
    assert (kept / NAME).read_text() == "latin\n"


def test_blake2b_folder(service: Service, docs: Path) -> None:
    service.watch(str(docs), keep_copies=True, algorithm="blake2b")
    (docs / "notes.txt").write_text("other\n")
    assert all(b.algorithm == "blake2b" for b in service.store.copies.blobs())
    service.restore(str(docs), "notes.txt")
    assert (docs / "notes.txt").read_text() == "one\ntwo\nthree\n"


# -- links: restored as links, never followed --------------------------------------------------


def test_symlink_restored_as_a_link(service: Service, kept: Path) -> None:
    (kept / "link").unlink()
    (kept / "link").symlink_to("/etc/passwd")
    service.restore(str(kept), "link")
    assert os.readlink(kept / "link") == "notes.txt"
    assert changes(service, kept) == []


def test_a_file_now_a_link_is_replaced_not_written_through(
    service: Service, kept: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("must stay\n")
    (kept / "notes.txt").unlink()
    (kept / "notes.txt").symlink_to(outside)
    service.restore(str(kept), "notes.txt")
    assert not (kept / "notes.txt").is_symlink()
    assert (kept / "notes.txt").read_text() == "one\ntwo\nthree\n"
    assert outside.read_text() == "must stay\n"


def test_a_folder_on_the_way_now_a_link_is_refused(
    service: Service, kept: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere" / "deep"
    elsewhere.mkdir(parents=True)
    (elsewhere / "c.txt").write_text("outside\n")
    (kept / "sub" / "deep" / "c.txt").unlink()
    (kept / "sub" / "deep").rmdir()
    (kept / "sub").rmdir()
    (kept / "sub").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(RestoreRefused, match="no longer a folder"):
        service.restore(str(kept), "sub/deep/c.txt")
    assert (elsewhere / "c.txt").read_text() == "outside\n"


def test_a_folder_in_the_way_is_refused(service: Service, kept: Path) -> None:
    (kept / "notes.txt").unlink()
    (kept / "notes.txt").mkdir()
    with pytest.raises(RestoreRefused, match="is a folder now"):
        service.restore(str(kept), "notes.txt")


# -- refusals ----------------------------------------------------------------------------------


def test_damaged_copy_is_never_restored(service: Service, kept: Path) -> None:
    (kept / "notes.txt").write_text("changed\n")
    digest = hashlib.sha256(b"one\ntwo\nthree\n").hexdigest()
    path = service.store.copies.path(digest)
    blob = bytearray(path.read_bytes())
    blob[-1] ^= 0xFF
    path.write_bytes(bytes(blob))
    with pytest.raises(CopyDamagedError, match=r"saved copy of notes\.txt is damaged") as err:
        service.restore(str(kept), "notes.txt")
    assert err.value.message.count("damaged") == 1  # said once
    assert (kept / "notes.txt").read_text() == "changed\n"
    assert not path.exists()  # removed: the next copy of that content is stored again
    (kept / "notes.txt").write_text("one\ntwo\nthree\n")
    service.set_keep_copies(str(kept), True)
    assert service.store.copies.read(digest) == b"one\ntwo\nthree\n"


def test_changed_again_since_shown(service: Service, kept: Path) -> None:
    (kept / "notes.txt").write_text("first edit\n")
    [report] = service.check(str(kept))
    shown = report.changes[0].signature()
    (kept / "notes.txt").write_text("second edit, not seen\n")
    with pytest.raises(RestoreRefused, match="changed again"):
        service.restore(str(kept), "notes.txt", expected_signature=shown)
    assert (kept / "notes.txt").read_text() == "second edit, not seen\n"
    service.restore(str(kept), "notes.txt", expected_signature=shown, force=True)
    assert (kept / "notes.txt").read_text() == "one\ntwo\nthree\n"


def test_expected_signature_that_matches(service: Service, kept: Path) -> None:
    (kept / "notes.txt").unlink()
    [report] = service.check(str(kept))
    service.restore(str(kept), "notes.txt", expected_signature=report.changes[0].signature())
    assert (kept / "notes.txt").exists()


def test_nothing_to_restore(service: Service, kept: Path) -> None:
    result = service.restore(str(kept), "notes.txt")
    assert not result.restored and "already" in result.message
    (kept / "new.txt").write_text("new\n")
    with pytest.raises(RestoreRefused, match="not in the baseline"):
        service.restore(str(kept), "new.txt")


def test_no_copy_when_copies_are_off(service: Service, docs: Path) -> None:
    service.watch(str(docs))
    (docs / "notes.txt").write_text("changed\n")
    with pytest.raises(RestoreRefused, match="copies are off"):
        service.restore(str(docs), "notes.txt")


def test_a_secret_cannot_be_restored(service: Service, kept: Path) -> None:
    (kept / ".env").write_text("TOKEN=other\n")
    with pytest.raises(RestoreRefused, match=r"no-copy pattern \.env"):
        service.restore(str(kept), ".env")


def test_current_content_that_cannot_be_kept_needs_force(service: Service, kept: Path) -> None:
    set_extra(service, copy_max_file_bytes=100)
    (kept / "notes.txt").write_text("x" * 500)
    with pytest.raises(RestoreRefused, match="cannot be kept"):
        service.restore(str(kept), "notes.txt")
    assert (kept / "notes.txt").read_text() == "x" * 500
    result = service.restore(str(kept), "notes.txt", force=True)
    assert result.restored and result.previous_digest is None


def test_names_outside_the_folder(service: Service, kept: Path) -> None:
    for bad in ("../x", "/etc/passwd", "."):
        with pytest.raises(Exception, match="inside"):
            service.restore(str(kept), bad)


# -- the replaced content is kept: history and undo --------------------------------------------


def test_replaced_content_is_kept_and_can_be_undone(service: Service, kept: Path) -> None:
    (kept / "notes.txt").write_text("my edit\n")
    result = service.restore(str(kept), "notes.txt")
    assert result.previous_digest == hashlib.sha256(b"my edit\n").hexdigest()
    assert service.store.copies.read(result.previous_digest) == b"my edit\n"
    event = service.history()[-1]
    assert (event.change, event.path) == ("restored", "notes.txt")
    assert event.extra["previous_digest"] == result.previous_digest
    assert event.before is not None and event.before["digest"] == result.previous_digest
    assert service.prune_copies().removed == 0  # the history still needs it

    undone = service.undo_restore(str(kept), "notes.txt")
    assert undone.restored
    assert (kept / "notes.txt").read_text() == "my edit\n"
    assert changes(service, kept) == [("modified", "notes.txt")]


def test_an_undo_copy_outlives_the_quota(service: Service, kept: Path) -> None:
    """The copy a restore promises to put back is never evicted by the quota: not by an
    accept that needs room, not by a prune."""
    (kept / "notes.txt").write_text("my edit, to be put back\n")
    result = service.restore(str(kept), "notes.txt")
    assert result.previous_digest is not None
    set_extra(service, copy_quota_bytes=6000)  # room for about one new copy
    for number in range(8):  # accepts that each need room: older copies go, the undo stays
        (kept / f"big{number}.bin").write_bytes(os.urandom(4000))
        service.accept(str(kept))
    evicted = [n for n in range(8) if not _has_copy(service, kept / f"big{n}.bin")]
    assert evicted, "the quota never pushed a copy out: the test proves nothing"
    service.prune_copies()
    assert service.store.copies.read(result.previous_digest) == b"my edit, to be put back\n"
    service.undo_restore(str(kept), "notes.txt")
    assert (kept / "notes.txt").read_text() == "my edit, to be put back\n"


def _has_copy(service: Service, path: Path) -> bool:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return any(b.digest == digest for b in service.store.copies.blobs())


def test_undo_of_a_removed_file_removes_it_again(service: Service, kept: Path) -> None:
    (kept / "notes.txt").unlink()
    service.restore(str(kept), "notes.txt")
    service.undo_restore(str(kept), "notes.txt")
    assert not (kept / "notes.txt").exists()


def test_undo_without_a_restore(service: Service, kept: Path) -> None:
    with pytest.raises(RestoreRefused, match="nothing to undo"):
        service.undo_restore(str(kept), "notes.txt")


# -- a restore killed mid-write leaves the old file or the new one, whole -----------------------

LOOP = """
import os, shutil, sys
from fim_tray.app.service import Service
root, other = sys.argv[1], sys.argv[2]
service = Service(lock_timeout=30)
print("ready", flush=True)
while True:
    service.restore(root, "big.bin", force=True)
    shutil.copyfile(other, other + ".tmp")
    os.replace(other + ".tmp", os.path.join(root, "big.bin"))  # as an editor saves
"""


def test_restore_killed_mid_write(service: Service, tmp_path: Path) -> None:
    old = os.urandom(4_000_000)
    new = os.urandom(4_000_000)
    root = make_tree(tmp_path / "big", {"big.bin": old})
    other = make_tree(tmp_path / "side", {"new.bin": new}) / "new.bin"
    service.watch(str(root), keep_copies=True)
    (root / "big.bin").write_bytes(new)
    wholes = {hashlib.sha256(old).digest(), hashlib.sha256(new).digest()}
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    rng = random.Random(7)
    for _round in range(4):
        child = subprocess.Popen(
            [sys.executable, "-c", LOOP, str(root), str(other)],
            stdout=subprocess.PIPE,
            env=env,
        )
        assert child.stdout is not None
        assert child.stdout.readline() == b"ready\n"
        with contextlib.suppress(subprocess.TimeoutExpired):  # it restores until killed
            child.wait(rng.uniform(0.1, 1.0))
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
        assert child.returncode == -signal.SIGKILL  # it was still restoring, not failed
        data = (root / "big.bin").read_bytes()
        assert hashlib.sha256(data).digest() in wholes
    service.restore(str(root), "big.bin", force=True)
    assert (root / "big.bin").read_bytes() == old
    assert [p.name for p in root.iterdir()] == ["big.bin"]  # no temporary file left behind


def test_a_file_of_the_persons_named_like_a_leftover_is_kept(service: Service, kept: Path) -> None:
    mine = [".fim-restore-0123456789ab.tmp", ".fim-restore-0123456789ab0123456789ab.tmp"]
    for name in mine:
        (kept / name).write_text("my own file, whatever its name\n")
    service.accept(str(kept))
    (kept / "notes.txt").write_text("edited\n")
    service.restore(str(kept), "notes.txt")
    for name in mine:
        assert (kept / name).read_text() == "my own file, whatever its name\n"


# -- what is on disk under the lock decides, not the earlier scan ------------------------------


def _edit_after_scan(monkeypatch: pytest.MonkeyPatch, path: Path, text: str) -> None:
    from fim_tray.app import restore

    real = restore._scan
    calls: list[int] = []

    def scan_then_edit(*args: Any, **kwargs: Any) -> Any:
        found = real(*args, **kwargs)
        if not calls:  # the first scan only: the file changes before the restore writes
            path.write_text(text)
        calls.append(1)
        return found

    monkeypatch.setattr(restore, "_scan", scan_then_edit)


def test_an_edit_after_the_scan_is_kept_as_the_copy(
    service: Service, kept: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (kept / "notes.txt").write_text("seen\n")
    _edit_after_scan(monkeypatch, kept / "notes.txt", "written meanwhile\n")
    result = service.restore(str(kept), "notes.txt")
    assert service.store.copies.read(result.previous_digest or "") == b"written meanwhile\n"
    assert (kept / "notes.txt").read_text() == "one\ntwo\nthree\n"


def test_an_edit_after_the_scan_is_changed_again(
    service: Service, kept: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (kept / "notes.txt").write_text("seen\n")
    [report] = service.check(str(kept))
    _edit_after_scan(monkeypatch, kept / "notes.txt", "written meanwhile\n")
    with pytest.raises(RestoreRefused, match="changed again"):
        service.restore(str(kept), "notes.txt", expected_signature=report.changes[0].signature())
    assert (kept / "notes.txt").read_text() == "written meanwhile\n"


def test_a_file_that_appears_after_the_scan_is_kept(
    service: Service, kept: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (kept / "notes.txt").unlink()
    _edit_after_scan(monkeypatch, kept / "notes.txt", "new content\n")
    result = service.restore(str(kept), "notes.txt")
    assert service.store.copies.read(result.previous_digest or "") == b"new content\n"


def test_only_the_mode_of_a_secret_changed(service: Service, kept: Path) -> None:
    (kept / ".env").chmod(0o600)
    result = service.restore(str(kept), ".env")
    assert result.restored and result.previous_digest is None
    assert stat.S_IMODE((kept / ".env").stat().st_mode) == 0o644


# -- undo trusts only signed history lines; the history is written first -----------------------


def _edit_last_line(service: Service, edit: Any) -> None:
    lines = service.paths.events_file.read_bytes().splitlines()
    obj = json.loads(lines[-1])
    edit(obj)
    lines[-1] = json.dumps(obj).encode()
    service.paths.events_file.write_bytes(b"\n".join(lines) + b"\n")


def test_undo_refuses_a_forged_history_line(service: Service, kept: Path) -> None:
    (kept / "notes.txt").write_text("my edit\n")
    service.restore(str(kept), "notes.txt")
    _edit_last_line(service, lambda obj: obj["undo"].update(mode=0o4755, uid=0))
    with pytest.raises(DamagedUndo, match="does not match its signature"):
        service.undo_restore(str(kept), "notes.txt")
    _edit_last_line(service, lambda obj: obj.pop("hmac"))
    with pytest.raises(DamagedUndo, match="not signed"):
        service.undo_restore(str(kept), "notes.txt")
    assert (kept / "notes.txt").read_text() == "one\ntwo\nthree\n"


def test_undo_of_a_name_that_is_not_utf8(service: Service, kept: Path) -> None:
    (kept / NAME).write_text("changed\n")
    service.restore(str(kept), NAME)
    service.undo_restore(str(kept), NAME)
    assert (kept / NAME).read_text() == "changed\n"


def test_a_failing_history_append_restores_nothing(
    service: Service, kept: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (kept / "notes.txt").write_text("my edit\n")

    def full(*args: Any, **kwargs: Any) -> Any:
        raise StorageError("Could not add to the history: No space left on device.")

    monkeypatch.setattr(service.store.history, "append_records", full)
    with pytest.raises(RestoreRefused, match=r"was not restored: the history.*No space left"):
        service.restore(str(kept), "notes.txt")
    assert (kept / "notes.txt").read_text() == "my edit\n"


def test_a_folder_name_that_is_not_utf8(service: Service, tmp_path: Path) -> None:
    folder = make_tree(tmp_path / "d\udcefr", {"a.txt": "alpha\n"})
    service.watch(str(folder), keep_copies=True)
    (folder / "a.txt").write_text("edit\n")
    service.check()
    service.restore(str(folder), "a.txt")
    lines = [json.loads(line) for line in service.paths.events_file.read_bytes().splitlines()]
    assert all("folder" not in obj and "folder_b64" in obj for obj in lines)
    assert [e.folder for e in service.history()] == [str(folder)] * 2
    service.undo_restore(str(folder), "a.txt")
    assert (folder / "a.txt").read_text() == "edit\n"
    change = service.check()[0].changes[0]
    obj = change_json(change, str(folder), datetime.now())
    assert "folder" not in obj and os.fsdecode(base64.b64decode(obj["folder_b64"])) == str(folder)


def test_no_folder_handles_says_what_and_why(
    service: Service, kept: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fileops, "supported", lambda: False)
    (kept / "notes.txt").write_text("my edit\n")
    with pytest.raises(RestoreRefused, match=r"Restoring files is not available.*Windows") as err:
        service.restore(str(kept), "notes.txt")
    assert "yet" not in err.value.message


def test_an_undo_is_not_undone_by_a_second_undo(service: Service, kept: Path) -> None:
    (kept / "notes.txt").write_text("my edit\n")
    service.restore(str(kept), "notes.txt")
    service.undo_restore(str(kept), "notes.txt")
    assert (kept / "notes.txt").read_text() == "my edit\n"
    with pytest.raises(RestoreRefused, match="undone already"):
        service.undo_restore(str(kept), "notes.txt")
    assert (kept / "notes.txt").read_text() == "my edit\n"  # not toggled back


def test_an_undo_copy_outlives_the_folder_being_removed(service: Service, kept: Path) -> None:
    (kept / "notes.txt").write_text("my edit, kept for undo\n")
    result = service.restore(str(kept), "notes.txt")
    service.unwatch(str(kept))  # its baseline and its copies go, but not what --undo needs
    service.watch(str(kept), keep_copies=True)
    assert result.previous_digest is not None
    assert service.store.copies.read(result.previous_digest) == b"my edit, kept for undo\n"
    service.undo_restore(str(kept), "notes.txt")
    assert (kept / "notes.txt").read_text() == "my edit, kept for undo\n"
