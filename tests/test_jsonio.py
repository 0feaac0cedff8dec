"""Unit tests of fim_tray.jsonio: JSON round trips and atomic writes that fail cleanly."""

from __future__ import annotations

import errno
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fim_tray import jsonio
from fim_tray.errors import StorageError
from fim_tray.jsonio import atomic_write, dumps, loads


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_dumps_loads_round_trip() -> None:
    obj = {"a": [1, 2.5, None, True], "b": {"ü": "日本"}, "c": ""}
    assert loads(dumps(obj)) == obj
    assert loads(dumps(obj, pretty=True)) == obj
    assert loads(dumps(obj).decode()) == obj


def test_dumps_is_compact_utf8_and_pretty_is_indented() -> None:
    assert dumps({"a": "é"}) == '{"a":"é"}'.encode()
    assert dumps({"a": 1}, pretty=True) == b'{\n  "a": 1\n}'


@pytest.mark.parametrize("data", [b"", b"{", b"[1,]", b"nan", b"\xff", b'{"a":1}x'])
def test_loads_refuses_what_is_not_json(data: bytes) -> None:
    with pytest.raises(ValueError):
        loads(data)


# -- atomic_write ---------------------------------------------------------------------------------


def test_creates_the_file_and_its_folders(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "f.json"
    atomic_write(path, b"hello")
    assert path.read_bytes() == b"hello"
    assert _names(path.parent) == ["f.json"]


def test_replaces_the_content(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"old and longer")
    atomic_write(path, b"new")
    assert path.read_bytes() == b"new"
    assert _names(tmp_path) == ["f"]


def test_empty_and_large_content(tmp_path: Path) -> None:
    path = tmp_path / "f"
    atomic_write(path, b"")
    assert path.read_bytes() == b""
    big = os.urandom(3 * 1024 * 1024 + 1)
    atomic_write(path, big)
    assert path.read_bytes() == big


def test_mode_is_0600_whatever_the_old_file_had(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"old")
    path.chmod(0o666)
    atomic_write(path, b"new")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_other_mode_on_request(tmp_path: Path) -> None:
    path = tmp_path / "f"
    atomic_write(path, b"x", mode=0o640)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_keep_backup(tmp_path: Path) -> None:
    path = tmp_path / "f"
    atomic_write(path, b"one", keep_backup=True)
    assert _names(tmp_path) == ["f"]
    atomic_write(path, b"two", keep_backup=True)
    atomic_write(path, b"three", keep_backup=True)
    assert path.read_bytes() == b"three"
    assert (tmp_path / "f.bak").read_bytes() == b"two"
    assert _names(tmp_path) == ["f", "f.bak"]


def test_keep_backup_without_hard_links_copies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "f"
    atomic_write(path, b"one")

    def no_links(src: object, dst: object, **_kwargs: object) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    atomic_write(path, b"two", keep_backup=True)
    assert path.read_bytes() == b"two"
    assert (tmp_path / "f.bak").read_bytes() == b"one"
    assert _names(tmp_path) == ["f", "f.bak"]


@pytest.mark.parametrize(
    ("code", "why"),
    [
        (errno.ENOSPC, "the disk is full"),
        (errno.EDQUOT, "the disk is full"),
        (errno.EACCES, "permissions"),
        (errno.EROFS, "read-only"),
        (errno.EIO, os.strerror(errno.EIO)),
    ],
)
def test_failed_write_leaves_the_old_file_and_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, why: str
) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"old")

    def failing_write(fd: int, data: bytes) -> int:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "write", failing_write)
    with pytest.raises(StorageError) as caught:
        atomic_write(path, b"new", keep_backup=True)
    assert why in caught.value.message
    assert str(path) in caught.value.message
    assert "previous version is unchanged" in caught.value.message
    assert path.read_bytes() == b"old"
    assert _names(tmp_path) == ["f"]


def test_a_short_write_is_continued(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = os.write

    def dribble(fd: int, data: bytes) -> int:
        return real_write(fd, bytes(data[:3]))

    monkeypatch.setattr(os, "write", dribble)
    path = tmp_path / "f"
    atomic_write(path, b"0123456789")
    assert path.read_bytes() == b"0123456789"


def test_disk_full_midway_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = os.write
    calls: list[int] = []

    def fill_up(fd: int, data: bytes) -> int:
        calls.append(len(data))
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, bytes(data[:4]))

    monkeypatch.setattr(os, "write", fill_up)
    path = tmp_path / "f"
    path.write_bytes(b"old")
    with pytest.raises(StorageError, match="disk is full"):
        atomic_write(path, b"0123456789")
    assert path.read_bytes() == b"old"
    assert _names(tmp_path) == ["f"]


@pytest.mark.parametrize(("durable", "syncs"), [(True, 2), (False, 0)])
def test_only_a_durable_write_waits_for_the_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, durable: bool, syncs: int
) -> None:
    real_fsync, calls = os.fsync, []

    def counted(fd: int) -> None:
        calls.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", counted)
    target = tmp_path / "cache"
    atomic_write(target, b"old")
    calls.clear()
    atomic_write(target, b"new", durable=durable)
    assert target.read_bytes() == b"new"
    assert len(calls) == syncs  # the file, then its folder
    assert _names(tmp_path) == ["cache"]


