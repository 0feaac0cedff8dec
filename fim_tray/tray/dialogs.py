"""The tray's dialogs as child processes: the folder chooser, the details and History windows,
Settings, Alerts and the welcome (one Settings, Alerts and History window at most).

Each runs as ``fim-tray _pick-folder`` or ``fim-tray _details`` in its own process group and
answers with JSON on stdout; a short-lived thread waits for it, so the tray never blocks, and
Quit ends every dialog together with what it started (zenity, kdialog, osascript). The Settings,
Alerts and History windows are one each at most: asked for again, the open one is raised.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path

from fim_tray import jsonio
from fim_tray.app.monitor import Accepting
from fim_tray.models import Change, ChangeKey, Writer
from fim_tray.platform.launch import child_env, safe_cwd, self_command
from fim_tray.store.names import name_fields, name_from
from fim_tray.tray.presenter import folder_label
from fim_tray.ui.wire import items_from_changes

log = logging.getLogger(__name__)

# folder, the keys of the changes to accept, and who hears what was taken in (see Monitor.accept)
OnAccept = Callable[[str, frozenset[ChangeKey], Accepting], None]
OnRestored = Callable[[str], None]  # folder where the window put a file back
OnPicked = Callable[[str], None]
OnProblem = Callable[[str], None]
# folder, pattern, undo (remove it again), and who hears the result (a JSON object for the window)
OnIgnore = Callable[[str, str, bool, Callable[[dict[str, object]], None]], None]
# what the Settings window asks (see SETTINGS_ACTIONS), and who hears the result
OnSettings = Callable[[dict[str, object], Callable[[dict[str, object]], None]], None]
# What a window says on stderr of what it did (logged, never taken for an error message).
CHATTER = ("status: ", "field: ", "row ", "list: ")
SETTINGS_ACTIONS = frozenset(
    {"settings", "keep-copies", "notify", "watch", "watch-path", "unwatch", "alerts"}
)


def _end(child: subprocess.Popen[str]) -> None:
    """End a dialog process and whatever it started."""
    if child.poll() is not None:
        return
    if sys.platform == "win32":
        child.terminate()
        return
    try:
        os.killpg(child.pid, signal.SIGTERM)
    except OSError:
        child.terminate()


class Dialogs:
    """Starts dialog processes, tracks them, and hands their answers to callbacks."""

    def __init__(
        self,
        on_problem: OnProblem,
        on_restored: OnRestored | None = None,
        on_ignore: OnIgnore | None = None,
        on_settings: OnSettings | None = None,
    ) -> None:
        self.on_settings = on_settings
        self.on_problem = on_problem
        self.on_restored = on_restored
        self.on_ignore = on_ignore
        self._children: set[subprocess.Popen[str]] = set()
        # The windows there is one of at most, by name: the open one (None while it starts).
        self._single: dict[str, subprocess.Popen[str] | None] = {}
        self._lock = threading.Lock()
        self._closing = threading.Event()

    def _spawn(self, args: list[str], *, talk: bool = False) -> subprocess.Popen[str] | None:
        """A dialog process; with ``talk``, its stdin stays open to tell it things (and its end
        tells it the tray is gone, however the tray ended)."""
        if self._closing.is_set():
            return None
        try:
            child = subprocess.Popen(
                [*self_command(), *args],
                cwd=safe_cwd(),
                env=child_env(),
                stdin=subprocess.PIPE if talk else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,  # its own process group: Quit ends what it started
            )
        except OSError as exc:
            self.on_problem(f"Cannot open a window: {exc}")
            return None
        with self._lock:
            self._children.add(child)
        log.debug("started %s as process %d", args[0], child.pid)
        return child

    def _done(self, child: subprocess.Popen[str]) -> None:
        with self._lock:
            self._children.discard(child)

    def _in_thread(self, target: Callable[[], None]) -> None:
        threading.Thread(target=target, name="fim-tray-dialog", daemon=True).start()

    # -- the folder chooser --------------------------------------------------------------------

    def pick_folder(self, on_picked: OnPicked) -> None:
        self._in_thread(lambda: self._pick_folder(on_picked))

    def _pick_folder(self, on_picked: OnPicked) -> None:
        child = self._spawn(["_pick-folder"])
        if child is None:
            return
        try:
            out, err = child.communicate()
        finally:
            self._done(child)
        if child.returncode == 0:
            try:
                path = json.loads(out)["path"]
            except (ValueError, KeyError, TypeError):
                log.warning("the folder chooser answered %r", out)
                return
            on_picked(str(path))
        elif child.returncode == 2 and not self._closing.is_set():
            self.on_problem(err.strip() or "No folder chooser is available here.")

    # -- the details window --------------------------------------------------------------------

    def details(
        self,
        folder: str,
        changes: Sequence[Change],
        when: datetime,
        on_accept: OnAccept,
        hints: Mapping[str, Writer] | None = None,
    ) -> None:
        """The details of ``changes`` (a notification's, or a Recent changes line's)."""
        count = len(changes)
        title = (
            f"{count} change{'s' if count != 1 else ''} in {folder_label(folder)} "
            f"at {when:%H:%M:%S}"
        )
        doc = {"title": title, "items": items_from_changes(folder, changes, when, hints)}
        handle, name = tempfile.mkstemp(prefix="fim-tray-details-", suffix=".json")
        with os.fdopen(handle, "wb") as out:
            out.write(jsonio.dumps(doc))
        self._in_thread(lambda: self._details(["_details", name], on_accept, Path(name)))

    def settings(self) -> None:
        """The Settings window; what it asks goes to ``on_settings``. One at most: when it is
        open already, it is raised instead (two would write over each other's settings)."""
        if self._only_one("settings"):
            self._in_thread(
                lambda: self._details(["_settings"], _nothing_to_accept, None, single="settings")
            )

    def _only_one(self, name: str) -> bool:
        """True when no window ``name`` is open (it is then taken as starting); else the open
        one is told to come to the front."""
        with self._lock:
            if name not in self._single:
                self._single[name] = None
                return True
            child = self._single[name]
        if child is not None:
            self._tell(child, {"raise": True})
        log.debug("the %s window is open already: raised", name)
        return False

    def welcome(self) -> None:
        """The first-run welcome; its "Watch" goes to ``on_settings`` as the Settings' does."""
        self._in_thread(lambda: self._details(["_welcome"], _nothing_to_accept, None))

    def history(self, on_accept: OnAccept) -> None:
        """The History window. One at most: when it is open already, it is raised instead."""
        if self._only_one("history"):
            self._in_thread(
                lambda: self._details(["_details", "--history"], on_accept, None, single="history")
            )

    def _details(
        self,
        args: list[str],
        on_accept: OnAccept,
        cleanup: Path | None,
        *,
        single: str | None = None,
    ) -> None:
        try:
            child = self._spawn(args, talk=True)
            if child is None:
                return
            if single is not None:
                with self._lock:
                    self._single[single] = child
            try:
                assert child.stdout is not None and child.stderr is not None
                stderr, errors = child.stderr, list[str]()

                def drain() -> None:  # what the window says goes to the log, as it says it
                    for said in stderr:
                        log.debug("the window says: %s", said.rstrip())
                        if not said.startswith(CHATTER):  # what it did is not an error
                            errors.append(said)

                # Drain stderr beside stdout: a window that writes much to it must not block.
                drainer = threading.Thread(target=drain, daemon=True)
                drainer.start()

                def reply(keys: frozenset[ChangeKey], error: str | None) -> None:
                    self._tell(child, {"accepted": _keys(keys), "error": error})

                def told(message: dict[str, object]) -> None:
                    self._tell(child, message)

                for line in child.stdout:  # one decision per line, while the window is open
                    if _settings_line(line, self.on_settings, told):
                        continue
                    if not _ignore_line(line, self.on_ignore, told):
                        _apply(line, on_accept, self.on_restored, reply)
                code = child.wait()
                drainer.join(5)
                err = "".join(errors)
                log.debug("the details window ended with status %s", code)
                if code != 0 and not self._closing.is_set():
                    log.warning("the details window ended with status %s: %s", code, err.strip())
                    self.on_problem(err.strip() or "The details window could not open.")
            finally:
                self._done(child)
        finally:
            if single is not None:
                with self._lock:
                    self._single.pop(single, None)
            if cleanup is not None:
                cleanup.unlink(missing_ok=True)

    # -- the Alerts window ---------------------------------------------------------------------

    def alerts(self, on_changed: Callable[[], None]) -> None:
        """The Alerts window; ``on_changed`` after each channel added or removed there, and
        when it closes."""
        if self._only_one("alerts"):  # one at most: asked again, the open one is raised
            self._in_thread(lambda: self._alerts(on_changed))

    def _alerts(self, on_changed: Callable[[], None]) -> None:
        child = self._spawn(["_alerts"], talk=True)
        with self._lock:
            if child is None:
                self._single.pop("alerts", None)
                return
            self._single["alerts"] = child
        try:
            assert child.stdout is not None and child.stderr is not None
            stderr, errors = child.stderr, list[str]()
            drain = threading.Thread(target=lambda: errors.append(stderr.read()), daemon=True)
            drain.start()
            for _line in child.stdout:  # {"action": "changed"}
                on_changed()
            code = child.wait()
            drain.join(5)
        finally:
            with self._lock:
                self._single.pop("alerts", None)
            self._done(child)
        on_changed()
        if code != 0 and not self._closing.is_set():
            self.on_problem("".join(errors).strip() or "The Alerts window could not open.")

    def tell_pending(self, folder: str, keys: frozenset[ChangeKey]) -> None:
        """Tell every open window which changes of ``folder`` are pending now: a change it shows
        that was accepted elsewhere, or changed again, is marked so there."""
        with self._lock:
            children = list(self._children)
        for child in children:
            self._tell(child, {"pending": {"folder": folder, "keys": _keys(keys)}})

    def _tell(self, child: subprocess.Popen[str], message: dict[str, object]) -> None:
        """One JSON line to a window; a window already gone is no error."""
        stdin = child.stdin
        if stdin is None or child.poll() is not None:
            return
        try:
            with self._lock:
                stdin.write(jsonio.dumps(message).decode() + "\n")
                stdin.flush()
        except (OSError, ValueError):
            log.debug("a window went away before it was told %s", list(message))

    def close(self) -> None:
        """End every dialog (on Quit)."""
        self._closing.set()
        with self._lock:
            children = list(self._children)
        for child in children:
            _end(child)


def _keys(keys: frozenset[ChangeKey]) -> list[dict[str, str]]:
    """Change keys as a window names them: path (or path_b64) and signature."""
    return [{**name_fields(path, "path"), "signature": sig} for path, sig in sorted(keys)]


def _apply(
    line: str,
    on_accept: OnAccept,
    on_restored: OnRestored | None = None,
    reply: Accepting | None = None,
) -> None:
    """Hand one ``{"action": "accept" or "restored", "items": [...]}`` line on, by folder."""
    try:
        decision = json.loads(line)
        action = decision.get("action")
        if action == "restored" and on_restored is not None:
            for folder in {str(entry["folder"]) for entry in decision["items"]}:
                on_restored(folder)
            return
        if action != "accept":
            return
        by_folder: dict[str, set[ChangeKey]] = {}
        for entry in decision["items"]:
            key = (name_from(entry, "path"), str(entry["signature"]))
            if key[0] is None:
                raise KeyError("path")
            by_folder.setdefault(str(entry["folder"]), set()).add(key)  # type: ignore[arg-type]
    except (ValueError, KeyError, TypeError, AttributeError):
        log.warning("a dialog answered %r", line)
        return
    for folder, keys in by_folder.items():
        on_accept(folder, frozenset(keys), reply or _ignore)


def _nothing_to_accept(_folder: str, _keys: frozenset[ChangeKey], _done: Accepting) -> None:
    pass


def _settings_line(
    line: str, on_settings: OnSettings | None, told: Callable[[dict[str, object]], None]
) -> bool:
    """Hand on a Settings window's request (see SETTINGS_ACTIONS); False for any other line."""
    try:
        decision = json.loads(line)
    except ValueError:
        return False
    if not isinstance(decision, dict) or decision.get("action") not in SETTINGS_ACTIONS:
        return False
    if on_settings is not None:
        on_settings(decision, told)
    return True


def _ignore_line(
    line: str, on_ignore: OnIgnore | None, told: Callable[[dict[str, object]], None]
) -> bool:
    """Hand on ``{"action": "ignore" or "unignore", "folder": ..., "pattern": ...}``; False
    for any other line."""
    try:
        decision = json.loads(line)
        action = decision.get("action")
        if action not in ("ignore", "unignore"):
            return False
        folder, pattern = decision["folder"], decision["pattern"]
        if not isinstance(folder, str) or not isinstance(pattern, str):
            raise TypeError("folder and pattern must be text")
    except (ValueError, KeyError, TypeError, AttributeError):
        return False
    if on_ignore is not None:
        on_ignore(folder, pattern, action == "unignore", told)
    return True


def _ignore(_keys: frozenset[ChangeKey], _error: str | None) -> None:
    pass
