"""Walks a watched folder without recursion and records every path in it as an ``Entry``: the
order of the walk, targeted rescans, the checks on the root; the recording is :mod:`record`'s."""

from __future__ import annotations

import os
import stat
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping

from fim_tray import logs
from fim_tray.errors import FolderMissingError, ScanCancelled
from fim_tray.models import Entry, ScanResult
from fim_tray.scan.dirwalk import Dir, Todo, list_folder, open_below
from fim_tray.scan.excludes import DEFAULT_EXCLUDES, Excluder
from fim_tray.scan.hashing import DEFAULT_ALGORITHM
from fim_tray.scan.hashpool import (
    DEFAULT_HASH_WORKERS,
    HashPool,
    Stopped,
    describe_error,
    hash_threads,
)
from fim_tray.scan.record import Progress, Recorder, Unlisted, list_dir
from fim_tray.scan.throttle import Throttle

log = logs.getLogger(__name__)


class Scanner:
    """One walk of one folder.

    ``previous`` lets a quick rescan reuse the digest of a file whose size, mtime, ctime and inode
    are unchanged; ``full=True`` re-hashes every file. ``stop`` ends the walk early with
    :class:`ScanCancelled`. Files of BIG_FILE bytes or more are hashed by up to ``hash_workers``
    threads (never more than the CPUs) while the walk goes on; the result is the same as a scan
    on one thread, entries, problems and their order included. ``throttle`` caps how fast the
    scan reads (every thread charges the same one); None reads at full speed.
    """

    def __init__(
        self,
        root: str,
        excludes: Iterable[str] = DEFAULT_EXCLUDES,
        algorithm: str = DEFAULT_ALGORITHM,
        previous: Mapping[str, Entry] | None = None,
        full: bool = False,
        progress: Progress | None = None,
        stop: threading.Event | None = None,
        root_dev: int | None = None,
        hash_workers: int = DEFAULT_HASH_WORKERS,
        throttle: Throttle | None = None,
        only: Collection[str] | None = None,
        processes: bool = False,
        recorder: type[Recorder] = Recorder,
        consume: bool = False,
        itself: Collection[str] = (),
    ) -> None:
        self.root = root
        self.excludes = excludes
        self.algorithm = algorithm
        self.previous = previous
        self.full = full
        self.progress = progress
        self.stop = stop
        self.root_dev = root_dev  # the device the baseline was recorded on, to spot an unmount
        self.hash_workers = hash_workers
        self.throttle = throttle  # a cap on reading speed, shared by the hashing threads
        self.only = only  # relative paths: scan just these (and below folders)
        # relative paths whose own entry alone is scanned (with ``only``: a folder whose
        # listing changed, what is below it being named by events of its own)
        self.itself = frozenset(itself) - frozenset(only or ())
        # A first baseline or full re-hash may run on worker processes (scan.processes); only
        # a caller with a single thread (the command line) asks for it, and only then.
        self.processes = processes
        # What records each listed folder; a test gives a subclass to act between two steps.
        self.recorder = recorder
        # Entries found as ``previous`` has them are taken out of it, not kept in the result
        # (see Recorder): for a check, which then compares what is left of each.
        self.consume = consume

    def run(self) -> ScanResult:
        started = time.monotonic()
        root_dev = self._check_root()
        if self.root_dev is not None and root_dev != self.root_dev:
            raise FolderMissingError(
                f"The watched folder {self.root} is now on a different disk than when its "
                "baseline was recorded. Was its disk unmounted or replaced? Nothing was compared."
            )
        recorder = self.recorder(
            Excluder(self.excludes),
            self.algorithm,
            previous=self.previous,
            full=self.full,
            progress=self.progress,
            cancelled=self.stop.is_set if self.stop is not None else None,
            throttle=self.throttle,
            consume=self.consume,
        )
        workers = hash_threads(self.hash_workers)
        pool: HashPool | None = None
        try:
            seen = self._walk_on_processes(recorder, workers)
            if seen is None:
                if workers:
                    pool = HashPool(workers, self.algorithm, self.stop, self.throttle)
                recorder = recorder.fresh(pool)
                seen = self._walk(recorder)
                if pool is not None:
                    pool.wait()
                    recorder.merge(pool.jobs)
        except Stopped:
            raise ScanCancelled(
                f"The scan of {self.root} was stopped before it finished."
            ) from None
        finally:
            if pool is not None:
                pool.close()
        self._check_root(root_dev)
        if self.progress is not None:
            self.progress(seen)
        return ScanResult(
            root_dev=root_dev,
            entries=recorder.entries,
            found=len(recorder.entries) + recorder.unchanged,
            problems=tuple(recorder.problems),
            unlisted=frozenset(recorder.unlisted),
            hashed_files=recorder.hashed_files,
            hashed_bytes=recorder.hashed_bytes,
            seconds=time.monotonic() - started,
        )

    def _walk(self, recorder: Recorder) -> int:
        """Record everything under the root, depth first without recursion; returns the count."""
        stop = self.stop
        if self.only is None or "" in self.only:
            stack: list[Todo] = [(self.root, "", None)]
            seen = 0
        else:
            stack, seen = self._targets(recorder)
        here: Dir | None = None

        def descend(name: str, rel: str) -> None:
            assert folder is not None
            if here is not None:
                here.refs += 1
            stack.append((os.path.join(folder, name), rel + "/", here))

        folder: str | None = None
        try:
            while stack:
                if stop is not None and stop.is_set():
                    raise Stopped
                folder, prefix, parent = stack.pop()
                listing = list_dir(folder, parent)
                if isinstance(listing, Unlisted):
                    recorder.unlistable(prefix, listing)
                    continue
                children, here = listing
                seen = recorder.record_listing(children, folder, prefix, here, descend, seen)
                if here is not None:
                    here.release()  # the listing's own hold; its subfolders hold it open
                    here = None
        finally:
            # A stop or an error ends the walk early: close every folder still held.
            if here is not None:
                here.close()
            for _, _, held in stack:
                if held is not None:
                    held.close()
        return seen

    def _walk_on_processes(self, recorder: Recorder, workers: int) -> int | None:
        """The walk of :func:`fim_tray.scan.processes.walk` into ``recorder``, where it may run:
        a first baseline or a full re-hash of a whole folder at full speed, for a caller that
        asked for processes. None when it may not, or when a worker failed (the walk is then
        done here)."""
        if not (
            self.processes
            and workers
            and (self.full or self.previous is None)
            and self.only is None
            and self.throttle is None
        ):
            return None
        from fim_tray.scan import processes

        if not processes.usable():
            return None
        try:
            return processes.walk(recorder, self.root, workers, self.stop)
        except processes.WorkersFailed as exc:
            log.warning("%s; scanning %s in this process instead", exc, self.root)
            return None

    def _targets(self, recorder: Recorder) -> tuple[list[Todo], int]:
        """Record each path of ``only`` (what file events said was touched) and return the
        folders among them to walk. A path that is gone is simply not recorded: compared with
        the baseline, it and everything below it are removed."""
        excluded = recorder.excluder.skips_folder
        whole = {p.strip("/") for p in self.only or ()}
        itself = {p for p in self.itself if not _inside_any(p, whole)}
        wanted = whole | itself
        # The paths no other one is inside of: each looked up with its parent folders (linear in
        # the paths touched, whatever their number).
        tops = sorted(p for p in wanted if p in itself or not _inside_any(p, whole))
        by_parent: dict[str, set[str]] = {}
        for rel in tops:
            parts = rel.split("/")
            if any(excluded(name, "/".join(parts[: i + 1])) for i, name in enumerate(parts[:-1])):
                continue  # inside an excluded folder (the entry itself: record_listing decides)
            by_parent.setdefault("/".join(parts[:-1]), set()).add(parts[-1])
        stack: list[Todo] = []
        seen = 0
        try:
            for parent, names in by_parent.items():
                prefix = parent + "/" if parent else ""
                folder = os.path.join(self.root, parent) if parent else self.root
                try:
                    listing, here = list_folder(folder, open_below(self.root, parent))
                except OSError:
                    continue  # the parent is gone or unreadable now: nothing of it to record

                descend = _pusher(stack, folder, here, skip=itself)
                try:
                    seen = recorder.record_listing(
                        listing, folder, prefix, here, descend, seen, names=names
                    )
                finally:
                    if here is not None:
                        here.release()
        except BaseException:
            for _, _, held in stack:
                if held is not None:
                    held.close()
            raise
        return stack, seen

    def _check_root(self, expect_dev: int | None = None) -> int:
        """The root must exist and be a folder, before the walk and still after it."""
        try:
            st = os.lstat(self.root)  # a watched folder swapped for a link is not followed
        except OSError as exc:
            raise FolderMissingError(
                f"The watched folder {self.root} cannot be opened ({describe_error(exc)}). "
                "Was it moved, deleted or unmounted? Its baseline is kept; reconnect it, or stop "
                "watching it with `fim-tray remove`."
            ) from exc
        if stat.S_ISLNK(st.st_mode):
            raise FolderMissingError(
                f"The watched path {self.root} is no longer a folder but a link to another place; "
                "it was not followed."
            )
        if not stat.S_ISDIR(st.st_mode):
            raise FolderMissingError(f"The watched path {self.root} is no longer a folder.")
        if expect_dev is not None and st.st_dev != expect_dev:
            raise FolderMissingError(f"The watched folder {self.root} changed during the scan.")
        return st.st_dev


def _pusher(
    stack: list[Todo], folder: str, here: Dir | None, skip: Collection[str] = ()
) -> Callable[[str, str], None]:
    """What puts a subfolder of ``folder`` (held open as ``here``) on the walk's ``stack``,
    but those in ``skip`` (their own entry only is wanted)."""

    def push(name: str, rel: str) -> None:
        if rel in skip:
            return
        if here is not None:
            here.refs += 1
        stack.append((os.path.join(folder, name), rel + "/", here))

    return push


def _inside_any(path: str, folders: Collection[str]) -> bool:
    """True when a parent folder of ``path`` is in ``folders`` (relative, ``/``-separated)."""
    end = path.rfind("/")
    while end > 0:
        if path[:end] in folders:
            return True
        end = path.rfind("/", 0, end)
    return False
