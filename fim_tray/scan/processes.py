"""A first baseline or full re-hash on worker processes, one folder at a time, for a caller with
a single thread (the command line): the per-file work of hashing many small files holds the GIL,
so threads cannot share it, and processes can.

Why not ``multiprocessing`` or ``concurrent.futures``: their pools pickle every result, start by
spawning a fresh interpreter where fork is not the default, and cost more to import than a whole
``check``. A forked worker already holds the recorder (excludes, the previous records for a full
re-hash) and sends back plain tuples with marshal over a pipe.

This process hands folders to the workers and scans one itself whenever each worker has enough
queued. A folder is listed and hashed whole by one of them (opened from the root one name at a
time, never through a link); its subfolders are reported as soon as it is listed, its entries
when it is done. Their entries go into the result as they come; the rest (problems, folders
that could not be listed) is then put together in the very order a walk on one thread takes,
so the result is the same: the same entries, and the problems in the same order.
"""

from __future__ import annotations

import contextlib
import errno
import marshal
import os
import select
import signal
import struct
import sys
import threading
from collections.abc import Callable, Collection
from typing import Any

from fim_tray.models import Problem
from fim_tray.records import Records
from fim_tray.scan.dirwalk import FD_WALK, Opener
from fim_tray.scan.hashpool import HashPool, Stopped, describe_error
from fim_tray.scan.record import CANNOT_LIST, REPLACED, VANISHED, Recorder, Unlisted, list_dir

# Fork without exec is safe in a process with one thread; macOS system libraries are not
# fork-safe even then, and Windows has no fork.
AVAILABLE = FD_WALK and hasattr(os, "fork") and sys.platform != "darwin"
IN_FLIGHT = 8  # folders queued for each worker: it never waits for the next one (2: 7% slower)
POLL = 0.1  # seconds between looks at ``stop`` while the workers work
_LEN = struct.Struct("<Q")
ENDED = "a worker process ended before its work was done"


class WorkersFailed(Exception):
    """A worker ended or failed: the scan is done again on this process."""


def usable() -> bool:
    """True where workers may be forked now: the platform allows it and only one thread runs
    (a fork copies just the calling thread; a lock held by another would never be released)."""
    return AVAILABLE and threading.active_count() == 1


def _send(fd: int, message: Any) -> None:
    data = marshal.dumps(message)
    view = memoryview(_LEN.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view) :]


def _frames(buffer: bytearray) -> list[Any]:
    """The whole messages at the start of ``buffer``, taken out of it."""
    messages, at = [], 0
    while len(buffer) - at >= _LEN.size:
        (size,) = _LEN.unpack_from(buffer, at)
        end = at + _LEN.size + size
        if len(buffer) < end:
            break
        # From a worker this process forked, over a pipe no one else holds.
        messages.append(marshal.loads(memoryview(buffer)[at + _LEN.size : end]))  # noqa: S302
        at = end
    del buffer[:at]
    return messages


def _read_exactly(fd: int, size: int) -> bytes | None:
    parts, left = [], size
    while left:
        part = os.read(fd, left)
        if not part:
            return None
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


# -- the worker ---------------------------------------------------------------------------------


def _serve(template: Recorder, root: str, threads: int, requests: int, results: int) -> None:
    """A worker's life: scan each folder asked for until the request pipe closes. Its progress
    is reported by the parent, and the parent's stop kills it."""
    mine = template.fresh(HashPool(threads, template.algorithm, None), worker=True)
    opener = Opener(root)

    def tell_dirs(prefix: str, names: list[str]) -> None:
        _send(results, ("dirs", prefix, names))

    while (header := _read_exactly(requests, _LEN.size)) is not None:
        body = _read_exactly(requests, _LEN.unpack(header)[0])
        if body is None:
            break
        prefix = marshal.loads(body)  # noqa: S302 - from the parent, over its own pipe
        found = _scan_folder(mine, opener, prefix, tell_dirs)
        entries = found.entries  # sent packed: bytes, which marshal writes as they are
        rows = (list(entries), [record for _, record in entries.packed_items()])
        problems = [(p.path, p.message) for p in found.problems]
        _send(
            results,
            ("done", prefix, found.why, rows, problems, list(found.unlisted), found.subfolders,
             found.seen, found.files, found.nbytes),
        )  # fmt: skip


