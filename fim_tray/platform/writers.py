"""Who has a file open for writing, from Linux's /proc: a hint shown beside a change ("written by
gedit (pid 4321)?"), looked for within a few milliseconds when a file event arrives, and never a
claim: a writer that already closed the file, another user's process, or a chmod leave nothing.

No library reads this: psutil's ``open_files()`` lists the files of one process at a time and
leaves out the access mode, which is what tells a writer from a reader.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Collection

from fim_tray.models import Writer

BUDGET = 0.002  # seconds a look may take: it runs as file events arrive, so it must stay short
_WRITE = (os.O_WRONLY, os.O_RDWR)


def writers(paths: Collection[str], budget: float = BUDGET) -> dict[str, Writer]:
    """For each of ``paths`` (absolute) that a process of this user (not this one) has open for
    writing, that process; whatever ``budget`` seconds allow, newest processes first."""
    if not paths or not sys.platform.startswith("linux"):
        return {}
    deadline = time.monotonic() + budget
    wanted = set(paths)
    found: dict[str, Writer] = {}
    uid, me = os.getuid(), os.getpid()
    try:
        pids = sorted((int(e.name) for e in os.scandir("/proc") if e.name.isdigit()), reverse=True)
    except OSError:
        return {}
    for pid in pids:
        if time.monotonic() > deadline or len(found) == len(wanted):
            break
        if pid == me:
            continue
        try:
            if os.stat(f"/proc/{pid}").st_uid != uid:
                continue
            for count, fd in enumerate(os.scandir(f"/proc/{pid}/fd")):
                if count % 32 == 31 and time.monotonic() > deadline:
                    break  # a process with thousands of open files: the budget still holds
                target = os.readlink(fd.path)
                if target in wanted and target not in found and _writes(pid, fd.name):
                    found[target] = Writer(_name(pid), pid)
        except OSError:  # gone meanwhile, or not ours to look at
            continue
    return found


def _writes(pid: int, fd: str) -> bool:
    with open(f"/proc/{pid}/fdinfo/{fd}", encoding="ascii") as info:
        for line in info:
            if line.startswith("flags:"):
                return int(line.split()[1], 8) & os.O_ACCMODE in _WRITE
    return False


def _name(pid: int) -> str:
    with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as comm:
        return comm.read().strip() or "?"
