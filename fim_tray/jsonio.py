"""JSON in and out, fast where orjson is installed; fim-tray's own files opened safely (never
through a link, never blocking on a FIFO, only when they are their user's), their folders kept
private, files replaced atomically and durably; and the collector paused while they are parsed."""

from __future__ import annotations

import contextlib
import errno
import gc
import json
import os
import re
import stat
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from fim_tray.errors import StorageError

# orjson is 5-10x faster on 50,000-entry baselines, but importing it (and what it imports to
# know their types: uuid, datetime, dataclasses, ...) costs more than a whole no-change `check`
# of a few big files. So the standard library reads and writes the small files (settings,
# pending changes, history lines) and orjson only what is big, where it is installed.
LARGE = 64 * 1024  # bytes of JSON from which loads() takes orjson
_orjson: ModuleType | bool | None = False  # False: not imported yet


def _fast() -> ModuleType | None:
    global _orjson
    if _orjson is False:
        try:
            import orjson
        except ImportError:  # pragma: no cover - exercised only where orjson is absent
            _orjson = None
        else:
            _orjson = orjson
    assert _orjson is not True
    return _orjson


def dumps(obj: Any, *, pretty: bool = False, large: bool = False) -> bytes:
    """UTF-8 JSON bytes, compact or indented for files people read (strings must be valid
    Unicode: see :func:`fim_tray.store.names.encode_name` for names that are not). ``large`` says
    it is big enough to be worth orjson."""
    fast = _fast() if large else None
    if fast is not None:
        data: bytes = fast.dumps(obj, option=fast.OPT_INDENT_2 if pretty else 0)
        return data
    separators = (",", ": ") if pretty else (",", ":")
    indent = 2 if pretty else None
    text = json.dumps(obj, ensure_ascii=False, separators=separators, indent=indent)
    return text.encode()


def loads(data: bytes | str) -> Any:
    """Parse JSON; raises ``ValueError`` on anything that is not valid JSON."""
    fast = _fast() if len(data) >= LARGE else None
    if fast is not None:
        return fast.loads(data)
    return json.loads(data)


# Added to every open of fim-tray's own files: a link planted in place of one is refused (not
# followed to truncate or append to a victim), and a FIFO or device is opened without waiting
# for a writer, then refused by its type, so tampering can never hang the engine.
_OWN_FLAGS = (
    getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)
_KINDS = {stat.S_IFIFO: "a FIFO", stat.S_IFDIR: "a folder", stat.S_IFSOCK: "a socket"}
# Who fim-tray's state must belong to: the user running it (None where there are no owners).
_USER: int | None = os.geteuid() if hasattr(os, "geteuid") else None


def is_ours(uid: int) -> bool:
    """Whether ``uid`` is the user running fim-tray (always, where files have no owners)."""
    return _USER is None or uid == _USER


def owner_name(uid: int) -> str:
    """``ann (uid 1000)``, or ``uid 1000`` for an id with no name."""
    try:
        import pwd

        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except (ImportError, KeyError):
        return f"uid {uid}"


def _not_yours(path: Path | str, uid: int) -> OSError:
    return OSError(
        errno.EPERM,
        f"it belongs to {owner_name(uid)}, not to the user running fim-tray (not trusted)",
        str(path),
    )


def own_dir(path: Path) -> bool:
    """Whether the state folder ``path`` exists (False: not yet); ``OSError`` when it is a
    link, not a folder, or another user's. It changes nothing."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    _check_dir(path, st)
    return True


def _check_dir(path: Path, st: os.stat_result) -> None:
    if stat.S_ISLNK(st.st_mode):
        raise OSError(errno.ELOOP, "a link is in its place (not followed)", str(path))
    if not stat.S_ISDIR(st.st_mode):
        raise OSError(errno.ENOTDIR, "it is not a folder", str(path))
    if not is_ours(st.st_uid):
        raise _not_yours(path, st.st_uid)


def private_dir(path: Path) -> None:
    """Make ``path`` a folder of fim-tray's state that only its user may enter: made 0700
    whatever the umask (with any missing parent), an existing one of that user's closed to
    group and others (its owner keeps what it had); ``OSError`` when it is a link (a state
    folder is never reached through one: what is written there would land wherever it
    points), not a folder, or someone else's."""
    made = False
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        parent = path.parent
        if parent != path and not os.path.isdir(parent):
            private_dir(parent)
        with contextlib.suppress(FileExistsError):  # made by another process just now
            os.mkdir(path, 0o700)
            made = True
        st = os.lstat(path)
    _check_dir(path, st)
    mode = stat.S_IMODE(st.st_mode)
    if os.name != "nt" and (mode & 0o077 or (made and mode != 0o700)):
        # Others lose every right; the owner keeps what it had (a folder made read-only on
        # purpose stays so), but one made here gets exactly 0700, whatever the umask.
        os.chmod(path, 0o700 if made else mode & 0o700)