class _Folder:
    """What was found in one folder."""

    __slots__ = ("entries", "files", "nbytes", "problems", "seen", "subfolders", "unlisted", "why")

    def __init__(
        self,
        why: tuple[str, str | None] | None,
        entries: Records | None = None,
        problems: list[Problem] | None = None,
        unlisted: Collection[str] = (),
        subfolders: list[str] | None = None,
        seen: int = 0,
        files: int = 0,
        nbytes: int = 0,
    ) -> None:
        self.why = why  # why it could not be listed, as Unlisted fields
        self.entries = entries if entries is not None else Records()
        self.problems = problems or []
        self.unlisted = unlisted
        self.subfolders = subfolders or []
        self.seen, self.files, self.nbytes = seen, files, nbytes

    @classmethod
    def from_message(cls, message: tuple[Any, ...]) -> _Folder:
        _, _, why, (paths, rows), problems, unlisted, subfolders, seen, files, nbytes = message
        entries = Records.from_packed(paths, rows)
        problems = [Problem(path, text) for path, text in problems]
        return cls(why and tuple(why), entries, problems, unlisted, subfolders, seen, files, nbytes)


def _scan_folder(
    template: Recorder,
    opener: Opener,
    prefix: str,
    tell_dirs: Callable[[str, list[str]], None],
) -> _Folder:
    """Scan the one folder ``prefix`` (relative, with a trailing ``/``; "" for the root) as
    the walk on one thread would, without its subfolders; ``tell_dirs`` hears of them as soon
    as the folder is listed. ``template`` gives the settings and the pool."""
    recorder = template.fresh(template.pool, whole=True)  # _assemble consumes, if need be
    rel = prefix[:-1]
    root = opener.root
    folder = os.path.join(root, rel) if rel else root
    try:
        # Seen inside the root by whoever listed its parent: reached again one name at a time
        # (from the nearest folder this process holds open), never through a link put on the
        # way since.
        parent = opener.holder(rel)
    except FileNotFoundError:
        listing: Any = Unlisted(VANISHED)
    except OSError as exc:
        gone = exc.errno in (errno.ELOOP, errno.ENOTDIR)
        listing = Unlisted(REPLACED) if gone else Unlisted(CANNOT_LIST, describe_error(exc))
    else:
        listing = list_dir(folder, parent)
    if isinstance(listing, Unlisted):
        return _Folder((listing.kind, listing.detail))
    children, here = listing
    skips = template.excluder.skips_folder
    early = [
        c.name
        for c in children
        if c.is_dir(follow_symlinks=False) and not skips(c.name, prefix + c.name)
    ]
    if early:  # other workers can start on them while this one hashes
        tell_dirs(prefix, early)
    subfolders: list[str] = []
    try:
        seen = recorder.record_listing(
            children, folder, prefix, here, lambda name, _rel: subfolders.append(name), 0
        )
    finally:
        if here is not None:
            here.release()
    pool = recorder.pool
    if pool is not None and pool.jobs:
        pool.wait()
        recorder.merge(pool.jobs)
        pool.jobs.clear()
    return _Folder(
        None,
        recorder.entries,
        recorder.problems,
        recorder.unlisted,
        subfolders,
        seen,
        recorder.hashed_files,
        recorder.hashed_bytes,
    )


class _Worker:
    __slots__ = ("buffer", "busy", "pid", "requests", "results")

    def __init__(self, pid: int, requests: int, results: int) -> None:
        self.pid = pid
        self.requests = requests  # the parent's end of each pipe
        self.results = results
        self.buffer = bytearray()
        self.busy = 0


def _start(template: Recorder, root: str, threads: int, others: list[_Worker]) -> _Worker:
    ask_r, ask_w = os.pipe()
    tell_r, tell_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the worker: it must never return into the caller's code
        code = 0
        try:
            # The parent's ends of every pipe closed, so that each worker sees its request pipe
            # close when the parent ends; Ctrl-C is the parent's to handle.
            for fd in (ask_w, tell_r, *(fd for w in others for fd in (w.requests, w.results))):
                os.close(fd)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            _serve(template, root, threads, ask_r, tell_w)
        except BaseException as exc:  # reported to the parent, then gone
            code = 1
            with contextlib.suppress(BaseException):  # else the parent sees the pipe close
                _send(tell_w, ("error", f"{type(exc).__name__}: {exc}"))
        finally:
            os._exit(code)
    os.close(ask_r)
    os.close(tell_w)
    return _Worker(pid, ask_w, tell_r)


# -- the parent ---------------------------------------------------------------------------------


