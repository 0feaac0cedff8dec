"""File events from the OS (watchdog: inotify, FSEvents, ReadDirectoryChangesW), debounced into
one call per burst and folder, so an editor's save-and-rename is one change, not three.

Events make detection near-instant and cost nothing while nothing changes; polling stays as the
safety net. When events cannot be had for a folder (the OS is out of watches, a network drive)
or the OS drops some (a queue overflow), ``on_lost`` says so, and the monitor falls back to
polling and rescans that folder so nothing is missed.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from fim_tray.models import ITSELF

log = logging.getLogger(__name__)

OnChange = Callable[[str, frozenset[str]], None]  # folder, relative paths touched
OnLost = Callable[[str | None, str], None]  # folder (None: all of them), why

DEBOUNCE = 0.3  # seconds of quiet that end a burst
MAX_DELAY = 1.5  # ...but a burst is reported at the latest this long after it began
IGNORED = {"opened", "closed_no_write"}  # reads, among them our own scans: not changes
# Where a folder's "modified" event names its own entry only (see EventWatcher._event).
_ITSELF_EVENTS = sys.platform.startswith("linux")
_OWN_ENTRY = frozenset({"modified", "attrib"})  # of a folder: its listing, its attributes


class _OverflowSpy(logging.Handler):
    """watchdog reports a kernel queue overflow only in its log; this turns that into a call."""

    def __init__(self, on_overflow: Callable[[], None]) -> None:
        super().__init__(logging.WARNING)
        self.on_overflow = on_overflow

    def emit(self, record: logging.LogRecord) -> None:
        if "overflow" in record.getMessage().lower():
            self.on_overflow()


class EventWatcher:
    """Watches folders recursively; reports touched paths after a short quiet period."""

    def __init__(
        self,
        on_change: OnChange,
        on_lost: OnLost,
        *,
        ignore: Iterable[str] = (),
        debounce: float = DEBOUNCE,
        max_delay: float = MAX_DELAY,
        observer_factory: Callable[[], Any] | None = None,
    ) -> None:
        self.on_change = on_change
        self.on_lost = on_lost
        self.debounce = debounce
        self.max_delay = max_delay
        self._ignore = tuple(os.path.join(p, "") for p in ignore)  # our own state folders
        self._factory = observer_factory
        self._observer: Any = None
        self._watches: dict[str, Any] = {}
        self._pending: dict[str, set[str]] = {}
        self._first: float | None = None
        self._last = 0.0
        self._cond = threading.Condition()
        self._stopped = False
        self._broken = False  # a thread of the backend ended with an error: no more events
        self._hooks: tuple[Any, Any] | None = None  # threading.excepthook before start(), ours
        self._flusher: threading.Thread | None = None
        self._spy = _OverflowSpy(lambda: self.on_lost(None, "the system dropped file events"))

    def start(self) -> bool:
        """Start the observer; False (and a log line) when file events are not available here."""
        try:
            if self._factory is not None:
                self._observer = self._factory()
            else:
                from watchdog.observers import Observer

                self._observer = Observer()
            self._observer.daemon = True
            self._observer.name = "fim-tray-events"
            self._observer.start()
        except Exception:
            log.warning("file events are not available; polling only", exc_info=True)
            self._observer = None
            return False
        logging.getLogger("watchdog").addHandler(self._spy)
        self._hear_thread_deaths()
        self._flusher = threading.Thread(
            target=self._flush_loop, name="fim-tray-debounce", daemon=True
        )
        self._flusher.start()
        return True

    def watch(self, folder: str) -> bool:
        """Watch ``folder`` and everything below it; False when the OS refuses."""
        if self._observer is None or folder in self._watches:
            return folder in self._watches
        from watchdog.events import FileSystemEventHandler

        seen = self._event

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event: Any) -> None:
                seen(folder, event)

        try:
            self._watches[folder] = self._observer.schedule(Handler(), folder, recursive=True)
        except OSError as exc:  # ENOSPC: out of inotify watches; or a path events cannot see
            why = "the system is out of file watches" if exc.errno == 28 else str(exc)
            return self._refused(folder, why)
        except RecursionError:  # watchdog adds a watch per folder by recursion: too deep for it
            return self._refused(folder, "its folders are nested too deep for file events")
        except Exception as exc:  # whatever else the backend raises: checks carry on by polling
            return self._refused(folder, f"{type(exc).__name__}: {exc}")
        return True

    def _refused(self, folder: str, why: str) -> bool:
        log.warning("no file events for %s: %s", folder, why)
        self.on_lost(folder, why)
        return False

    def healthy(self, folder: str) -> bool:
        """Whether the events of ``folder`` still come: a thread of the backend that reads them
        may have ended with an error (a folder made too deep for it at run time, say)."""
        watch = self._watches.get(folder)
        if watch is None or self._observer is None or self._broken:
            return False
        emitters = [e for e in self._observer.emitters if getattr(e, "watch", None) == watch]
        return self._observer.is_alive() and all(e.is_alive() for e in emitters)

    def _hear_thread_deaths(self) -> None:
        """The backend's threads are its own (watchdog's shared inotify reader among them): one
        that ends with an error takes the events with it without a word, so every thread that
        is not fim-tray's own ending that way marks the events broken (see :meth:`healthy`)."""
        before = threading.excepthook

        def hook(args: threading.ExceptHookArgs) -> None:
            thread = args.thread
            if thread is None or not thread.name.startswith("fim-tray"):
                self._broken = True
            before(args)

        threading.excepthook = hook
        self._hooks = (before, hook)

    def unwatch(self, folder: str) -> None:
        watch = self._watches.pop(folder, None)
        if watch is not None and self._observer is not None:
            try:
                self._observer.unschedule(watch)
            except (KeyError, OSError):
                log.debug("unwatching %s", folder, exc_info=True)

    def watching(self, folder: str) -> bool:
        return folder in self._watches and self.alive

    @property
    def alive(self) -> bool:
        return self._observer is not None and self._observer.is_alive()

    def _event(self, folder: str, event: Any) -> None:
        if event.event_type in IGNORED:
            return
        paths = [event.src_path, getattr(event, "dest_path", "")]
        # inotify says "modified" of a folder whose listing changed ("attrib": its attributes),
        # and gives each name added to it or removed from it an event of its own: the folder's
        # own entry is all there is to read again, not all that is under it (the root has
        # none). Other backends may say it of a folder alone: there, all of it is read again.
        itself = _ITSELF_EVENTS and event.event_type in _OWN_ENTRY and event.is_directory
        rels = set()
        for raw in paths:
            if not raw:
                continue
            path = os.fsdecode(raw)
            if self._ignore and (path + os.sep).startswith(self._ignore):  # it, or inside it
                continue
            rel = os.path.relpath(path, folder)
            if itself:
                if rel != "." and not (rel == ".." or rel.startswith(".." + os.sep)):
                    rels.add(rel.replace(os.sep, "/") + ITSELF)
            elif rel == "." or not (rel == ".." or rel.startswith(".." + os.sep)):  # not outside
                rels.add("" if rel == "." else rel.replace(os.sep, "/"))
        if not rels:
            return
        with self._cond:
            self._pending.setdefault(folder, set()).update(rels)
            now = time.monotonic()
            self._last = now
            if self._first is None:
                self._first = now
            self._cond.notify()

    def _flush_loop(self) -> None:
        while True:
            with self._cond:
                while not self._stopped and self._first is None:
                    self._cond.wait()
                if self._stopped:
                    return
                assert self._first is not None
                now = time.monotonic()
                due = min(self._last + self.debounce, self._first + self.max_delay)
                if now < due:
                    self._cond.wait(due - now)
                    continue
                batch, self._pending = self._pending, {}
                self._first = None
            for folder, rels in batch.items():
                try:
                    self.on_change(folder, frozenset(rels))
                except Exception:
                    log.exception("handling file events for %s failed", folder)

    def stop(self) -> None:
        logging.getLogger("watchdog").removeHandler(self._spy)
        if self._hooks is not None and threading.excepthook is self._hooks[1]:
            threading.excepthook = self._hooks[0]  # as it was before start()
        self._hooks = None
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(5)
            self._observer = None
        if self._flusher is not None:
            self._flusher.join(5)
        self._watches.clear()
