"""The one door to fim-tray's state on disk: a :class:`Store` owns the paths, the install key, the
data lock, the settings, the baselines (verified against their pending file) and the records an
ignore pattern set aside from them, the pending files, the history and the saved copies. Use
cases take a Store; nothing else opens these files."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import stat
import threading
from collections.abc import Callable, Collection, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from fim_tray import jsonio, logs
from fim_tray.errors import (
    BaselineError,
    BaselineTamperedError,
    FimError,
    NotWatchedError,
    StorageError,
)
from fim_tray.models import Entry, Event, Folder
from fim_tray.records import Records, records_of
from fim_tray.store import baseline as baseline_file
from fim_tray.store import cache, restore_log
from fim_tray.store import config as config_file
from fim_tray.store.baseline import GENERATION, Baseline
from fim_tray.store.config import Config
from fim_tray.store.generations import Generations
from fim_tray.store.history import History
from fim_tray.store.key import load_or_create
from fim_tray.store.lock import InstanceLock, data_lock
from fim_tray.store.paths import OWN_CONFIG_FILES, OWN_DATA_FILES, SET_ASIDE_INFIX, Paths
from fim_tray.store.pending import PendingFile

if TYPE_CHECKING:  # imported on first use: a check that keeps no copies never loads it
    from fim_tray.store.copies import CopyStore

log = logs.getLogger(__name__)


def local_now() -> datetime:
    """The current time with the local UTC offset: every alert carries one."""
    return datetime.now().astimezone()


def resolve(path: str) -> str:
    """A folder named by a person, absolute with every link resolved: how the settings name it."""
    return os.path.realpath(os.path.abspath(os.path.expanduser(path)))


class Store:
    """fim-tray's state on disk. Methods return plain data or raise :class:`FimError`.

    ``clock`` stamps what is written; ``lock_timeout`` is how long :meth:`locked` waits for
    another fim-tray process that holds the data lock."""

    def __init__(
        self,
        paths: Paths | None = None,
        *,
        clock: Callable[[], datetime] = local_now,
        lock_timeout: float = 30.0,
    ) -> None:
        self.paths = paths or Paths.default()
        self.clock = clock
        self.lock_timeout = lock_timeout
        self.history = History(self.paths.events_file, key=self.key, head=self.paths.history_head)
        self._lazy = threading.Lock()  # so two threads never build two copy stores
        self._copies: CopyStore | None = None
        self._key: bytes | None = None
        self._holding = threading.local()  # whether this thread holds the data lock
        self._folders_checked = False
        self.generations = Generations(self.paths.generations_file, self.key)

    @property
    def copies(self) -> CopyStore:
        """The store of saved copies, built on first use. One per Store: it remembers what it
        wrote until :meth:`CopyStore.sync`, so a second one would lose that."""
        with self._lazy:
            if self._copies is None:
                from fim_tray.store.copies import CopyStore

                self._copies = CopyStore(self.paths.copies_dir)
            return self._copies

    # -- settings --------------------------------------------------------------------------------

    def config(self) -> Config:
        self.check_folders()
        return config_file.load(self.paths.config_file)

    def check_folders(self, *, again: bool = False) -> None:
        """Refuse state folders that are links or another user's: what is read or written
        there would be wherever the link points, or someone else's to forge. Once per Store,
        and ``again`` before every write (a folder may be swapped while the tray runs)."""
        if self._folders_checked and not again:
            return
        paths = self.paths
        for above in {paths.data_dir.parent, paths.config_dir.parent}:
            try:
                owner = os.stat(above).st_uid
            except OSError:
                continue  # made (private) with the first write
            if not (jsonio.is_ours(owner) or owner == 0):
                raise StorageError(
                    f"The folder {above}, which holds fim-tray's state, belongs to "
                    f"{jsonio.owner_name(owner)}, "
                    "not to the user running fim-tray: its owner could remove or replace the "
                    "state. fim-tray keeps its state only in folders of its own."
                )
        for folder in (
            paths.config_dir, paths.data_dir, paths.baselines_dir, paths.copies_dir,
            paths.icons_dir,
        ):  # fmt: skip
            try:
                jsonio.own_dir(folder)
            except OSError as exc:
                raise StorageError(
                    f"The state folder {folder} cannot be used: {exc.strerror}. fim-tray keeps "
                    "its state only in folders of its own."
                ) from exc
        self._folders_checked = True

    def save_config(self, config: Config) -> None:
        config_file.save(self.paths.config_file, config)

    def own_state_in(self, folder: str) -> list[tuple[str, tuple[str, ...]]]:
        """fim-tray's own state folders found inside the watched ``folder`` now (as paths
        relative to it, each with the globs of the files fim-tray writes there), each resolved
        at this moment: a link put on the way since the folder was added shows here, and those
        files are left out rather than reported at every write."""
        inside: list[tuple[str, tuple[str, ...]]] = []
        for own, files in (
            (self.paths.data_dir, OWN_DATA_FILES),
            (self.paths.config_dir, OWN_CONFIG_FILES),
        ):
            real = resolve(str(own))
            if real != folder and real.startswith(os.path.join(folder, "")):
                inside.append((os.path.relpath(real, folder).replace(os.sep, "/"), files))
        return inside

    def unlisted_baselines(self) -> list[Path]:
        """Baselines of folders the settings do not list: left by a settings file deleted or
        put back from before, or by an ``add`` killed before it saved the settings."""
        listed = {self.paths.baseline_file(f.id).name for f in self.config().folders}
        try:
            names = os.listdir(self.paths.baselines_dir)
        except OSError:
            return []
        return sorted(
            self.paths.baselines_dir / n
            for n in names
            if n.endswith(".json")
            and not n.endswith(".pending.json")
            and SET_ASIDE_INFIX not in n
            and n not in listed
        )

    def folders(self) -> tuple[Folder, ...]:
        return self.config().folders

    def folder(self, path: str) -> Folder:
        """The watched folder named by ``path`` (as typed, or resolved)."""
        config = self.config()
        # As typed first: a watched folder since replaced by a link names itself, not its target.
        for candidate in (os.path.abspath(os.path.expanduser(path)), resolve(path)):
            found = config.find(candidate)
            if found is not None:
                return found
        watched = ", ".join(f.path for f in config.folders) or "none yet"
        raise NotWatchedError(f"{path} is not a watched folder (watched: {watched}).")

    # -- the lock and the key --------------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the data lock: every write of the baselines, pending files and saved copies
        happens under it, so two fim-tray processes never interleave theirs."""
        self.check_folders(again=True)
        with data_lock(self.paths.lock_file, self.lock_timeout):
            self._holding.on = True
            try:
                yield
            finally:
                self._holding.on = False

    def record_restore(
        self,
        folder: Folder,
        rel: str,
        current: Entry | None,
        previous: str | None,
        want: Entry | None,
        undo: bool,
    ) -> Event:
        """The signed "restored" history line of one restore (see ``restore_log.record``)."""
        return restore_log.record(
            self.history, self.clock(), folder, rel, current, previous, want, undo, self.key()
        )

    def undo_entry(self, event: Event) -> Entry | None:
        """What the "restored" line ``event`` says to put back, once its signature holds."""
        return restore_log.undo_entry(event, self.key())

    def icon_file(self, name: str, make: Callable[[], bytes]) -> Path:
        """An icon as a file, for notification daemons that want a path: kept in ``icons/``,
        made by ``make`` when missing or when anything but a file is in its place (a link is
        replaced, never written through)."""
        path = self.paths.icons_dir / name
        self.check_folders(again=True)
        try:
            st = os.lstat(path)
            if stat.S_ISREG(st.st_mode) and jsonio.is_ours(st.st_uid) and st.st_nlink == 1:
                return path
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise StorageError(f"Cannot use the icon {path}: {exc.strerror}.") from exc
        jsonio.atomic_write(path, make(), mode=0o644, durable=False)
        return path

    def instance_lock(self) -> InstanceLock:
        """The lock that keeps a second tray from starting on the same state."""
        return InstanceLock(self.paths.instance_lock)

    def key(self) -> bytes:
        """The install key; made on first use, but only while no baseline exists: a key lost
        later is an error, as a new one would make every baseline look tampered with."""
        if self._key is None:
            key_file = self.paths.key_file
            if not key_file.exists() and self._any_baseline():
                raise BaselineError(
                    f"The install key {key_file} is missing: baselines cannot be verified "
                    "without it; restore it from a backup, or remove and add the folders again."
                )
            self._key = load_or_create(key_file)
        return self._key

    def _any_baseline(self) -> bool:
        try:
            names = [p.name for p in self.paths.baselines_dir.iterdir()]
        except OSError:  # no folder yet: no baseline
            return False
        return any((n.endswith((".json", ".json.bak")) and ".pending." not in n) for n in names)

    # -- the records an ignore pattern set aside ---------------------------------------------------

    def _set_aside_key(self) -> bytes:
        # A key of its own: a file of set-aside records never verifies as a baseline, nor a
        # baseline as one.
        return hmac.new(self.key(), b"fim-tray: records set aside", hashlib.sha256).digest()

    def set_aside(self, folder: Folder, pattern: str, records: Mapping[str, Entry]) -> str:
        """Keep ``records``, which the ignore ``pattern`` took out of the baseline of
        ``folder``, in a signed file of their own (in the baseline's format); returns its
        signature, which the baseline names, so only that very file is ever taken back (see
        :meth:`taken_back`). Call it holding :meth:`locked`."""
        now = self.clock()
        record = Baseline(
            folder.path, folder.algorithm, records_of(records), now, now, extra={"pattern": pattern}
        )
        path = self.paths.set_aside_file(folder.id, pattern)
        return baseline_file.save(path, record, self._set_aside_key(), keep_backup=False)

    def taken_back(self, folder: Folder, pattern: str, signature: str) -> Records | None:
        """The records :meth:`set_aside` kept for ``pattern`` in ``folder``, when its file is
        the one signed ``signature``; None (and a warning in the log) when it is missing,
        damaged or another one."""
        path = self.paths.set_aside_file(folder.id, pattern)
        key = self._set_aside_key()
        try:
            with baseline_file.opened(path) as fd:
                mac = baseline_file.verify(fd, key)
                if mac is None or not hmac.compare_digest(mac, signature):
                    raise BaselineError(f"{path} is not the file the baseline names")
                record = baseline_file.parse_verified(fd, key, mac, str(path))
        except FimError as exc:
            log.warning("the records set aside by %r are lost: %s", pattern, exc.message)
            return None
        if record.folder != folder.path or record.extra.get("pattern") != pattern:
            log.warning("the records set aside by %r are lost: %s is another's", pattern, path)
            return None
        return records_of(record.entries)

    def drop_set_aside(self, folder: Folder, pattern: str) -> None:
        """Delete the file :meth:`set_aside` wrote for ``pattern``, once nothing names it."""
        with contextlib.suppress(FileNotFoundError):
            self.paths.set_aside_file(folder.id, pattern).unlink()

    # -- baselines and pending files -------------------------------------------------------------

    def pending(self, folder: Folder) -> PendingFile:
        """The signed pending file of ``folder`` (see :mod:`fim_tray.store.pending`)."""
        return PendingFile(self.paths.pending_file(folder.id), self.key(), folder.id)

    def load_baseline(
        self, folder: Folder, only: Collection[str] | None = None, itself: Collection[str] = ()
    ) -> Baseline:
        """The verified baseline of ``folder``; it must also be the one fim-tray last wrote.
        ``only`` (relative paths) limits its entries to those paths and what is under them, and
        the paths ``itself`` (their own entries, nothing under them), read from the baseline's
        index without loading the rest (see :func:`load_signed_file`)."""
        record, _signature = self.load_signed(folder, only, itself)
        return record

    def entry_count(self, folder: Folder) -> int:
        """How many entries the baseline of ``folder`` holds, checked as a whole load checks it
        (its JSON verified, a piece at a time): read from the head of its index when it has one
        (none of the entries), else by loading it."""
        self.load_baseline(folder, only=())  # the checks of a load: its folder, its generation
        path = self.paths.baseline_file(folder.id)
        with baseline_file.opened(path) as fd:
            signed = baseline_file.verify(fd, self.key())
            if signed is None:  # damaged or tampered: said as a whole load says it
                baseline_file.refuse(fd, self.key(), f"The baseline {path}")
        index = cache.open_index(path, signed, self.key())
        if index is None:
            return len(self.load_baseline(folder).entries)
        with index:
            return index.count

    def load_signed(
        self, folder: Folder, only: Collection[str] | None = None, itself: Collection[str] = ()
    ) -> tuple[Baseline, str]:
        """:meth:`load_baseline`, and the signature of the JSON it verified."""
        self.check_folders()
        path = self.paths.baseline_file(folder.id)
        record, signature = load_signed_file(path, self.key(), only, itself)
        if record.folder != folder.path:
            raise BaselineTamperedError(
                f"The baseline {path} is signed for another folder ({record.folder}), not "
                f"{folder.path}: a baseline was copied into its place to hide a change. It was "
                "left as it is for you to inspect; to start again from the folder as it is now, "
                "remove the folder and add it again."
            )
        try:
            current = self._current_generation(folder, record)
        except BaselineTamperedError:
            if self._held():
                raise
            # Read just before another process saved and committed a newer one: ask again
            # under the lock, which every save holds from its baseline to its commit.
            with self.locked():
                record, signature = load_signed_file(path, self.key(), only, itself)
                current = self._current_generation(folder, record)
        if current:
            return record, signature
        # A baseline saved before generations were: its pending file names it.
        expected = self.pending(folder).baseline()
        if expected is not None and expected != signature and not self._held():
            # A save may be under way (baseline written, pending file not yet): ask again
            # under the lock, which every save holds for both files.
            with self.locked():
                record, signature = load_signed_file(path, self.key(), only, itself)
                expected = self.pending(folder).baseline()
        # None: no pending file (an install older than this check), or one that fails its
        # signature. The limit: a baseline and a pending file put back together, both from
        # the same earlier moment, agree with each other and are not detected.
        if expected is not None and expected != signature:
            raise BaselineTamperedError(
                f"The baseline {path} is not the one fim-tray last wrote: an older copy may "
                "have been put back (a .bak, or a backup) to hide a change. It was left as it "
                "is for you to inspect; to start again from the folder as it is now, remove "
                "the folder and add it again."
            )
        return record, signature

    def _current_generation(self, folder: Folder, record: Baseline) -> bool:
        """Whether ``record`` is the last saved state of ``folder`` by its generation (False:
        a baseline from before generations, for the pending file to vouch for).
        :class:`BaselineTamperedError` for an older one: a copy put back."""
        number = record.extra.get(GENERATION)
        known = self.generations.read()
        last = None if known is None else known.get(folder.id)
        if not isinstance(number, int):
            if last is None:
                return False
            number = 0  # a baseline from before generations, put back over a later one
        if known is None:
            raise BaselineTamperedError(
                f"The record of saved generations {self.generations.path} is missing, yet the "
                f"baseline of {folder.path} has one: the record was deleted, and an older copy "
                "of the saved state could not be told from the current one. To start again "
                "from the folder as it is now, remove the folder and add it again."
            )
        if last is not None and number < last:
            raise BaselineTamperedError(
                f"The saved state of {folder.path} is older than the last one written "
                f"(generation {number} < {last}): it was restored from an older copy or "
                "tampered with, perhaps to hide a change. It was left as it is for you to "
                "inspect; `fim-tray remove` then `fim-tray add` starts again from the folder "
                "as it is now."
            )
        if last is None or number > last:  # a save a crash cut short before its commit
            with self._locked_unless_held():
                known = self.generations.read() or {}
                if number > known.get(folder.id, -1):
                    self.generations.write({**known, folder.id: number})
        return True

    def _held(self) -> bool:
        """Whether this thread holds the data lock (see :meth:`locked`)."""
        return bool(getattr(self._holding, "on", False))

    @contextlib.contextmanager
    def _locked_unless_held(self) -> Iterator[None]:
        if self._held():
            yield
        else:
            with self.locked():
                yield

    def save_baseline(self, folder: Folder, record: Baseline) -> str:
        """Write the baseline of ``folder`` (keeping a ``.bak``) and its load cache, one
        generation on, then record that generation: the commit point. Returns the signature its
        pending file names. Call it holding :meth:`locked`."""
        known = self.generations.read()
        if known is None:  # first made before any baseline that needs it: see above
            known = {}
            self.generations.write(known)
        previous = record.extra.get(GENERATION)
        number = max(known.get(folder.id, 0), previous if isinstance(previous, int) else 0) + 1
        record = record._replace(extra={**record.extra, GENERATION: number})
        signature = save_baseline_file(self.paths.baseline_file(folder.id), record, self.key())
        self.generations.write({**known, folder.id: number})
        return signature

    def forget(self, folder: Folder) -> None:
        """Delete the baseline of ``folder``, its backup, load cache and pending file. Call it
        holding :meth:`locked`."""
        # Its generation stays: a folder added again goes on from it, so no copy saved before
        # the remove can pass for the newer state.
        base = self.paths.baseline_file(folder.id)
        for leftover in (
            base,
            base.with_name(base.name + ".bak"),
            cache.cache_path(base),
            self.paths.pending_file(folder.id),
            *self.paths.baselines_dir.glob(f"{folder.id}{SET_ASIDE_INFIX}*.json"),
        ):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()

    def last_full_check(self, folder: Folder) -> datetime | None:
        """When every file of ``folder`` was last re-hashed (its baseline counts as one)."""
        return self.pending(folder).last_full_check()

    def save_pending_error(self, folder: Folder, message: str, now: datetime) -> None:
        """Best effort: the error a check of ``folder`` met, for ``status`` to show."""
        with contextlib.suppress(FimError):
            self.check_folders(again=True)
            self.pending(folder).save_error(message, now)


