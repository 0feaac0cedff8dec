"""The tray icon's glue: pystray menu and callbacks around the TrayModel and the Monitor thread.

pystray owns the main thread. Menu callbacks only enqueue requests for the monitor thread or
start child processes on short-lived threads, so nothing here blocks the tray's loop.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from fim_tray import APP_NAME
from fim_tray.errors import FimError
from fim_tray.models import FolderReport
from fim_tray.monitor import Monitor, MonitorEvent, Watched
from fim_tray.platform.notify import Notifier, choose_notifier
from fim_tray.platform.opener import open_folder
from fim_tray.service import Service
from fim_tray.tray.icons import icon as draw_icon
from fim_tray.tray.presenter import TrayModel, folder_label

log = logging.getLogger(__name__)

LINUX_PACKAGES = "python3-gi gir1.2-ayatanaappindicator3-0.1 (Debian/Ubuntu names)"


class TrayUnavailable(FimError):
    title = "No tray here"


def load_pystray() -> ModuleType:
    """Import pystray with a backend that has a menu, or say plainly what is missing.

    On Linux pystray silently falls back to its ``xorg`` backend, which has no menu, when
    PyGObject or the AppIndicator library is missing; fim-tray asks for AppIndicator instead.
    """
    if sys.platform.startswith("linux"):
        os.environ.setdefault("PYSTRAY_BACKEND", "appindicator")
    try:
        import pystray
    except Exception as exc:
        raise TrayUnavailable(
            f"The tray icon cannot start: {exc}. On Linux it needs PyGObject and the "
            f"AppIndicator library: install {LINUX_PACKAGES}, and run fim-tray with a Python "
            "that sees them (./dev.sh run sets this up). Meanwhile `fim-tray monitor` works in "
            "a terminal."
        ) from exc
    module: ModuleType = pystray
    if not pystray.Icon.HAS_MENU:
        raise TrayUnavailable(
            f"This tray backend ({pystray.Icon.__module__}) has no menu. Install "
            f"{LINUX_PACKAGES}, or use `fim-tray monitor`."
        )
    return module


def _run(fn: Callable[..., object], *args: object) -> Callable[[], None]:
    """A zero-argument menu action (pystray passes extra arguments to partial objects)."""

    def action() -> None:
        fn(*args)

    return action


class TrayApp:
    """One tray icon for the whole app."""

    def __init__(self, service: Service, notifier: Notifier | None = None) -> None:
        self.service = service
        self.model = TrayModel()
        self.notifier = notifier
        self.monitor = Monitor(service, self._on_report, on_event=self._on_event)
        self._pystray: ModuleType | None = None
        self._icon: Any = None
        self._children: set[subprocess.Popen[str]] = set()
        self._children_lock = threading.Lock()
        self._quitting = threading.Event()

    # -- start and stop ------------------------------------------------------------------------

    def run(self) -> None:
        """Show the icon and block until Quit."""
        pystray = self._pystray = load_pystray()
        if self.notifier is None:
            self.notifier = choose_notifier(APP_NAME, self._icon_file())
        if not self.notifier.clickable:
            self.model.degraded.append(f"notifications: {self.notifier.name}, not clickable")
        self._load_state()
        self._icon = pystray.Icon(
            APP_NAME, draw_icon(self.model.state()), self.model.tooltip(), self._menu(pystray)
        )
        log.info("tray backend %s, notifier %s", type(self._icon).__module__, self.notifier.name)
        self._icon.run(setup=self._setup)

    def _setup(self, icon: Any) -> None:
        icon.visible = True
        self.monitor.start()

    def quit(self) -> None:
        """Stop the monitor (cancelling a scan), close dialogs, then the icon."""
        self._quitting.set()
        self.monitor.join(timeout=10)
        with self._children_lock:
            for child in list(self._children):
                _end_child(child)
        if self.notifier is not None:
            self.notifier.close()
        if self._icon is not None:
            self._icon.stop()

    def _load_state(self) -> None:
        try:
            statuses = self.service.status()
        except FimError as exc:
            self.model.message = exc.message
            return
        self.model.set_folders(
            [s.folder.path for s in statuses], {s.folder.path: s.pending for s in statuses}
        )

    def _icon_file(self) -> Path | None:
        """The app icon as a file, which notification daemons want."""
        path = self.service.paths.data_dir / "icons" / "fim-tray.png"
        try:
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                draw_icon("ok", 128).save(path)
        except OSError:
            return None
        return path

    # -- from the monitor thread ---------------------------------------------------------------

    def _on_report(self, report: FolderReport) -> None:
        notice = self.model.apply_report(report)
        self._refresh()
        if notice is not None and self.notifier is not None and not self._quitting.is_set():
            self.notifier.send(
                notice.title, notice.body, on_clicked=_run(open_folder, notice.folder)
            )

    def _on_event(self, event: MonitorEvent) -> None:
        self.model.apply_event(event)
        if isinstance(event, Watched):
            self.model.set_folders([f.path for f in self.service.folders()])
        self._refresh()

    def _refresh(self) -> None:
        icon = self._icon
        if icon is None:
            return
        icon.icon = draw_icon(self.model.state())
        icon.title = self.model.tooltip()
        icon.update_menu()

    # -- the menu ------------------------------------------------------------------------------

    def _menu(self, pystray: ModuleType) -> Any:
        item, menu = pystray.MenuItem, pystray.Menu
        return menu(
            item(lambda _: self.model.status_line(), None, enabled=False),
            menu.SEPARATOR,
            item("Watch a folder...", _run(self.pick_folder)),
            item("Watched folders", menu(self._folder_items)),
            item("Recent changes", menu(self._recent_items)),
            item("Check all now", _run(self.monitor.check_now)),
            item(lambda _: "Resume" if self.model.paused else "Pause", _run(self.toggle_pause)),
            menu.SEPARATOR,
            item("Quit", _run(self.quit)),
        )

    def _folder_items(self) -> Iterator[Any]:
        assert self._pystray is not None
        item, menu = self._pystray.MenuItem, self._pystray.Menu
        paths = list(self.model.folders)
        if not paths:
            yield item("No folders yet", None, enabled=False)
        for path in paths:
            yield item(
                self.model.folder_line(path),
                menu(
                    item("Check now", _run(self.monitor.check_now, path)),
                    item("Open folder", _run(open_folder, path)),
                    item("Stop watching", _run(self.unwatch, path)),
                ),
            )

    def _recent_items(self) -> Iterator[Any]:
        assert self._pystray is not None
        item = self._pystray.MenuItem
        recent = self.model.recent_items()
        if not recent:
            yield item("No changes yet", None, enabled=False)
        for entry in recent:
            yield item(entry.label, _run(open_folder, entry.folder))

    # -- actions -------------------------------------------------------------------------------

    def toggle_pause(self) -> None:
        if self.model.paused:
            self.monitor.resume()
        else:
            self.monitor.pause()

    def unwatch(self, path: str) -> None:
        try:
            self.service.unwatch(path)
        except FimError as exc:
            self.model.message = exc.message
        self.model.set_folders([f.path for f in self.service.folders()])
        self._refresh()

    def pick_folder(self) -> None:
        """Run the folder chooser as a child process; its answer goes to the monitor thread."""
        threading.Thread(target=self._pick_folder, name="fim-tray-picker", daemon=True).start()

    def _pick_folder(self) -> None:
        command = [*self_command(), "_pick-folder"]
        try:
            child = subprocess.Popen(
                command,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,  # its own process group: Quit ends the dialog it runs too
            )
        except OSError as exc:
            self.model.message = f"Cannot open the folder chooser: {exc}"
            self._refresh()
            return
        with self._children_lock:
            self._children.add(child)
        try:
            out, err = child.communicate()
        finally:
            with self._children_lock:
                self._children.discard(child)
        if child.returncode == 0:
            try:
                path = json.loads(out)["path"]
            except (ValueError, KeyError, TypeError):
                log.warning("the folder chooser answered %r", out)
                return
            log.info("watching %s", path)
            self.monitor.watch(path)
        elif child.returncode == 2 and not self._quitting.is_set():
            self.model.message = err.strip() or "No folder chooser is available here."
            self._refresh()


def _end_child(child: subprocess.Popen[str]) -> None:
    """End a dialog process and whatever it started (zenity, kdialog, osascript)."""
    if child.poll() is not None:
        return
    if sys.platform == "win32":
        child.terminate()
        return
    try:
        os.killpg(child.pid, signal.SIGTERM)
    except OSError:
        child.terminate()


def self_command() -> list[str]:
    """How to start this same fim-tray again (a frozen build is its own executable)."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    return [sys.executable, "-m", "fim_tray"]


def run_tray(service: Service) -> int:
    app = TrayApp(service)
    app.run()
    return 0


__all__ = ["TrayApp", "TrayUnavailable", "folder_label", "run_tray"]