def walk(
    recorder: Recorder, root: str, processes: int, stop: threading.Event | None = None
) -> int:
    """Record everything under ``root`` into ``recorder`` on ``processes`` processes, this one
    and workers forked from it (each hashes big files on as many threads); returns the count of
    entries seen. Raises WorkersFailed when a worker fails (nothing is recorded then)."""
    workers: list[_Worker] = []
    done = False
    try:
        for _ in range(processes - 1):
            try:
                workers.append(_start(recorder, root, processes, workers))
            except OSError as exc:  # a process limit (EAGAIN), no memory: none of them then
                raise WorkersFailed(f"cannot start a worker process ({exc.strerror})") from exc
        folders = _run(recorder, root, processes, workers, stop)
        done = True
    finally:
        _finish(workers, kill=not done)
    return _assemble(recorder, folders)


def _run(
    template: Recorder,
    root: str,
    threads: int,
    workers: list[_Worker],
    stop: threading.Event | None,
) -> dict[str, _Folder]:
    """Hand folders to the workers and scan one here whenever none is waiting on them."""
    progress = template.progress
    todo: list[str] = [""]  # last in, first out: the walk stays deep, its folders few
    asked = {""}
    found: dict[str, _Folder] = {}
    seen = 0
    by_fd = {w.results: w for w in workers}
    poller = select.poll()
    for w in workers:
        poller.register(w.results, select.POLLIN)

    def ask(prefix: str, names: list[str]) -> None:
        for name in names:
            sub = prefix + name + "/"
            if sub not in asked:
                asked.add(sub)
                todo.append(sub)

    def take(prefix: str, folder: _Folder) -> None:
        nonlocal seen
        # Its entries go into the recorder at once (a check keeps only what changed, see
        # Recorder.keep), so the folders waiting to be put in order hold no entries: the tree
        # is never held twice.
        for path, record in folder.entries.packed_items():
            template.keep(path, record)
        folder.entries = Records()
        found[prefix] = folder
        ask(prefix, folder.subfolders)  # the same names as told early, but for a race
        before, seen = seen, seen + folder.seen
        if progress is not None and seen // 1000 != before // 1000:
            progress(seen - seen % 1000)

    own = HashPool(threads, template.algorithm, stop)
    here = template.fresh(own)
    opener = Opener(root)
    try:
        while todo or any(w.busy for w in workers):
            for w in workers:
                while todo and w.busy < IN_FLIGHT:
                    try:
                        _send(w.requests, todo.pop())
                    except OSError as exc:  # EPIPE: it is gone
                        raise WorkersFailed(ENDED) from exc
                    w.busy += 1
            if stop is not None and stop.is_set():
                raise Stopped
            wait = POLL
            if todo:  # the workers have enough to do: one folder here meanwhile
                prefix = todo.pop()
                take(prefix, _scan_folder(here, opener, prefix, ask))
                wait = 0
            for fd, _ in poller.poll(wait * 1000):
                _receive(by_fd[fd], ask, take)
    finally:
        own.close()
        opener.close()
    return found


def _receive(
    w: _Worker, ask: Callable[[str, list[str]], None], take: Callable[[str, _Folder], None]
) -> None:
    data = os.read(w.results, 1 << 20)
    if not data:
        raise WorkersFailed(ENDED)
    w.buffer += data
    for message in _frames(w.buffer):
        kind, prefix = message[0], message[1]
        if kind == "error":
            raise WorkersFailed(f"a worker process failed: {prefix}")
        if kind == "dirs":
            ask(prefix, message[2])
        else:
            w.busy -= 1
            take(prefix, _Folder.from_message(message))


def _assemble(recorder: Recorder, folders: dict[str, _Folder]) -> int:
    """Put the folders' findings, but their entries (already in, see ``_run``), into
    ``recorder`` in the order a walk on one thread records them."""
    seen = 0
    stack = [""]
    while stack:
        prefix = stack.pop()
        folder = folders[prefix]
        if folder.why is not None:
            recorder.unlistable(prefix, Unlisted(*folder.why))
            continue
        recorder.problems.extend(folder.problems)
        recorder.unlisted.update(folder.unlisted)
        seen += folder.seen
        recorder.hashed_files += folder.files
        recorder.hashed_bytes += folder.nbytes
        stack.extend(prefix + name + "/" for name in folder.subfolders)
    return seen


def _finish(workers: list[_Worker], kill: bool) -> None:
    """End every worker and wait for it: closing its request pipe ends it (at once, with
    ``kill``: after a stop or a failure, folders it was still asked to scan are not waited for)."""
    for w in workers:
        if kill:
            with contextlib.suppress(ProcessLookupError):
                os.kill(w.pid, signal.SIGKILL)
        os.close(w.requests)
    for w in workers:
        while True:
            try:
                os.waitpid(w.pid, 0)
                break
            except ChildProcessError:
                break
            except InterruptedError:
                continue
        os.close(w.results)