# -- a baseline file and its load cache -----------------------------------------------------------


def load_baseline_file(path: Path, key: bytes) -> Baseline:
    """Read and verify the baseline ``path`` as :func:`fim_tray.store.baseline.load` does (the
    same errors for the same files), from its load cache when that is the JSON's own content."""
    return load_signed_file(path, key)[0]


def load_signed_file(
    path: Path, key: bytes, only: Collection[str] | None = None, itself: Collection[str] = ()
) -> tuple[Baseline, str]:
    """:func:`load_baseline_file`, and the signature of the JSON it verified. The JSON is
    read in chunks through one descriptor, never whole in memory: once to verify its
    signature, and again to parse it only when there is no valid cache.

    ``only`` (relative paths) keeps just the entries of those paths and of what is under them
    (a file event in a folder of a million files), with the entries of the paths ``itself``
    (nothing under them). They are read through the cache's index,
    without reading the rest of the cache or the JSON's body, when the cache is bound to the
    signature the JSON's head names: what is read is checked against the install key either
    way (the cache's own MACs), and a JSON whose body was changed without the key is said by
    the next whole load, which verifies it. Else they are taken from the whole baseline."""
    source = f"The baseline {path}"
    with baseline_file.opened(path) as fd:
        if only is not None:
            named = baseline_file.named_signature(fd)
            index = cache.open_index(path, named, key) if named is not None else None
            if index is not None:
                assert named is not None
                with index:
                    entries = index.entries([*only, *itself], only)
                if entries is not None:
                    return index.record._replace(entries=entries), named
        json_mac = baseline_file.verify(fd, key)
        if json_mac is None:  # damaged, tampered, another key or schema: parse says which
            baseline_file.refuse(fd, key, source)
        record = cache.load(path, json_mac, key)  # None: none yet, unreadable, or not its own
        if record is None:
            # The very file that was verified, signed again as it is parsed: the cache must
            # hold what json_mac signs.
            record = baseline_file.parse_verified(fd, key, json_mac, source)
            parsed = True
        else:
            parsed = False
    if parsed:
        _write_cache(path, record, json_mac, key)
    if only is not None:
        record = record._replace(entries=_within(record.entries, only, itself))
    return record, json_mac


