"""Device nodes: their device numbers are recorded and a swapped device is a change, as AIDE's
``rdev`` check has it (root watching a container's or a chroot's root)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from fim_tray.display import describe
from fim_tray.models import Entry
from fim_tray.scan.compare import compare, compare_entry
from fim_tray.scan.scanner import Scanner

NULL = os.makedev(1, 3) if hasattr(os, "makedev") else 259
ZERO = os.makedev(1, 5) if hasattr(os, "makedev") else 261


def _device(rdev: int, kind: str = "chardev") -> Entry:
    return Entry(kind, rdev, 1_000, 1_000, 7, 0o666, 0, 0)  # type: ignore[arg-type]


def test_a_device_keeps_its_number_and_a_file_has_none() -> None:
    assert _device(NULL).rdev == NULL
    assert _device(NULL, "blockdev").rdev == NULL
    assert Entry("file", 10, 1, 1, 1, 0o644, 0, 0, digest="a" * 64).rdev is None


def test_a_swapped_device_is_a_change_and_says_which_numbers() -> None:
    change = compare_entry("dev/null", _device(NULL), _device(ZERO))
    assert change is not None and change.kind == "metadata" and change.fields == ("rdev",)
    if hasattr(os, "makedev"):
        assert describe(change) == "device 1,3 -> 1,5"
        assert describe(change, brief=True) == "device 1,3 -> 1,5"
    assert change.signature() != compare_entry("dev/null", _device(NULL), _device(7)).signature()  # type: ignore[union-attr]


def test_the_same_device_is_no_change() -> None:
    assert compare({"null": _device(NULL)}, {"null": _device(NULL)}) == []


def _mknod(path: Path, rdev: int) -> None:
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, rdev)
    except PermissionError:
        pytest.skip("making a device node needs root (CAP_MKNOD)")


@pytest.mark.skipif(not hasattr(os, "mknod"), reason="no device nodes on this system")
def test_a_scan_sees_a_device_swapped_with_the_same_mode_owner_and_mtime(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "dev").mkdir(parents=True)
    node = root / "dev" / "null"
    _mknod(node, NULL)
    before = os.lstat(node)
    baseline = Scanner(str(root), excludes=()).run().entries
    assert baseline["dev/null"].rdev == NULL

    node.unlink()
    _mknod(node, ZERO)
    os.chown(node, before.st_uid, before.st_gid)
    os.chmod(node, stat.S_IMODE(before.st_mode))
    os.utime(node, ns=(before.st_atime_ns, before.st_mtime_ns))
    for quick in (True, False):  # a quick check and a full one alike
        scanner = Scanner(str(root), excludes=(), previous=baseline if quick else None)
        [change] = compare(baseline, scanner.run().entries)
        assert change.path == "dev/null" and "rdev" in change.fields