def test_failed_fsync_leaves_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_fsync(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    path = tmp_path / "f"
    path.write_bytes(b"old")
    with pytest.raises(StorageError, match="Input/output error"):
        atomic_write(path, b"new")
    assert path.read_bytes() == b"old"
    assert _names(tmp_path) == ["f"]


def test_failed_rename_leaves_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_replace(src: object, dst: object) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "replace", failing_replace)
    path = tmp_path / "f"
    path.write_bytes(b"old")
    with pytest.raises(StorageError):
        atomic_write(path, b"new")
    assert path.read_bytes() == b"old"
    assert _names(tmp_path) == ["f"]


def test_failed_backup_copy_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"old")
    real_write = os.write
    calls: list[int] = []

    def no_links(src: object, dst: object, **_kwargs: object) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    def second_write_fails(fd: int, data: bytes) -> int:
        calls.append(fd)
        if len(calls) > 1:  # the new file was written; its backup copy hits a full disk
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "link", no_links)
    monkeypatch.setattr(os, "write", second_write_fails)
    with pytest.raises(StorageError, match="disk is full"):
        atomic_write(path, b"new", keep_backup=True)
    assert path.read_bytes() == b"old"
    assert _names(tmp_path) == ["f"]


def test_an_unexpected_error_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(fd: int) -> None:
        raise RuntimeError("interrupted")

    monkeypatch.setattr(os, "fsync", interrupted)
    path = tmp_path / "f"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        atomic_write(path, b"new")
    assert path.read_bytes() == b"old"
    assert _names(tmp_path) == ["f"]


def test_folder_that_cannot_be_made_is_a_storage_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(StorageError, match="Could not save"):
        atomic_write(tmp_path / "file" / "f.json", b"x")


def test_storage_error_is_raised_with_its_cause(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing_write(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", failing_write)
    with pytest.raises(StorageError) as caught:
        jsonio.atomic_write(tmp_path / "f", b"x")
    assert isinstance(caught.value.__cause__, OSError)
    assert caught.value.title == "Could not save"


def test_a_planted_link_gets_no_backup_and_its_target_no_hard_link(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"secret")
    folder = tmp_path / "state"
    folder.mkdir()
    path = folder / "f"
    path.symlink_to(victim)
    atomic_write(path, b"new", keep_backup=True)
    assert victim.read_bytes() == b"secret" and os.stat(victim).st_nlink == 1  # no hard link
    assert path.read_bytes() == b"new" and not path.is_symlink()
    assert not os.path.lexists(folder / "f.bak")


def test_a_state_folder_is_made_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        atomic_write(tmp_path / "new" / "deeper" / "f", b"x")
    finally:
        os.umask(old)
    for folder in (tmp_path / "new", tmp_path / "new" / "deeper"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "new" / "deeper" / "f").stat().st_mode) == 0o600


def test_a_folder_in_place_of_the_backup_is_named(tmp_path: Path) -> None:
    path = tmp_path / "f"
    atomic_write(path, b"one")
    (tmp_path / "f.bak").mkdir()
    with pytest.raises(StorageError, match=r"f\.bak"):
        atomic_write(path, b"two", keep_backup=True)
    assert path.read_bytes() == b"one" and _names(tmp_path) == ["f", "f.bak"]


def test_a_folder_made_read_only_on_purpose_stays_so(tmp_path: Path) -> None:
    folder = tmp_path / "state"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        jsonio.private_dir(folder)
        assert stat.S_IMODE(folder.stat().st_mode) == 0o500  # others out, the owner unchanged
    finally:
        folder.chmod(0o700)


# -- atomic_write_chunks --------------------------------------------------------------------------


def test_chunks_are_written_one_after_the_other(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"old")
    jsonio.atomic_write_chunks(path, iter([b"one ", b"", b"two ", b"three"]))
    assert path.read_bytes() == b"one two three"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert _names(tmp_path) == ["f"]


def test_a_patch_is_written_in_place_once_every_chunk_is(tmp_path: Path) -> None:
    path = tmp_path / "f"
    written: list[bytes] = []

    def chunks() -> Iterator[bytes]:
        for chunk in (b"sum=", b"????", b";", b"1", b"2", b"3"):
            written.append(chunk)
            yield chunk

    def patch() -> tuple[int, bytes]:
        assert len(written) == 6  # called after the last chunk
        return 4, b"0006"

    jsonio.atomic_write_chunks(path, chunks(), patch=patch, keep_backup=True)
    assert path.read_bytes() == b"sum=0006;123"
    jsonio.atomic_write_chunks(path, [b"x" * 8], patch=lambda: (7, b"y"), keep_backup=True)
    assert path.read_bytes() == b"xxxxxxxy"
    assert (tmp_path / "f.bak").read_bytes() == b"sum=0006;123"


@pytest.mark.parametrize("patch", [(6, b"ab"), (-1, b"a"), (8, b"a")])
def test_a_patch_beyond_what_was_written_is_refused(
    tmp_path: Path, patch: tuple[int, bytes]
) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"old")
    with pytest.raises(ValueError, match="a patch"):
        jsonio.atomic_write_chunks(path, [b"1234567"], patch=lambda: patch)
    assert path.read_bytes() == b"old" and _names(tmp_path) == ["f"]


