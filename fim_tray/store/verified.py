"""Which big signed files (a baseline's JSON, its cache) this process has verified already, known
by what the OS says of each version of a file: so a file event in a folder of a million files
is checked without reading 300 MB again to verify their signatures.

A version of a file is its device, inode, size, mtime and ctime. Any write to the file, or a
file renamed into its place, gives another one: a write moves ctime, which no one but the
clock's owner can set back, and a file put in its place has its own inode and ctime. The
clock that stamps ctime is coarse (a few milliseconds), so a write in the same tick as the
file's last one could keep its ctime: a version is remembered only once its ctime is
``SETTLED`` seconds old, which any later write then moves past.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time

SETTLED = 2.0  # seconds since a file's ctime before its version may be remembered
_KEPT = 64  # versions remembered, the oldest forgotten first

Version = tuple[int, int, int, int, int]
_seen: dict[tuple[str, Version, bytes], str] = {}
_lock = threading.Lock()


def version(fd: int) -> Version:
    """The version of the open file ``fd``."""
    st = os.fstat(fd)
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _slot(what: str, seen: Version, key: bytes) -> tuple[str, Version, bytes]:
    # The key itself is never kept: only a digest that tells two keys apart.
    return (what, seen, hashlib.sha256(key).digest())


def recall(what: str, fd: int, key: bytes) -> str | None:
    """The signature ``what`` (a kind of check) found on this very version of ``fd`` with
    ``key``, if this process verified it before; None otherwise."""
    with _lock:
        return _seen.get(_slot(what, version(fd), key))


def remember(what: str, fd: int, key: bytes, signature: str) -> None:
    """Note that ``what`` verified ``fd`` as it is now with ``key`` and found ``signature``
    (nothing is noted while its last change is too recent: see the module's docstring)."""
    seen = version(fd)
    if time.time_ns() - seen[4] < SETTLED * 1e9:
        return
    with _lock:
        _seen[_slot(what, seen, key)] = signature
        while len(_seen) > _KEPT:
            del _seen[next(iter(_seen))]


def forget() -> None:
    """Forget every version (for tests)."""
    with _lock:
        _seen.clear()
