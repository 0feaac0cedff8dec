"""Which kernel file system a folder is on, to refuse watching the ones that are not files.

``/proc``, ``/sys`` and their kin hold "files" that are views of the running kernel: reading
``/proc/self/pagemap`` takes as long as the address space is big, others block or change at every
read. None of them can have a baseline. Python has no ``statfs``; on Linux the kernel's own list of
mounts (``/proc/self/mountinfo``) says which file system holds a path. Elsewhere nothing is
refused here (those systems keep such views out of the folders a person picks).
"""

from __future__ import annotations

import os
import sys

# Kernel views and pseudo file systems: nothing in them is a file anyone could keep a baseline of.
PSEUDO = frozenset(
    {
        "proc", "sysfs", "devpts", "debugfs", "tracefs", "securityfs", "cgroup",
        "cgroup2", "pstore", "bpf", "configfs", "fusectl", "mqueue", "hugetlbfs", "binfmt_misc",
        "efivarfs", "autofs", "rpc_pipefs", "nsfs", "selinuxfs",
    }
)  # fmt: skip


def _unescape(field: str) -> str:
    """A mount point as mountinfo writes it (space, tab, newline and backslash as octal)."""
    for code in ("\\040", "\\011", "\\012", "\\134"):
        field = field.replace(code, chr(int(code[1:], 8)))
    return field


def file_system(path: str) -> str | None:
    """The type of the file system that holds ``path`` (absolute, resolved), on Linux; None
    where it cannot be told."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as table:
            lines = table.read().splitlines()
    except OSError:
        return None
    best, kind = "", None
    for line in lines:
        left, sep, right = line.partition(" - ")
        fields = left.split()
        if not sep or len(fields) < 5 or not right:
            continue
        point = _unescape(fields[4])
        inside = path == point or path.startswith(os.path.join(point, ""))
        if inside and len(point) >= len(best):  # the last of equal ones is the one on top
            best, kind = point, right.split()[0]
    return kind


def pseudo(path: str) -> str | None:
    """The pseudo file system ``path`` is on (``proc``, ``sysfs`` ...), or None."""
    kind = file_system(path)
    return kind if kind in PSEUDO else None
