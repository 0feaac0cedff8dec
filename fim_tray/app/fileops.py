"""Safe reads and atomic replacements of files inside a watched folder, never through a link.

Every operation works relative to an open folder descriptor (``dir_fd``) reached from the
watched folder one name at a time with ``O_NOFOLLOW``: a folder on the way that was swapped for
a symlink is refused, never followed, so a restore can never write outside the folder.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import hmac
import io
import os
import stat
import time
from collections.abc import Callable, Iterator

from fim_tray.errors import FimError
from fim_tray.jsonio import NEW_FILE_FLAGS
from fim_tray.scan.dirwalk import DIR_FLAGS
from fim_tray.scan.hashing import OPEN_FLAGS, hash_stream

TEMP_PREFIX = ".fim-restore-"  # short, so a temporary name fits even beside a 255-byte name
TEMP_SUFFIX = ".tmp"


class TooBig(Exception):
    """A file is larger than the limit it was read with."""


class NotAFolder(FimError):
    """A folder on the way to a file is missing, or is a link or a file now."""

    title = "Not restored"


def supported() -> bool:
    """Folder descriptors are what keeps writes from following links; Windows has none."""
    return os.open in os.supports_dir_fd and os.symlink in os.supports_dir_fd


@contextlib.contextmanager
def parent_dir(
    root: str, rel: str, *, create: Callable[[str], tuple[int, int, int]] | None = None
) -> Iterator[tuple[int, str]]:
    """An open descriptor of the folder holding ``rel`` (``/``-separated, inside ``root``) and
    the last name of ``rel``.

    ``create(sub_rel)`` gives the (mode, uid, gid) of each missing folder on the way, which is
    then made; without it a missing folder is an error.
    """
    parts = rel.split("/")
    fd = os.open(root, DIR_FLAGS)
    try:
        for index, part in enumerate(parts[:-1]):
            sub = "/".join(parts[: index + 1])
            try:
                child = os.open(part, DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if create is None:
                    raise NotAFolder(f"The folder {sub} is missing.") from None
                mode, uid, gid = create(sub)
                os.mkdir(part, 0o700, dir_fd=fd)  # the exact mode is set below, past the umask
                child = os.open(part, DIR_FLAGS, dir_fd=fd)
                fix_metadata(child, mode=mode, uid=uid, gid=gid, mtime_ns=None)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
                    raise NotAFolder(
                        f"{sub} is no longer a folder (a link or a file is in its place); it was "
                        "not followed."
                    ) from None
                raise
            os.close(fd)
            fd = child
        yield fd, parts[-1]
    finally:
        os.close(fd)


def read_regular(name: str, limit: int, *, dir_fd: int | None = None) -> bytes:
    """The whole content of a regular file, opened as the scanner opens files (no FIFO, no
    link followed). Raises :class:`TooBig` past ``limit`` bytes and ``OSError`` otherwise."""
    fd = os.open(name, OPEN_FLAGS, dir_fd=dir_fd)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", name)
        if st.st_size > limit:
            raise TooBig(name)
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return b"".join(chunks)
            total += len(chunk)
            if total > limit:  # it grew while it was read
                raise TooBig(name)
            chunks.append(chunk)
    finally:
        os.close(fd)


def hash_regular(name: str, algorithm: str, *, dir_fd: int | None = None) -> str:
    """The digest of a regular file too big to hold in memory, opened as :func:`read_regular`."""
    with io.FileIO(os.open(name, OPEN_FLAGS, dir_fd=dir_fd), "rb", closefd=True) as stream:
        if not stat.S_ISREG(os.fstat(stream.fileno()).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", name)
        return hash_stream(stream, algorithm)


def _tag(nonce: str, key: bytes) -> str:
    return hmac.new(key, nonce.encode(), hashlib.sha256).hexdigest()[:12]


def _temp_name(key: bytes) -> str:
    """A temporary name that says it is a restore's of this install: a random part and its MAC
    under the install key, so that a file of the person's that happens to look alike is never
    taken for a leftover."""
    nonce = os.urandom(6).hex()
    return f"{TEMP_PREFIX}{nonce}{_tag(nonce, key)}{TEMP_SUFFIX}"


def is_leftover(name: str, key: bytes) -> bool:
    """Whether ``name`` is a temporary name :func:`_temp_name` made with ``key``."""
    if not (name.startswith(TEMP_PREFIX) and name.endswith(TEMP_SUFFIX)):
        return False
    middle = name[len(TEMP_PREFIX) : -len(TEMP_SUFFIX)]
    nonce, tag = middle[:12], middle[12:]
    return len(middle) == 24 and hmac.compare_digest(_tag(nonce, key), tag)


def remove_leftovers(dir_fd: int, key: bytes) -> None:
    """Temporary files of a restore killed mid-write (the data lock is held by the caller, so no
    other restore is writing one now): only names this install made (see :func:`is_leftover`)."""
    with contextlib.suppress(OSError):
        for entry in os.scandir(dir_fd):
            if is_leftover(entry.name, key):
                with contextlib.suppress(OSError):
                    os.unlink(entry.name, dir_fd=dir_fd)


def _owner(
    set_owner: Callable[[int, int], None], uid: int, gid: int, have: tuple[int, int]
) -> bool:
    """Give back the recorded owner; False when this process may not (not root)."""
    if have == (uid, gid):
        return True
    try:
        set_owner(uid, gid)
    except PermissionError:
        return False
    return True


def replace_file(
    dir_fd: int,
    name: str,
    data: bytes,
    *,
    mode: int,
    uid: int,
    gid: int,
    mtime_ns: int,
    key: bytes,
) -> bool:
    """Atomically put ``data`` at ``name``: a temporary file in the same folder, fsync, rename
    over whatever is there (a link is replaced, never written through), fsync the folder.

    Returns False when the owner could not be given back. ``key`` tags the temporary name.
    """
    tmp = _temp_name(key)
    fd = os.open(tmp, NEW_FILE_FLAGS, 0o600, dir_fd=dir_fd)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            st = os.fstat(fd)
            owned = _owner(lambda u, g: os.fchown(fd, u, g), uid, gid, (st.st_uid, st.st_gid))
            os.fchmod(fd, mode)  # after chown, which clears set-user-ID bits
            os.utime(fd, ns=(time.time_ns(), mtime_ns))  # the baseline's mtime: no metadata change
            os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        _discard(dir_fd, tmp)
        raise
    _commit(dir_fd, tmp, name)
    return owned


def replace_link(
    dir_fd: int, name: str, target: str, *, uid: int, gid: int, mtime_ns: int, key: bytes
) -> bool:
    """Atomically make ``name`` a symlink to ``target`` (never followed); False when the owner
    could not be given back. ``key`` tags the temporary name."""
    tmp = _temp_name(key)
    os.symlink(target, tmp, dir_fd=dir_fd)
    try:
        st = os.lstat(tmp, dir_fd=dir_fd)
        owned = _owner(
            lambda u, g: os.chown(tmp, u, g, dir_fd=dir_fd, follow_symlinks=False),
            uid,
            gid,
            (st.st_uid, st.st_gid),
        )
        with contextlib.suppress(NotImplementedError, OSError):  # not every system sets link times
            os.utime(tmp, ns=(time.time_ns(), mtime_ns), dir_fd=dir_fd, follow_symlinks=False)
    except BaseException:
        _discard(dir_fd, tmp)
        raise
    _commit(dir_fd, tmp, name)
    return owned


def _commit(dir_fd: int, tmp: str, name: str) -> None:
    """Rename the finished temporary over ``name`` and make the rename durable; on failure the
    temporary goes and ``name`` is as it was."""
    try:
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        _discard(dir_fd, tmp)
        raise
    os.fsync(dir_fd)


def _discard(dir_fd: int, tmp: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(tmp, dir_fd=dir_fd)


def fix_metadata(fd: int, *, mode: int, uid: int, gid: int, mtime_ns: int | None) -> bool:
    """Give an open file or folder back its recorded owner, mode and (for files) mtime."""
    st = os.fstat(fd)
    owned = _owner(lambda u, g: os.fchown(fd, u, g), uid, gid, (st.st_uid, st.st_gid))
    os.fchmod(fd, mode)
    if mtime_ns is not None:
        os.utime(fd, ns=(time.time_ns(), mtime_ns))
    return owned
