"""Unit tests of fim_tray.scan.scanner: the walk, entry records, excludes, quick rescans, stops."""

from __future__ import annotations

import hashlib
import os
import stat
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fim_tray.errors import FolderMissingError, ScanCancelled
from fim_tray.models import Entry
from fim_tray.scan import dirwalk, hashing, hashpool
from fim_tray.scan.excludes import DEFAULT_EXCLUDES, Excluder
from fim_tray.scan.record import Recorder
from fim_tray.scan.scanner import Scanner


def _tree(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return _tree(
        tmp_path / "watched",
        {"a.txt": b"alpha", "sub/b.txt": b"bravo", "sub/deeper/c.bin": b"\x00" * 100},
    )


def test_records_every_path_relative_with_slashes(folder: Path) -> None:
    result = Scanner(str(folder)).run()
    assert set(result.entries) == {"a.txt", "sub", "sub/b.txt", "sub/deeper", "sub/deeper/c.bin"}
    assert result.problems == ()
    assert result.unlisted == frozenset()


def test_file_entry_matches_lstat_and_content(folder: Path) -> None:
    path = folder / "a.txt"
    path.chmod(0o640)
    entry = Scanner(str(folder)).run().entries["a.txt"]
    st = os.lstat(path)
    assert entry.type == "file"
    assert entry.digest == _sha(b"alpha")
    assert (entry.size, entry.mtime_ns, entry.ctime_ns, entry.ino) == (
        5,
        st.st_mtime_ns,
        st.st_ctime_ns,
        st.st_ino,
    )
    assert (entry.mode, entry.uid, entry.gid) == (0o640, st.st_uid, st.st_gid)
    assert entry.target is None and entry.error is None


def test_folder_entry_has_mode_and_no_size_or_digest(folder: Path) -> None:
    (folder / "sub").chmod(0o750)
    entry = Scanner(str(folder)).run().entries["sub"]
    assert entry.type == "dir"
    assert entry.mode == 0o750
    assert entry.size == 0
    assert entry.digest is None


def test_blake2b_is_used_when_asked(folder: Path) -> None:
    entry = Scanner(str(folder), algorithm="blake2b").run().entries["a.txt"]
    assert entry.digest == hashlib.blake2b(b"alpha").hexdigest()


def test_hashed_counters(folder: Path) -> None:
    result = Scanner(str(folder)).run()
    assert result.hashed_files == 3
    assert result.hashed_bytes == 5 + 5 + 100
    assert result.root_dev == os.stat(folder).st_dev


def test_symlink_recorded_by_target_and_never_followed(tmp_path: Path) -> None:
    outside = _tree(tmp_path / "outside", {"secret.txt": b"secret"})
    root = _tree(tmp_path / "watched", {"x.txt": b"x"})
    (root / "out").symlink_to(outside)
    (root / "loop").symlink_to(".")
    (root / "dangling").symlink_to("no/such/file")
    result = Scanner(str(root)).run()
    assert set(result.entries) == {"x.txt", "out", "loop", "dangling"}
    assert result.entries["out"].type == "symlink"
    assert result.entries["out"].target == str(outside)
    assert result.entries["out"].digest is None
    assert result.entries["loop"].target == "."
    assert result.entries["dangling"].target == "no/such/file"
    assert result.entries["dangling"].size == len("no/such/file")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifo_recorded_by_type(tmp_path: Path) -> None:
    root = tmp_path / "watched"
    root.mkdir()
    os.mkfifo(root / "pipe")
    entry = Scanner(str(root)).run().entries["pipe"]
    assert entry.type == "fifo"
    assert entry.digest is None and entry.size == 0


def test_undecodable_name_is_kept_with_surrogates(tmp_path: Path) -> None:
    root = tmp_path / "watched"
    root.mkdir()
    raw = os.path.join(os.fsencode(root), b"caf\xe9.txt")
    with open(raw, "wb") as out:
        out.write(b"x")
    result = Scanner(str(root)).run()
    assert list(result.entries) == ["caf\udce9.txt"]
    assert result.entries["caf\udce9.txt"].digest == _sha(b"x")


def test_empty_root_has_no_entries(tmp_path: Path) -> None:
    result = Scanner(str(tmp_path)).run()
    assert result.entries == {}
    assert result.hashed_files == 0


# -- a deep tree ----------------------------------------------------------------------------------


@pytest.fixture
def deep_tree(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """A chain of nested folders deeper than Python's recursion limit.

    Made and removed relative to an open folder, so that each step is one lookup, not a walk
    of the whole path (and shutil.rmtree, which recurses, is not needed).
    """
    depth = sys.getrecursionlimit() + 200
    root = tmp_path / "deep"
    root.mkdir()
    flags = os.O_RDONLY | os.O_DIRECTORY
    fd = os.open(root, flags)
    for _ in range(depth):
        os.mkdir("d", dir_fd=fd)
        inner = os.open("d", flags, dir_fd=fd)
        os.close(fd)
        fd = inner
    out = os.open("bottom.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
    os.write(out, b"bottom")
    os.close(out)
    try:
        yield root, depth
    finally:
        os.unlink("bottom.txt", dir_fd=fd)
        for _ in range(depth):
            parent = os.open("..", flags, dir_fd=fd)
            os.close(fd)
            os.rmdir("d", dir_fd=parent)
            fd = parent
        os.close(fd)
        root.rmdir()


def test_walks_a_tree_deeper_than_the_recursion_limit(deep_tree: tuple[Path, int]) -> None:
    root, depth = deep_tree
    assert depth > sys.getrecursionlimit()
    result = Scanner(str(root)).run()
    bottom = "/".join(["d"] * depth) + "/bottom.txt"
    assert len(result.entries) == depth + 1
    assert result.entries[bottom].digest == _sha(b"bottom")
    assert result.problems == ()


# -- excludes -------------------------------------------------------------------------------------


def test_default_excludes_skip_litter_but_not_documents(tmp_path: Path) -> None:
    root = _tree(
        tmp_path / "w",
        {
            ".DS_Store": b"",
            "foo.swp": b"",
            ".notes.txt.swp": b"",
            "~$doc.docx": b"",
            "doc.docx": b"doc",
            "Thumbs.db": b"",
            "sub/.DS_Store": b"",
            "sub/backup.txt~": b"",
            ".~lock.report.odt#": b"",
            "report.odt": b"r",
        },
    )
    result = Scanner(str(root)).run()
    assert set(result.entries) == {"doc.docx", "sub", "report.odt"}


def test_default_excludes_are_the_scanner_default(tmp_path: Path) -> None:
    assert Scanner(str(tmp_path)).excludes == DEFAULT_EXCLUDES


def test_no_excludes_keeps_everything(tmp_path: Path) -> None:
    root = _tree(tmp_path / "w", {".DS_Store": b"", "foo.swp": b""})
    assert set(Scanner(str(root), excludes=()).run().entries) == {".DS_Store", "foo.swp"}


def test_name_pattern_matches_at_any_depth(tmp_path: Path) -> None:
    root = _tree(tmp_path / "w", {"a.log": b"", "sub/b.log": b"", "sub/keep.txt": b"", "log": b""})
    result = Scanner(str(root), excludes=("*.log",)).run()
    assert set(result.entries) == {"sub", "sub/keep.txt", "log"}


def test_path_pattern_matches_only_that_path(tmp_path: Path) -> None:
    root = _tree(tmp_path / "w", {"skip.txt": b"", "sub/skip.txt": b"", "other/skip.txt": b""})
    result = Scanner(str(root), excludes=("sub/skip.txt",)).run()
    assert set(result.entries) == {"skip.txt", "sub", "other", "other/skip.txt"}


def test_path_pattern_with_leading_slash(tmp_path: Path) -> None:
    root = _tree(tmp_path / "w", {"build/out.o": b"", "src/build/keep.c": b""})
    result = Scanner(str(root), excludes=("/build/",)).run()
    assert set(result.entries) == {"src", "src/build", "src/build/keep.c"}


def test_excluded_folder_is_not_descended(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _tree(tmp_path / "w", {"node_modules/pkg/index.js": b"", "src/main.py": b""})
    listed: list[str] = []
    real_scandir = os.scandir

    def spy(path: str | int) -> object:
        # On POSIX the walk lists the folders it holds open: name them by their descriptor.
        name = os.readlink(f"/proc/self/fd/{path}") if isinstance(path, int) else path
        listed.append(os.path.relpath(name, root))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", spy)
    result = Scanner(str(root), excludes=("node_modules/",)).run()
    assert set(result.entries) == {"src", "src/main.py"}
    assert sorted(listed) == [".", "src"]


def _skips(excluder: Excluder, rel: str, is_dir: bool = False, mode: int = 0o100644) -> bool:
    return excluder.skips(rel.rsplit("/", 1)[-1], rel, is_dir, lambda: mode)


def test_excluder_accepts_a_one_shot_iterable() -> None:
    excluder = Excluder(p for p in ["*.tmp", "cache/data", "build/"])
    assert _skips(excluder, "deep/x.tmp")
    assert _skips(excluder, "cache/data")
    assert not _skips(excluder, "other/data")
    assert _skips(excluder, "deep/build", is_dir=True)


def test_excluder_without_patterns_excludes_nothing() -> None:
    excluder = Excluder(())
    assert not _skips(excluder, "any/thing")
    assert excluder.name_match is None and excluder.path_match is None


def test_a_pattern_names_files_unless_it_ends_with_a_slash() -> None:
    excluder = Excluder(["cache", "logs/", "/top/"])
    assert _skips(excluder, "a/cache") and not _skips(excluder, "a/cache", is_dir=True)
    assert _skips(excluder, "a/logs", is_dir=True) and not _skips(excluder, "a/logs")
    assert _skips(excluder, "top", is_dir=True) and not _skips(excluder, "a/top", is_dir=True)


@pytest.mark.parametrize("mode", [0o100755, 0o100744, 0o104644, 0o102644, 0o100001])
def test_a_default_pattern_never_hides_a_program_or_set_id_file(mode: int) -> None:
    excluder = Excluder(DEFAULT_EXCLUDES)
    assert _skips(excluder, "notes.txt~", mode=0o100644)
    assert not _skips(excluder, "tool~", mode=mode)


def test_no_name_pattern_hides_a_program_or_a_set_uid_file() -> None:
    assert _skips(Excluder(["*.bak"]), "notes.bak", mode=0o100644)  # the person's choice
    assert not _skips(Excluder(["*.bak"]), "tool.bak", mode=0o104755)  # set-uid: never hidden
    assert not _skips(Excluder(["*.log"]), "run.log", mode=0o100755)  # a program: never hidden
    assert not _skips(Excluder(["*.bak", "*~"]), "tool~", mode=0o104755)  # "*~" is a default


def test_default_patterns_hide_no_folder_and_nothing_below_one(tmp_path: Path) -> None:
    root = _tree(
        tmp_path / "w",
        {
            "lib~/deep/payload.sh": b"#!/bin/sh\n",
            ".#cache/ls": b"elf",
            "desktop.ini/x": b"",
            "4913/y": b"",
            "notes.txt~": b"backup",
            "4913.d/z.swp": b"swap",
        },
    )
    os.chmod(root / "lib~/deep/payload.sh", 0o4755)  # noqa: S103 - what a default must not hide
    (root / "setuid~").write_bytes(b"elf")
    os.chmod(root / "setuid~", 0o4755)  # noqa: S103
    (root / "script.swp").write_bytes(b"#!/bin/sh\n")
    os.chmod(root / "script.swp", 0o755)  # noqa: S103
    entries = set(Scanner(str(root)).run().entries)
    assert {"lib~/deep/payload.sh", ".#cache/ls", "desktop.ini/x", "4913/y"} <= entries
    assert {"setuid~", "script.swp", "4913.d"} <= entries
    assert "notes.txt~" not in entries and "4913.d/z.swp" not in entries


def _wait_for_a_later_ctime(folder: Path, ctime_ns: int) -> None:
    """File times come from a coarse clock: wait until a change would get a later ctime."""
    probe = folder.parent / "probe"
    for _ in range(1000):
        probe.write_bytes(b"")
        if os.stat(probe).st_ctime_ns > ctime_ns:
            probe.unlink()
            return
        time.sleep(0.001)
    raise AssertionError("the file clock did not move")


# -- quick rescans --------------------------------------------------------------------------------


def test_quick_rescan_reuses_digests_when_stat_is_unchanged(folder: Path) -> None:
    first = Scanner(str(folder)).run()
    second = Scanner(str(folder), previous=first.entries).run()
    assert second.hashed_files == 0
    assert second.entries == first.entries


def test_quick_rescan_rehashes_a_file_whose_stat_changed(folder: Path) -> None:
    first = Scanner(str(folder)).run()
    (folder / "sub" / "b.txt").write_bytes(b"bravo, changed")
    second = Scanner(str(folder), previous=first.entries).run()
    assert second.hashed_files == 1
    assert second.entries["sub/b.txt"].digest == _sha(b"bravo, changed")
    assert second.entries["a.txt"] == first.entries["a.txt"]


def test_quick_rescan_catches_content_changed_with_mtime_put_back(folder: Path) -> None:
    path = folder / "a.txt"
    first = Scanner(str(folder)).run()
    st = os.stat(path)
    _wait_for_a_later_ctime(folder, st.st_ctime_ns)
    path.write_bytes(b"ALPHA")  # same size
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # the ctime still moves
    second = Scanner(str(folder), previous=first.entries).run()
    assert second.hashed_files == 1
    assert second.entries["a.txt"].mtime_ns == first.entries["a.txt"].mtime_ns
    assert second.entries["a.txt"].digest == _sha(b"ALPHA")


def test_quick_rescan_rehashes_a_replaced_file(folder: Path) -> None:
    path = folder / "a.txt"
    first = Scanner(str(folder)).run()
    st = os.stat(path)
    (folder / "new").write_bytes(b"ALPHA")
    os.utime(folder / "new", ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(folder / "new", path)  # another inode
    second = Scanner(str(folder), previous=first.entries).run()
    assert second.hashed_files == 1
    assert second.entries["a.txt"].digest == _sha(b"ALPHA")


def test_quick_rescan_does_not_reuse_a_digest_of_another_type(folder: Path) -> None:
    first = Scanner(str(folder)).run()
    previous = dict(first.entries)
    previous["a.txt"] = previous["sub"]  # recorded as a folder: its (absent) digest is useless
    second = Scanner(str(folder), previous=previous).run()
    assert second.hashed_files == 1
    assert second.entries["a.txt"].digest == _sha(b"alpha")


def test_full_rescan_rehashes_every_file(folder: Path) -> None:
    first = Scanner(str(folder)).run()
    second = Scanner(str(folder), previous=first.entries, full=True).run()
    assert second.hashed_files == 3
    assert second.entries == first.entries


def test_full_rescan_catches_content_with_every_stat_field_kept(folder: Path) -> None:
    first = Scanner(str(folder)).run()
    forged = dict(first.entries)
    old = forged["a.txt"]
    # A baseline digest that no longer matches what is on disk, with every stat field the same:
    # only a full re-hash can see it.
    forged["a.txt"] = old._replace(digest="0" * 64)
    quick = Scanner(str(folder), previous=forged).run()
    full = Scanner(str(folder), previous=forged, full=True).run()
    assert quick.entries["a.txt"].digest == "0" * 64
    assert full.entries["a.txt"].digest == _sha(b"alpha")


# -- stops, progress, the root ---------------------------------------------------------------------


def test_a_set_stop_event_cancels(folder: Path) -> None:
    stop = threading.Event()
    stop.set()
    with pytest.raises(ScanCancelled, match="stopped"):
        Scanner(str(folder), stop=stop).run()


@pytest.fixture(scope="module")
def thousand(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``s0/f`` and ``s1/`` with 1,000 files: 1,003 entries, ``s1`` walked first."""
    root = tmp_path_factory.mktemp("thousand")
    (root / "s0").mkdir()
    (root / "s0" / "f").touch()
    (root / "s1").mkdir()
    for i in range(1000):
        (root / "s1" / f"f{i}").touch()
    return root


def test_stop_during_the_walk_cancels(thousand: Path) -> None:
    stop = threading.Event()
    calls: list[int] = []

    def progress(seen: int) -> None:
        calls.append(seen)
        stop.set()

    with pytest.raises(ScanCancelled):
        Scanner(str(thousand), progress=progress, stop=stop).run()
    assert calls == [1000]


def test_progress_reports_counts_and_the_final_total(thousand: Path) -> None:
    calls: list[int] = []
    result = Scanner(str(thousand), progress=calls.append).run()
    assert calls == [1000, 1003]
    assert len(result.entries) == 1003


def test_progress_on_a_small_folder_is_called_once(folder: Path) -> None:
    calls: list[int] = []
    Scanner(str(folder), progress=calls.append).run()
    assert calls == [5]


def test_missing_root_raises_folder_missing(tmp_path: Path) -> None:
    with pytest.raises(FolderMissingError, match="cannot be opened"):
        Scanner(str(tmp_path / "gone")).run()


def test_root_that_is_a_file_raises_folder_missing(tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_bytes(b"")
    with pytest.raises(FolderMissingError, match="no longer a folder"):
        Scanner(str(path)).run()


def test_root_on_another_device_raises_folder_missing(folder: Path) -> None:
    dev = os.stat(folder).st_dev
    with pytest.raises(FolderMissingError, match="different disk"):
        Scanner(str(folder), root_dev=dev + 1).run()


def test_root_on_the_recorded_device_scans(folder: Path) -> None:
    result = Scanner(str(folder), root_dev=os.stat(folder).st_dev).run()
    assert len(result.entries) == 5


def test_entry_mode_is_permission_bits_only(folder: Path) -> None:
    (folder / "a.txt").chmod(0o4755)
    entry = Scanner(str(folder)).run().entries["a.txt"]
    assert entry.mode == stat.S_IMODE(os.lstat(folder / "a.txt").st_mode) == 0o4755


# -- the walk by folder descriptors (POSIX) ---------------------------------------------------

needs_fd_walk = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not dirwalk.FD_WALK,
    reason="the walk by descriptors, checked through /proc/self/fd",
)


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def _swap_for_link(folder: Path, target: Path) -> None:
    """Put a link to ``target`` in the place of ``folder`` (the folder itself is kept aside)."""
    folder.rename(folder.with_name(folder.name + ".aside"))
    folder.symlink_to(target, target_is_directory=True)


@pytest.fixture
def read_paths(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The real path of every file the scan reads and every folder it lists."""
    seen: list[str] = []
    real_hash, real_scandir = hashing.hash_fd, os.scandir

    def where(fd: int) -> str:
        return os.readlink(f"/proc/self/fd/{fd}")

    def spy_hash(fd: int, *args: object) -> str | None:
        seen.append(where(fd))
        return real_hash(fd, *args)  # type: ignore[arg-type]

    def spy_scandir(path: str | int) -> object:
        seen.append(where(path) if isinstance(path, int) else os.path.realpath(path))
        return real_scandir(path)

    monkeypatch.setattr(hashpool, "hash_fd", spy_hash)
    monkeypatch.setattr(os, "scandir", spy_scandir)
    return seen


@needs_fd_walk
@pytest.mark.parametrize("previous", [None, {}])
def test_a_folder_swapped_for_a_link_before_the_descent_is_not_followed(
    tmp_path: Path, read_paths: list[str], previous: dict[str, Entry] | None
) -> None:
    root = _tree(tmp_path / "w", {"a.txt": b"a", "sub/in.txt": b"inside"})
    outside = _tree(tmp_path / "outside", {"secret.txt": b"secret", "deep/more.txt": b"more"})

    class SwapOnDescent(Recorder):
        def record_entry(self, child: os.DirEntry[str], rel: str) -> bool:
            descend = super().record_entry(child, rel)
            if rel == "sub":  # listed and recorded as a folder; the walk descends next
                _swap_for_link(root / "sub", outside)
            return descend

    before = _open_fds()
    result = Scanner(
        str(root), previous=previous, hash_workers=1, recorder=SwapOnDescent
    ).run()
    assert _open_fds() == before
    assert set(result.entries) == {"a.txt"}
    assert [(p.path, p.message) for p in result.problems] == [
        ("sub", "was replaced during the scan")
    ]
    assert not [p for p in read_paths if p.startswith(str(outside))]
    # Told by file events that something in it changed: the link is not followed either.
    targeted = Scanner(str(root), only=["sub/secret.txt", "sub/deep"]).run()
    assert set(targeted.entries) == set()
    assert _open_fds() == before
    assert not [p for p in read_paths if p.startswith(str(outside))]


@needs_fd_walk
def test_a_big_file_whose_folder_is_swapped_before_a_worker_opens_it_is_not_read(
    tmp_path: Path, read_paths: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hashpool, "cpu_count", lambda: 4)
    big = b"b" * hashpool.BIG_FILE
    root = _tree(tmp_path / "w", {"sub/big.bin": big})
    outside = _tree(tmp_path / "outside", {"big.bin": big})

    class SwapBeforeWorker(Recorder):
        def file_entry(self, path: str, rel: str, st: os.stat_result) -> Entry | None:
            entry = super().file_entry(path, rel, st)  # big: queued for a worker by full path
            if rel == "sub/big.bin":
                _swap_for_link(root / "sub", outside)
            return entry

    # The worker may not open it before the swap: hold the first open until it is done.
    swapped = threading.Event()
    real_open = hashpool.open_file

    def open_after_swap(path: str, *args: Any) -> Any:
        if threading.current_thread().name.startswith("fim-tray-hash-"):
            assert swapped.wait(10)
        return real_open(path, *args)

    monkeypatch.setattr(hashpool, "open_file", open_after_swap)

    class Signal(SwapBeforeWorker):
        def file_entry(self, path: str, rel: str, st: os.stat_result) -> Entry | None:
            entry = super().file_entry(path, rel, st)
            swapped.set()
            return entry

    before = _open_fds()
    result = Scanner(str(root), hash_workers=4, recorder=Signal).run()
    assert _open_fds() == before
    assert set(result.entries) == {"sub"}
    assert [(p.path, p.message) for p in result.problems] == [
        ("sub/big.bin", "was replaced during the scan")
    ]
    assert not [p for p in read_paths if p.startswith(str(outside))]


@needs_fd_walk
def test_no_descriptor_is_left_open_whatever_ends_the_walk(tmp_path: Path) -> None:
    files = {f"d{i}/e{j}/f.txt": b"x" for i in range(4) for j in range(3)}
    root = _tree(tmp_path / "w", {**files, "top.txt": b"t"})
    before = _open_fds()

    Scanner(str(root)).run()  # a whole walk
    Scanner(str(root), previous={}).run()  # a rescan (lstat first)
    Scanner(str(root), only=["d1", "d2/e0/f.txt", "gone/x"]).run()  # targeted
    assert _open_fds() == before

    class Failing(Recorder):
        def record_entry(self, child: os.DirEntry[str], rel: str) -> bool:
            if rel == "d2/e1":  # folders wait on the stack, their parents held open
                raise RuntimeError("boom")
            return super().record_entry(child, rel)

    with pytest.raises(RuntimeError, match="boom"):
        Scanner(str(root), recorder=Failing).run()
    with pytest.raises(RuntimeError, match="boom"):
        Scanner(str(root), only=["d2/e1", "d3"], recorder=Failing).run()
    assert _open_fds() == before

    stop = threading.Event()

    class Stopping(Recorder):
        def record_entry(self, child: os.DirEntry[str], rel: str) -> bool:
            if rel == "d1/e1":
                stop.set()
            return super().record_entry(child, rel)

    with pytest.raises(ScanCancelled):
        Scanner(str(root), stop=stop, recorder=Stopping).run()
    assert _open_fds() == before

    class Vanishing(Recorder):
        def record_entry(self, child: os.DirEntry[str], rel: str) -> bool:
            descend = super().record_entry(child, rel)
            if rel == "d0/e0":  # gone before the walk descends into it
                (root / "d0/e0/f.txt").unlink()
                (root / "d0/e0").rmdir()
            return descend

    result = Scanner(str(root), recorder=Vanishing).run()
    assert ("d0/e0", "vanished during the scan") in [(p.path, p.message) for p in result.problems]
    assert _open_fds() == before
