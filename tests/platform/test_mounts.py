"""Telling the file system of a folder: the kernel's views are refused, real disks are not."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fim_tray.platform import mounts
from tests.helpers import cli

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads Linux mountinfo")


@linux
def test_kernel_views_are_pseudo_and_a_folder_of_files_is_not(tmp_path: Path) -> None:
    assert mounts.pseudo("/proc") == "proc"
    assert mounts.pseudo(os.path.realpath("/proc/self")) == "proc"
    assert mounts.pseudo("/sys/kernel") == "sysfs"
    assert mounts.pseudo(str(tmp_path)) is None
    assert mounts.file_system(str(tmp_path)) is not None


@linux
@pytest.mark.skipif(os.geteuid() != 0, reason="mounting needs root")
def test_a_mount_point_with_a_space_in_its_name(tmp_path: Path) -> None:
    where = tmp_path / "a disk\there"
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(where)], capture_output=True)
    assert done.returncode == 0, done.stderr
    try:
        assert mounts.file_system(str(where / "x")) == "tmpfs"
        assert mounts.file_system(str(tmp_path)) != "tmpfs" or tmp_path.is_mount()
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


@linux
def test_add_of_proc_self_is_refused_at_once(home: Path) -> None:
    run = cli("add", "/proc/self", home=home, timeout=20)  # it used to read pagemap for ever
    assert run.returncode == 2
    assert "kernel's proc file system" in run.err
