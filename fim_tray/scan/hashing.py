"""Streaming file hashes with constant memory: SHA-256 by default, BLAKE2b on request."""

from __future__ import annotations

import errno
import hashlib
import io
import mmap
import os
import stat
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # only for the annotation: a scan without a cap never imports it
    from fim_tray.scan.throttle import Throttle

# preadv reads at an offset into our buffer: no seek before a retry, no file object per file.
# It is missing on Windows (and on older macOS builds), which take the portable path below.
_preadv: Callable[[int, list[memoryview], int], int] | None = getattr(os, "preadv", None)

ALGORITHMS: dict[str, Callable[[], Any]] = {
    "sha256": hashlib.sha256,
    "blake2b": hashlib.blake2b,
}
DEFAULT_ALGORITHM = "sha256"
BUFFER_SIZE = 1 << 20  # 1 MiB: large reads let hashlib release the GIL and keep syscalls few

# Open flags that keep a read from ever blocking or leaving the folder: O_NONBLOCK makes a FIFO
# swapped in after the lstat fail fast instead of hanging; O_NOFOLLOW refuses a symlink swapped in.
OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_BINARY", 0)
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_CLOEXEC", 0)
)

_local = threading.local()
# Anonymous mmap memory is shared with forked children unless asked private: worker processes
# (fim_tray.scan.processes) would otherwise all read into the one buffer their parent made.
_PRIVATE: dict[str, int] = (
    {"flags": mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS} if hasattr(mmap, "MAP_PRIVATE") else {}
)


def _buffer() -> memoryview:
    """A page-aligned buffer per thread, reused for every file.

    ``mmap`` memory starts on a page boundary; ``readinto`` a page-aligned buffer runs about 3x
    faster than into a ``bytearray`` that starts mid-page.
    """
    view: memoryview | None = getattr(_local, "view", None)
    if view is None:
        view = memoryview(mmap.mmap(-1, BUFFER_SIZE, **_PRIVATE))
        _local.view = view
    return view


def new_hash(algorithm: str) -> Any:
    """A fresh hash object; raises ``ValueError`` for an unknown algorithm name."""
    try:
        return ALGORITHMS[algorithm]()
    except KeyError:
        names = ", ".join(sorted(ALGORITHMS))
        raise ValueError(f"unknown hash algorithm {algorithm!r} (choose {names})") from None


def hash_stream(stream: io.RawIOBase, algorithm: str = DEFAULT_ALGORITHM) -> str:
    """Hex digest of everything ``stream`` yields, read in fixed-size chunks."""
    digest = new_hash(algorithm)
    buf = _buffer()
    while True:
        n = stream.readinto(buf)
        if not n:
            hexdigest: str = digest.hexdigest()
            return hexdigest
        digest.update(buf[:n])


def hash_fd(
    fd: int,
    algorithm: str = DEFAULT_ALGORITHM,
    size: int = -1,
    cancelled: Callable[[], bool] | None = None,
    throttle: Throttle | None = None,
) -> str | None:
    """Hex digest of an open regular file, from its start whatever its file offset.

    ``size`` is the size ``fstat`` gave just before: a short read that reaches it is taken as
    the end of the file, saving the last read, which would return nothing (a file that fits in
    the buffer takes one read instead of two). A file that grew meanwhile is read on to its
    real end; callers compare ``fstat`` before and after anyway. ``cancelled`` is asked between
    full chunks, so a stop ends the hashing of a huge file within one chunk; then None.
    ``throttle`` is charged for every chunk read, and a stop also ends its wait (then None).
    """
    digest = new_hash(algorithm)
    buf = _buffer()
    chunk = len(buf)
    if _preadv is None:
        os.lseek(fd, 0, os.SEEK_SET)
        with io.FileIO(fd, "rb", closefd=False) as stream:
            while n := stream.readinto(buf):
                digest.update(buf if n == chunk else buf[:n])
                if cancelled is not None and n == chunk and cancelled():
                    return None
                if throttle is not None and not throttle.charge(n, cancelled):
                    return None
        hexdigest: str = digest.hexdigest()
        return hexdigest
    preadv = _preadv
    buffers = [buf]
    offset = 0
    while True:
        n = preadv(fd, buffers, offset)
        if n == chunk:
            digest.update(buf)
            offset += n
            if cancelled is not None and cancelled():
                return None
            if throttle is not None and not throttle.charge(n, cancelled):
                return None
            continue
        if n:
            digest.update(buf[:n])
            offset += n
            if throttle is not None and not throttle.charge(n, cancelled):
                return None
        if not n or offset == size:
            hexdigest = digest.hexdigest()
            return hexdigest


def hash_file(path: str | os.PathLike[str], algorithm: str = DEFAULT_ALGORITHM) -> str:
    """Hex digest of a regular file; symlinks and FIFOs are refused, never followed or waited on."""
    fd = os.open(path, OPEN_FLAGS)
    try:
        # O_NONBLOCK opens a FIFO at once, and reading it then looks like an empty file.
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", os.fspath(path))
        digest = hash_fd(fd, algorithm, st.st_size)
    finally:
        os.close(fd)
    assert digest is not None  # only a cancel gives None, and there is none here
    return digest
