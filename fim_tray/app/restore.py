"""Putting a file back as the baseline has it (or, to undo, as it was before a restore):
atomically, never through a link, keeping the content it replaces as a saved copy."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from fim_tray.app import fileops
from fim_tray.app.check import rescan
from fim_tray.app.copy_policy import CopySettings
from fim_tray.app.selection import file_key
from fim_tray.display import describe, escape
from fim_tray.errors import CopyDamagedError, CopyError, FimError, RestoreRefused, StorageError
from fim_tray.models import Change, Entry, Event, Folder
from fim_tray.scan import dirwalk
from fim_tray.scan.compare import compare, compare_entry
from fim_tray.scan.hashing import OPEN_FLAGS, new_hash
from fim_tray.store.baseline import Baseline
from fim_tray.store.config import Config
from fim_tray.store.state import Store


@dataclass(frozen=True)
class RestoreResult:
    """What a restore did. ``message`` is one sentence with the name escaped for display;
    ``previous_digest`` names the saved copy of the content it replaced (None when none was
    replaced); ``notes`` say what could not be put back (an owner, without root)."""

    folder: Folder
    path: str
    restored: bool  # False: the file was already as wanted, nothing was touched
    message: str
    previous_digest: str | None = None
    notes: tuple[str, ...] = ()
    event: Event | None = None


def restore(
    store: Store,
    path: str,
    file: str,
    *,
    expected_signature: str | None = None,
    force: bool = False,
) -> RestoreResult:
    """Put ``file`` back as the baseline of the watched folder ``path`` has it.

    ``expected_signature`` is the :meth:`Change.signature` of the change the person saw: a
    file that changed again since then is refused unless ``force``. Refused as well, unless
    ``force``: replacing content that cannot be kept as a copy (too big, a secret, unreadable).
    """
    folder = store.folder(path)
    rel = file_key(folder, file)
    trusted = store.load_baseline(folder)
    want = trusted.entries.get(rel)
    if want is None:
        raise RestoreRefused(
            f"{escape(rel)} is not in the baseline of {escape(folder.path)} (it was added "
            "later, or is excluded), so there is nothing to put back."
        )
    return _put_back(store, folder, trusted, rel, want, expected_signature, force, undo=False)


def undo(store: Store, path: str, file: str, *, force: bool = False) -> RestoreResult:
    """Undo the last restore of ``file``: put back what that restore replaced."""
    folder = store.folder(path)
    rel = file_key(folder, file)
    trusted = store.load_baseline(folder)
    for event in reversed(store.history.read()):
        if (event.change, event.folder, event.path) == ("restored", folder.path, rel) and (
            "undo" in event.extra
        ):
            if event.extra.get("restored_to") == "before restore":  # an undo is not undone
                raise RestoreRefused(
                    f"The last restore of {escape(rel)} was undone already; nothing was changed. "
                    "`fim-tray restore` puts the baseline content back again."
                )
            want = store.undo_entry(event)
            return _put_back(store, folder, trusted, rel, want, None, force, undo=True)
    raise RestoreRefused(f"{escape(rel)} has not been restored, so there is nothing to undo.")


def _put_back(
    store: Store,
    folder: Folder,
    trusted: Baseline,
    rel: str,
    want: Entry | None,
    expected: str | None,
    force: bool,
    *,
    undo: bool,
) -> RestoreResult:
    """Make ``rel`` match ``want`` (None: absent)."""
    shown = escape(rel)
    if not fileops.supported():
        raise RestoreRefused(
            "Restoring files is not available on this system: it has no folder handles "
            "(Windows lacks them), and they are what keeps a restore from writing through a "
            "link someone put in the way."
        )
    config = store.config()
    settings = CopySettings.from_config(config)
    current, change, _changes = _scan(store, folder, config, trusted, rel)
    goal = "as it was before the restore" if undo else "as in the baseline"
    if (want is None and current is None) or (
        want is not None and current is not None and compare_entry(rel, want, current) is None
    ):
        return RestoreResult(folder, rel, False, f"{shown} is already {goal}: nothing to do.")
    if expected is not None and not force and (change is None or change.signature() != expected):
        raise _changed_again(shown)
    _check_shapes(shown, want, current)
    file_want = want if want is not None and want.type == "file" else None
    data = None
    if file_want is not None and not _same_content(file_want, current):
        # read before the lock: a missing or damaged copy is refused before anything is done
        data = _saved_content(store, settings, folder, rel, file_want, trusted.algorithm)
    create = _parent_maker(trusted.entries) if want is not None else None
    recorded = False
    with store.locked():  # the copy and the event must be there before a prune looks
        try:
            with fileops.parent_dir(folder.path, rel, create=create) as (dir_fd, name):
                fileops.remove_leftovers(dir_fd, store.key())
                now = _look(dir_fd, name, rel, settings, trusted.algorithm, folder.path)
                if expected is not None and not force and _moved(current, now):
                    raise _changed_again(shown)
                same = (
                    file_want is not None
                    and now.kind == "file"
                    and (file_want.digest == now.digest)
                )
                previous = None if same else _keep_current(
                    store, rel, now, trusted.algorithm, force=force
                )  # fmt: skip
                if file_want is not None and not same and data is None:  # changed since the scan
                    data = _saved_content(
                        store, settings, folder, rel, file_want, trusted.algorithm
                    )
                # the history first: a restore that is done can always be undone
                try:
                    event = store.record_restore(folder, rel, current, previous, want, undo)
                except StorageError as exc:
                    raise RestoreRefused(
                        f"{shown} was not restored: the history, which an undo needs, could not "
                        f"be written: {exc.message}"
                    ) from exc
                recorded = True
                owned = _write(
                    dir_fd, name, want, None if same else data, now.kind, store.key()
                )
        except fileops.NotAFolder as exc:
            raise RestoreRefused(f"{shown} was not restored: {exc.message}") from None
        except OSError as exc:
            after = (
                " The history lists this restore, but nothing was changed: undoing it leaves "
                "the file as it is."
                if recorded
                else ""
            )
            raise RestoreRefused(
                f"{shown} could not be restored: {exc.strerror or exc}. It was left as it "
                f"was.{after}"
            ) from exc
    notes = [] if owned else ["its owner could not be given back (that needs root)"]
    notes += _settle_pending(store, folder, config, trusted, rel, check=not undo)
    message = f"{shown} is back {goal}."
    return RestoreResult(folder, rel, True, message, previous, tuple(notes), event)


def _changed_again(shown: str) -> RestoreRefused:
    return RestoreRefused(
        f"{shown} changed again since it was shown; nothing was restored. Look at it again, or "
        "restore anyway with --force."
    )


def _scan(
    store: Store, folder: Folder, config: Config, trusted: Baseline, rel: str
) -> tuple[Entry | None, Change | None, list[Change]]:
    """The entry of ``rel`` now, its change against the baseline, and every change."""
    result = rescan(folder, config, trusted, own=store.own_state_in(folder.path))
    changes = compare(trusted.entries, result.entries, result.unlisted)
    change = next((c for c in changes if c.path == rel), None)
    return result.entries.get(rel), change, changes


def _same_content(want: Entry, current: Entry | None) -> bool:
    return current is not None and current.type == "file" and current.digest == want.digest


def _check_shapes(shown: str, want: Entry | None, current: Entry | None) -> None:
    """Refuse what cannot be put back, or would need a folder removed."""
    if current is not None and current.type == "dir" and (want is None or want.type != "dir"):
        raise RestoreRefused(f"{shown} is a folder now; move it away first. Nothing was restored.")
    if want is None:
        return
    if want.type not in ("file", "symlink", "dir"):
        raise RestoreRefused(
            f"{shown} was a {want.type} in the baseline; only files, links and folders can be "
            "put back."
        )
    if (want.type == "file" and want.digest is None) or (
        want.type == "symlink" and want.target is None
    ):
        raise RestoreRefused(
            f"The baseline does not know what {shown} held (it could not be read when it was "
            "recorded), so it cannot be put back."
        )
    if want.type == "dir" and current is not None and current.type != "dir":
        raise RestoreRefused(
            f"{shown} is a {current.type} now where the baseline has a folder; move it away "
            "first. Nothing was restored."
        )


def _saved_content(
    store: Store,
    settings: CopySettings,
    folder: Folder,
    rel: str,
    want: Entry,
    algorithm: str,
) -> bytes:
    shown = escape(rel)
    assert want.digest is not None  # checked by _check_shapes
    try:
        return store.copies.read(
            want.digest, algorithm, limit=settings.max_file_bytes, size=want.size
        )
    except CopyDamagedError as exc:
        raise CopyDamagedError(
            f"The saved copy of {shown} is damaged ({exc.reason}), so it was not used and was "
            f"removed; {shown} was left as it is. Accepting content again stores a fresh copy."
        ) from None
    except CopyError as exc:
        if os.path.lexists(store.copies.path(want.digest, algorithm)):  # there, but unusable
            raise RestoreRefused(f"{shown} cannot be restored: {exc.message}") from None
        why = settings.why_not(folder, rel, want) or (
            "no copy of it was kept (it changed before it could be copied, or the quota was full)"
        )
        raise RestoreRefused(f"{shown} cannot be restored: {why}.") from None


def _parent_maker(entries: Mapping[str, Entry]) -> Callable[[str], tuple[int, int, int]]:
    """Folders on the way that were removed come back with their recorded mode and owner."""

    def make(sub: str) -> tuple[int, int, int]:
        entry = entries.get(sub)
        if entry is not None and entry.type == "dir":
            return entry.mode, entry.uid, entry.gid
        return 0o755, os.getuid(), os.getgid()

    return make


@dataclass(frozen=True)
class _OnDisk:
    """What is at the name now, looked at under the lock (the scan was earlier)."""

    kind: str | None  # file, dir, symlink, other; None when nothing is there
    digest: str | None = None
    data: bytes | None = None  # a file's content, when it is small enough to keep
    target: str | None = None
    unkept: str | None = None  # why a file's content cannot be kept as a copy


def _look(
    dir_fd: int, name: str, rel: str, settings: CopySettings, algorithm: str, folder: str
) -> _OnDisk:
    try:
        st = os.lstat(name, dir_fd=dir_fd)
    except FileNotFoundError:
        return _OnDisk(None)
    if stat.S_ISLNK(st.st_mode):
        return _OnDisk("symlink", target=os.readlink(name, dir_fd=dir_fd))
    if not stat.S_ISREG(st.st_mode):
        return _OnDisk("dir" if stat.S_ISDIR(st.st_mode) else "other")
    try:
        data = fileops.read_regular(name, settings.max_file_bytes, dir_fd=dir_fd)
    except fileops.TooBig:
        limit = f"it is bigger than the {settings.max_file_bytes / 1e6:g} MB limit for copies"
        try:
            digest = fileops.hash_regular(name, algorithm, dir_fd=dir_fd)
        except OSError as exc:
            return _OnDisk("file", unkept=f"it cannot be read: {exc.strerror or exc}")
        return _OnDisk("file", digest, unkept=limit)
    except OSError as exc:
        return _OnDisk("file", unkept=f"it cannot be read: {exc.strerror or exc}")
    hashed = new_hash(algorithm)
    hashed.update(data)
    pattern = settings.secret(rel, folder)
    unkept = f"it matches the no-copy pattern {pattern}" if pattern is not None else None
    return _OnDisk("file", hashed.hexdigest(), data, unkept=unkept)


def _moved(current: Entry | None, now: _OnDisk) -> bool:
    """True when the entry changed between the scan and now."""
    if current is None or now.kind is None:
        return (current is None) != (now.kind is None)
    kind = current.type if current.type in ("file", "dir", "symlink") else "other"
    if kind != now.kind:
        return True
    if kind == "symlink":
        return now.target != current.target
    return kind == "file" and now.digest is not None and now.digest != current.digest


def _keep_current(
    store: Store, rel: str, now: _OnDisk, algorithm: str, *, force: bool
) -> str | None:
    """Save the file content about to be replaced; its digest (None when there is no file).
    Refuses when it cannot be kept, unless forced."""
    if now.kind != "file":
        return None
    if now.unkept is not None or now.data is None or now.digest is None:
        if force:
            return None
        raise RestoreRefused(
            f"The current content of {escape(rel)} cannot be kept ({now.unkept}), so this "
            "restore could not be undone; nothing was restored. Restore anyway with --force."
        )
    store.copies.put(now.data, now.digest, algorithm)
    store.copies.sync()
    return now.digest


def _write(
    dir_fd: int,
    name: str,
    want: Entry | None,
    data: bytes | None,
    kind_now: str | None,
    key: bytes,
) -> bool:
    """Make ``name`` what ``want`` says; False when its owner could not be given back."""
    if want is None:  # undoing the restore of a removed file: remove it again (a copy is kept)
        os.unlink(name, dir_fd=dir_fd)
        os.fsync(dir_fd)
        return True
    if want.type == "symlink":
        assert want.target is not None
        return fileops.replace_link(
            dir_fd, name, want.target, uid=want.uid, gid=want.gid, mtime_ns=want.mtime_ns,
            key=key,
        )  # fmt: skip
    if want.type == "file" and data is not None:
        return fileops.replace_file(
            dir_fd, name, data, mode=want.mode, uid=want.uid, gid=want.gid,
            mtime_ns=want.mtime_ns, key=key,
        )  # fmt: skip
    if want.type == "dir":
        if kind_now is None:
            os.mkdir(name, 0o700, dir_fd=dir_fd)
        fd = os.open(name, dirwalk.DIR_FLAGS, dir_fd=dir_fd)
        mtime_ns = None  # a folder's times follow its content: not compared
    else:  # the same content: only its mode, owner or mtime differ
        fd = os.open(name, OPEN_FLAGS, dir_fd=dir_fd)
        mtime_ns = want.mtime_ns
    try:
        if want.type == "file" and not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(0, "it was replaced meanwhile")
        return fileops.fix_metadata(
            fd, mode=want.mode, uid=want.uid, gid=want.gid, mtime_ns=mtime_ns
        )
    finally:
        os.close(fd)


def _settle_pending(
    store: Store, folder: Folder, config: Config, trusted: Baseline, rel: str, *, check: bool
) -> list[str]:
    """Drop from the pending list what the restore settled (nothing is added: a change seen
    only now is still new for the next check); a note if ``rel`` still differs."""
    try:
        _entry, change, changes = _scan(store, folder, config, trusted, rel)
    except FimError as exc:
        return [f"it could not be checked afterwards: {exc.message}"]
    signatures = {c.signature() for c in changes}
    with store.locked():
        store.pending(folder).keep_signatures(signatures)
    if check and change is not None:
        return [f"it still differs from the baseline: {describe(change)}"]
    return []