def open_own(path: Path, flags: int = os.O_RDONLY, mode: int = 0o600) -> int:
    """Open one of fim-tray's own files (settings, baselines, pending files, history, locks,
    saved copies): a regular file, never through a link, never blocking. ``OSError`` saying what
    is in its place otherwise; ``FileNotFoundError`` as ``os.open`` gives it."""
    try:
        fd = os.open(path, flags | _OWN_FLAGS, mode)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EMLINK):  # O_NOFOLLOW met a link (EMLINK: BSDs)
            raise OSError(exc.errno, "a link is in its place (not followed)", str(path)) from None
        if exc.errno == errno.ENXIO:  # a FIFO with no reader, or a socket
            try:
                socket = stat.S_ISSOCK(os.lstat(path).st_mode)
            except OSError:
                socket = False
            why = f"a {'socket' if socket else 'FIFO'} is in its place (not opened)"
            raise OSError(exc.errno, why, str(path)) from None
        raise
    try:
        st = os.fstat(fd)
    except OSError:
        os.close(fd)
        raise
    kind = stat.S_IFMT(st.st_mode)
    if kind != stat.S_IFREG:
        os.close(fd)
        what = _KINDS.get(kind, "a device")
        raise OSError(errno.EINVAL, f"{what} is in its place, not a file (not read)", str(path))
    if not is_ours(st.st_uid):
        os.close(fd)
        raise _not_yours(path, st.st_uid)
    if flags & (os.O_WRONLY | os.O_RDWR) and st.st_nlink > 1:
        os.close(fd)  # a hard link to a victim: writing would change the victim too
        raise OSError(errno.EMLINK, "it has other names (hard links): not written", str(path))
    return fd


def read_own(path: Path, limit: int | None = None) -> bytes:
    """The content of one of fim-tray's own files, opened as :func:`open_own` does; ``OSError``
    (EFBIG) when it holds more than ``limit`` bytes."""
    fd = open_own(path)
    try:
        size = os.fstat(fd).st_size
        if limit is not None and size > limit:
            raise OSError(errno.EFBIG, f"it is bigger than {limit:,} bytes", str(path))
        chunks = []
        total = 0
        while chunk := os.read(fd, max(size - total, 0) + 65536):
            chunks.append(chunk)
            total += len(chunk)
            if limit is not None and total > limit:  # it grew while it was read
                raise OSError(errno.EFBIG, f"it is bigger than {limit:,} bytes", str(path))
        return b"".join(chunks)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    """Make a rename durable; folders cannot be opened for fsync on Windows, so skip there."""
    if os.name == "nt":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# How every temporary file is opened, as tempfile.mkstemp does (without importing tempfile,
# shutil, bz2 and lzma at every start of the command line): a new file only, never through a
# link.
NEW_FILE_FLAGS = (
    os.O_WRONLY
    | os.O_CREAT
    | os.O_EXCL
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)
_TEMP_TRIES = 100


def _temp_file(folder: Path, prefix: str, suffix: str) -> tuple[int, str]:
    """A new file in ``folder`` with a random name: (descriptor, path)."""
    for _ in range(_TEMP_TRIES):
        name = os.path.join(folder, f"{prefix}{os.urandom(6).hex()}{suffix}")
        try:
            return os.open(name, NEW_FILE_FLAGS, 0o600), name
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary file name", str(folder))


def atomic_write(
    path: Path,
    data: bytes,
    *,
    mode: int = 0o600,
    keep_backup: bool = False,
    durable: bool = True,
) -> None:
    """Replace ``path`` with ``data`` so a crash or a full disk leaves the old or the new file.

    Writes a temporary file in the same folder, fsyncs it, optionally hard-links the current file
    to ``path.bak`` first, then ``os.replace``s and fsyncs the folder. On failure the temporary
    file is removed and :class:`StorageError` says why; the old file is untouched. Without
    ``durable`` nothing waits for the disk: for a file whose loss or damage in a power cut costs
    nothing but time, as a cache checked on every read.
    """
    atomic_write_chunks(path, (data,), mode=mode, keep_backup=keep_backup, durable=durable)


# A patch of a file written by chunks: (offset, bytes) written over what is there, once every
# chunk is written and before the file is synced and renamed.
Patch = Callable[[], tuple[int, bytes]]