def test_an_error_raised_by_the_chunks_leaves_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "f"
    atomic_write(path, b"old", keep_backup=True)
    atomic_write(path, b"older", keep_backup=True)

    def chunks() -> Iterator[bytes]:
        yield b"new, "
        yield b"half"
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        jsonio.atomic_write_chunks(path, chunks(), keep_backup=True)
    assert path.read_bytes() == b"older" and (tmp_path / "f.bak").read_bytes() == b"old"
    assert _names(tmp_path) == ["f", "f.bak"]

    def unreadable() -> Iterator[bytes]:
        yield b"new"
        raise OSError(errno.EIO, "Input/output error")

    with pytest.raises(StorageError, match="Input/output error"):
        jsonio.atomic_write_chunks(path, unreadable())
    assert path.read_bytes() == b"older" and _names(tmp_path) == ["f", "f.bak"]


@pytest.mark.parametrize("after", [0, 1, 5, 9])
def test_a_disk_full_after_some_bytes_leaves_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, after: int
) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"old")
    real_write = os.write
    done = [0]

    def fills_up(fd: int, data: Any) -> int:
        room = after - done[0]
        if room <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        count = real_write(fd, bytes(data[:room]))
        done[0] += count
        return count

    monkeypatch.setattr(os, "write", fills_up)
    with pytest.raises(StorageError) as caught:
        jsonio.atomic_write_chunks(path, [b"0123", b"4567", b"89"], patch=lambda: (0, b"x"))
    assert caught.value.message == (
        f"Could not save {path}: the disk is full (or a size limit was reached). The previous "
        "version is unchanged; free some space or fix the permissions and try again."
    )
    assert path.read_bytes() == b"old" and _names(tmp_path) == ["f"]


def test_a_backup_copy_is_made_in_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "f"
    old = os.urandom(100_000)
    atomic_write(path, old)

    def no_links(src: object, dst: object, **_kwargs: object) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    monkeypatch.setattr(jsonio, "READ_CHUNK", 4096)
    jsonio.atomic_write_chunks(path, [b"new"], keep_backup=True)
    assert path.read_bytes() == b"new" and (tmp_path / "f.bak").read_bytes() == old
    assert _names(tmp_path) == ["f", "f.bak"]


@pytest.mark.skipif(os.name == "nt", reason="FIFOs and symlinks are POSIX")
def test_a_link_or_a_fifo_at_the_path_is_replaced_never_written_through(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"secret")
    folder = tmp_path / "state"
    folder.mkdir()
    path = folder / "f"
    path.symlink_to(victim)
    jsonio.atomic_write_chunks(path, [b"n", b"ew"], patch=lambda: (0, b"N"), keep_backup=True)
    assert victim.read_bytes() == b"secret" and os.stat(victim).st_nlink == 1
    assert path.read_bytes() == b"New" and not path.is_symlink()
    assert not os.path.lexists(folder / "f.bak")
    path.unlink()
    os.mkfifo(path)
    jsonio.atomic_write_chunks(path, [b"new"], keep_backup=True)  # never opened: no wait
    assert path.read_bytes() == b"new" and _names(folder) == ["f"]


def test_a_write_removes_what_killed_writes_of_that_file_left_and_nothing_else(
    tmp_path: Path,
) -> None:
    target = tmp_path / "x.json"
    atomic_write(target, b"1")
    old = time.time() - jsonio.LEFTOVER_AGE - 60
    left = tmp_path / ".x.json.0123456789ab.tmp"  # a write killed an hour ago
    fresh = tmp_path / ".x.json.ba9876543210.tmp"  # one under way in another process
    other = tmp_path / ".y.json.0123456789ab.tmp"  # another file's
    mine = tmp_path / ".x.json.notes.tmp"  # not a name a write gives
    for path in (left, fresh, other, mine):
        path.write_bytes(b"half")
    os.symlink(tmp_path / "victim", tmp_path / ".x.json.aaaaaaaaaaaa.tmp")
    (tmp_path / "victim").write_bytes(b"keep")
    for path in (left, other, mine, tmp_path / ".x.json.aaaaaaaaaaaa.tmp"):
        os.utime(path, (old, old), follow_symlinks=False)
    atomic_write(target, b"2")
    assert target.read_bytes() == b"2"
    assert not left.exists()
    assert fresh.exists() and other.exists() and mine.exists()
    assert (tmp_path / ".x.json.aaaaaaaaaaaa.tmp").is_symlink()  # only regular files go
    assert (tmp_path / "victim").read_bytes() == b"keep"