def _within(
    entries: Mapping[str, Entry], only: Collection[str], itself: Collection[str] = ()
) -> Records:
    """The entries of the paths ``only`` and of what is under them, and of ``itself``."""
    tops = frozenset(only)
    if "" in tops:  # the whole folder
        return records_of(entries)
    folders = tuple(top + "/" for top in tops)
    exact = tops | frozenset(itself)
    return records_of(entries).subset(lambda path: path in exact or path.startswith(folders))


def save_baseline_file(path: Path, record: Baseline, key: bytes) -> str:
    """Write the baseline atomically (keeping ``<name>.bak``), then its load cache; returns the
    JSON's :func:`~fim_tray.store.baseline.signature`. Both are made, signed and written a
    chunk at a time: memory never holds either file whole."""
    json_mac = baseline_file.save(path, record, key)
    _write_cache(path, record, json_mac, key)
    return json_mac


def _write_cache(path: Path, record: Baseline, json_mac: str, key: bytes) -> None:
    """Best effort: without a cache the next load parses the JSON, so a failure here (a full
    disk, a record the cache cannot hold) is logged and never fails the save or the load.
    The disk is not waited for: a cache cut short by a power failure fails its HMAC and is
    not used."""
    try:
        cache.write(path, record, json_mac, key)
    except Exception as exc:
        log.warning(
            "could not write the baseline cache %s (the next load is slower): %s",
            cache.cache_path(path),
            getattr(exc, "message", exc),
        )