def atomic_write_chunks(
    path: Path,
    chunks: Iterable[bytes],
    *,
    patch: Patch | None = None,
    mode: int = 0o600,
    keep_backup: bool = False,
    durable: bool = True,
) -> None:
    """:func:`atomic_write` of the concatenation of ``chunks``, each written as it comes, so
    the whole content never has to be in memory at once.

    ``patch``, when given, is called after the last chunk is written and says which bytes to
    write over some already written (a signature known only once the rest was): they are
    written before the file is synced and before it takes the place of ``path``. An exception
    raised by ``chunks`` or ``patch`` leaves the old file and no temporary file, as a failed
    write does (an ``OSError`` becomes a :class:`StorageError`, anything else goes on as it is).
    """
    folder = path.parent
    try:
        private_dir(folder)
        fd, tmp = _temp_file(folder, f".{path.name}.", ".tmp")
    except OSError as exc:
        raise _storage_error(path, exc) from exc
    try:
        try:
            if hasattr(os, "fchmod"):  # mkstemp makes 0600 files already; this is for other modes
                os.fchmod(fd, mode)
            size = 0
            for chunk in chunks:
                _write_all(fd, chunk)
                size += len(chunk)
            if patch is not None:
                offset, data = patch()
                if offset < 0 or offset + len(data) > size:
                    raise ValueError(f"a patch of {len(data)} bytes at {offset} of {size}")
                _write_all(fd, data, offset)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        if keep_backup and _regular(path):  # a link planted in its place gets no backup
            backup = path.with_name(path.name + ".bak")
            try:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(backup)  # a folder in its place: IsADirectoryError, named below
            except OSError as exc:
                raise _storage_error(backup, exc) from exc
            try:
                os.link(path, backup, follow_symlinks=False)  # a link planted there stays one
            except OSError:  # no hard links here (some network shares): copy instead
                _copy(path, backup, mode)
        os.replace(tmp, path)
        if durable:
            _fsync_dir(folder)
        _sweep_leftovers(folder, path.name)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise _storage_error(path, exc) from exc
    except BaseException:  # a failed backup copy (StorageError), Ctrl-C: no temporary file left
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# A temporary file older than this is one a write killed part way left (a write of the largest
# baseline takes seconds): the next write of the same file removes it.
LEFTOVER_AGE = 3600.0


def _sweep_leftovers(folder: Path, name: str) -> None:
    """Best effort: remove the temporary files of ``name`` that killed writes left in ``folder``
    (regular files of this user's, named as :func:`_temp_file` names them, and old)."""
    pattern = re.compile(rf"\.{re.escape(name)}\.[0-9a-f]{{12}}\.tmp")
    cutoff = time.time() - LEFTOVER_AGE
    try:
        with os.scandir(folder) as listing:
            for entry in listing:
                if not pattern.fullmatch(entry.name):
                    continue
                with contextlib.suppress(OSError):
                    st = entry.stat(follow_symlinks=False)
                    if stat.S_ISREG(st.st_mode) and is_ours(st.st_uid) and st.st_mtime < cutoff:
                        os.unlink(entry.path)
    except OSError:
        return


def _write_all(fd: int, data: bytes, offset: int | None = None) -> None:
    """Write all of ``data`` (a write may take only part of it), at the file's position or at
    ``offset`` without moving it."""
    view = memoryview(data)
    while view:
        if offset is None:
            written = os.write(fd, view)
        elif hasattr(os, "pwrite"):
            written = os.pwrite(fd, view, offset)
            offset += written
        else:  # pragma: no cover - Windows has no pwrite: the patch is the last write anyway
            os.lseek(fd, offset, os.SEEK_SET)
            written = os.write(fd, view)
            offset += written
        view = view[written:]


READ_CHUNK = 1024 * 1024  # bytes read at a time from a file that may be big (a baseline)


def read_chunks(fd: int) -> Iterator[bytes]:
    """What is left to read of ``fd``, in chunks of at most :data:`READ_CHUNK` bytes."""
    while chunk := os.read(fd, READ_CHUNK):
        yield chunk


def _copy(path: Path, backup: Path, mode: int) -> None:
    """``backup`` made an atomic copy of ``path``, read in chunks: a baseline of 100 MB never
    whole in memory."""
    fd = open_own(path)
    try:
        atomic_write_chunks(backup, read_chunks(fd), mode=mode)
    finally:
        os.close(fd)


def _regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def write_failure(exc: OSError) -> str:
    """Why a write failed, in words: a full disk and a folder that may not be written are said
    plainly (what is in place of a file says itself, see :func:`open_own`)."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return "the disk is full (or a size limit was reached)"
    if exc.errno in (errno.EACCES, errno.EROFS):
        return "fim-tray may not write there (permissions or a read-only disk)"
    return exc.strerror or str(exc)


def _storage_error(path: Path, exc: OSError) -> StorageError:
    why = write_failure(exc)
    return StorageError(
        f"Could not save {path}: {why}. The previous version is unchanged; "
        "free some space or fix the permissions and try again."
    )


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while 100,000 objects that all survive are made (the parsed
    JSON, then the entries): each collection would only walk them in vain (about 5% of a
    whole `check`). Left as found, so the collector is never switched off for good."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
