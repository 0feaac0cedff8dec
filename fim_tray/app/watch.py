"""Watch and unwatch a folder: its first baseline (and saved copies), and everything removed with
it."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence

from fim_tray.errors import FimError, FolderMissingError
from fim_tray.models import Folder, ScanResult
from fim_tray.platform import mounts
from fim_tray.scan.record import Progress
from fim_tray.scan.scanner import Scanner
from fim_tray.scan.throttle import Throttle
from fim_tray.store.baseline import XATTRS_RECORDED, Baseline
from fim_tray.store.history import folder_line
from fim_tray.store.state import Store, resolve


def watch(
    store: Store,
    path: str,
    *,
    algorithm: str | None = None,
    excludes: Sequence[str] = (),
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    keep_copies: bool = False,
    throttle: Throttle | None = None,
    processes: bool = False,
) -> tuple[Folder, ScanResult | None]:
    """Record the baseline of a new folder; returns (folder, None) when already watched.

    ``keep_copies`` also stores the content of its files (see :mod:`fim_tray.app.copies`); a
    file that could not be copied is listed in the result's problems. ``throttle`` caps
    the reading speed of the scan (None: full speed); ``processes`` lets it run on worker
    processes (a caller with one thread only)."""
    if not path:  # "" would be the current folder: never by accident
        raise FolderMissingError("An empty name names no folder.")
    root = resolve(path)
    if not os.path.isdir(root):
        raise FolderMissingError(f"{path} is not a folder that exists.")
    kind = mounts.pseudo(root)
    if kind is not None:  # /proc/self/pagemap alone would take longer than anyone would wait
        raise FimError(
            f"{path} is on the kernel's {kind} file system: its entries are views of the running "
            "system, not files, and cannot have a baseline.",
            title="Cannot watch this folder",
        )
    for own in (store.paths.data_dir, store.paths.config_dir):
        if os.path.commonpath([resolve(str(own)), root]) == root:
            raise FimError(
                f"{path} holds fim-tray's own state ({own}), which changes at every check. "
                "Watch a folder that does not, or move the state with FIM_TRAY_HOME.",
                title="Cannot watch this folder",
            )
    existing = store.config().find(root)
    if existing is not None:
        return existing, None
    planned = store.config().with_folder(
        root, algorithm=algorithm, excludes=tuple(excludes), keep_copies=keep_copies
    )
    folder = planned.folders[-1]
    result = Scanner(
        root,
        planned.excludes_for(folder),
        folder.algorithm,
        progress=progress,
        stop=stop,
        hash_workers=planned.hash_workers,
        throttle=throttle,
        processes=processes,
    ).run()
    now = store.clock()
    record = Baseline(
        root,
        folder.algorithm,
        result.entries,
        now,
        now,
        root_dev=result.root_dev,
        extra={XATTRS_RECORDED: 1},
    )
    with store.locked():
        config = store.config()  # another process may have changed it meanwhile
        if config.find(root) is None:
            config = config.with_folder(
                root, algorithm=algorithm, excludes=tuple(excludes), keep_copies=keep_copies
            )
        # Baseline first: the settings never name a folder that has no baseline.
        signed = store.save_baseline(folder, record)
        store.pending(folder).save({}, now, full=True, baseline=signed)  # a first one hashes all
        store.save_config(config)
    if folder.keep_copies:  # after the save, so the copies are referred to from the start
        from fim_tray.app import copies

        copied = copies.record(store, folder, folder.algorithm, result.entries, config)
        result = result._replace(problems=(*result.problems, *copied.problems))
    return folder, result


def unwatch(store: Store, path: str) -> Folder:
    """Stop watching; its baseline, backup, load cache and pending file are deleted, and the
    saved copies nothing needs any more are pruned."""
    from fim_tray.app import copies

    folder = store.folder(path)
    with store.locked():
        try:  # what was still to review goes with it: said in the history
            dropped = sorted((store.pending(folder).changes() or {}).values())
        except FimError:
            dropped = []
        line = folder_line(folder.path, "unwatched", store.clock(), pending=dropped)
        store.history.append_records([line])
        store.save_config(store.config().without_folder(folder.path))
        store.forget(folder)
    copies.prune_quietly(store)
    return folder
