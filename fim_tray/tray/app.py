"""The tray icon's glue: pystray menu and callbacks around the TrayModel and the Monitor thread.

pystray owns the main thread. Menu callbacks only enqueue requests for the monitor thread or
start dialogs as child processes, so nothing here blocks the tray's loop.
"""

from __future__ import annotations

import io
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from fim_tray import APP_NAME
from fim_tray.alerts.state import ChannelState
from fim_tray.app.alerting import Alerting
from fim_tray.app.monitor import Accepting, HistoryState, Monitor, MonitorEvent, Watched
from fim_tray.app.service import Service
from fim_tray.errors import FimError
from fim_tray.models import Change, ChangeKey, FolderReport, Writer
from fim_tray.platform.autostart import Autostart, autostart_for_platform
from fim_tray.platform.notify import Notifier, choose_notifier
from fim_tray.platform.opener import open_folder
from fim_tray.tray.dialogs import Dialogs
from fim_tray.tray.icons import icon as draw_icon
from fim_tray.tray.ignoring import Ignorer
from fim_tray.tray.presenter import Notice, Pacer, TrayModel
from fim_tray.tray.settings import SettingsApplier
from fim_tray.tray.summary import DailySummary
from fim_tray.ui.alerts_view import channel_line
from fim_tray.ui.alerts_view import summary as alerts_summary

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

    def __init__(
        self,
        service: Service,
        notifier: Notifier | None = None,
        autostart: Autostart | None = None,
    ) -> None:
        self.service = service
        self.model = TrayModel()
        self.notifier = notifier
        self.autostart = autostart or autostart_for_platform()
        self.monitor = Monitor(
            service, self._on_report, on_event=self._on_event, events=True, background=True
        )
        # A restore in the details window changes the folder, not the baseline: check it again.
        self.ignorer = Ignorer(service, self.monitor)  # "Ignore..." in a window
        self.dialogs = Dialogs(
            on_problem=self._problem,
            on_restored=self.monitor.check_now,
            on_ignore=self.ignorer.request,
            on_settings=self._settings_request,
        )
        self.summary = DailySummary(self._send_summary, self._summary_time, service.clock,
                                    keep=service.paths.summary_file)  # fmt: skip
        self.settings = SettingsApplier(
            service, self.monitor, refresh=lambda: self._refresh(menu=True),
            pick_folder=lambda: self.dialogs.pick_folder(self.monitor.watch), unwatch=self.unwatch,
            show_alerts=self.show_alerts, saved=self.summary.poke,
        )  # fmt: skip
        # Alerts beyond the desktop (email, syslog, ...): queued on the monitor's thread, sent
        # by threads of their own; the menu shows how each channel fares.
        self.alerts = Alerting(
            service.paths, history=service.store.history,
            on_change=self._alerts_fare,
        )  # fmt: skip
        self._dropped_told = 0
        self._pystray: ModuleType | None = None
        self._icon: Any = None
        self._quitting = threading.Event()
        self._shown: tuple[object, ...] = (None, None, None)  # state, tooltip, menu key on screen
        self._shown_lock = threading.Lock()
        self.pacer = Pacer()
        self._login_shown: bool | None = None  # "Start at login" as last drawn in the menu

    # -- start and stop ------------------------------------------------------------------------

    def run(self) -> None:
        """Show the icon and block until Quit."""
        pystray = self._pystray = load_pystray()
        if self.notifier is None:
            self.notifier = choose_notifier(APP_NAME, self._icon_file())
        if not self.notifier.clickable:
            self.model.degraded.append(f"notifications: {self.notifier.name}, not clickable")
        self._load_state()
        self._shown = (self.model.state(), self.model.tooltip(), self.model.menu_key())
        self._icon = pystray.Icon(
            APP_NAME, draw_icon(self.model.state()), self.model.tooltip(), self._menu(pystray)
        )
        log.info("tray backend %s, notifier %s", type(self._icon).__module__, self.notifier.name)
        self._icon.run(setup=self._setup)

    def _setup(self, icon: Any) -> None:
        icon.visible = True
        first_run = not self.service.paths.config_file.exists()
        self.monitor.start()
        threading.Thread(target=self._send_waiting, name="fim-tray-pacer", daemon=True).start()
        self.summary.start()
        self.alerts.start()
        if first_run and not self.model.folders:  # no settings yet: a short welcome
            self.dialogs.welcome()

    def quit(self) -> None:
        """Close the dialogs and stop the monitor (cancelling a scan); the waiting for it
        happens on a thread of its own, so the menu's loop never blocks."""
        self._quitting.set()
        self.dialogs.close()
        self.monitor.stop.set()
        self.summary.close()
        threading.Thread(target=self._finish, name="fim-tray-quit", daemon=True).start()

    def _finish(self) -> None:
        self.monitor.join(timeout=10)
        self.alerts.close()  # what was not sent waits in the outbox for the next start
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
        """The notifications' icon as a file, which daemons want: the orange "changes to review"
        shield, since every notification is about a change."""

        def png() -> bytes:
            out = io.BytesIO()
            draw_icon("pending", 128).save(out, format="PNG")
            return out.getvalue()

        try:
            return self.service.store.icon_file("fim-tray-changes.png", png)
        except FimError as exc:
            log.warning("no icon for notifications: %s", exc.message)
            return None

    # -- from the monitor thread ---------------------------------------------------------------

    def _on_report(self, report: FolderReport) -> None:
        notice = self.model.apply_report(report)
        self._refresh()
        if report.error is None and report.pending in (None, len(report.changes)):
            # the whole pending list: open windows mark what was accepted or changed elsewhere
            keys = frozenset(c.key() for c in report.changes)
            self.dialogs.tell_pending(report.folder.path, keys)
        quiet = not report.folder.notify  # notifications off for it: the icon and menu still say
        if notice is not None and self.notifier is not None and not self._quitting.is_set():
            if quiet or self.summary.held(notice.folder, notice.changes):
                return  # notifications off for it, or one summary a day (never a problem)
            paced = self.pacer.pace(notice) if notice.changes else notice
            if paced is not None:  # else it waits, gathered with what follows (see Pacer)
                self._send(paced)
        # What is announced goes further too, at once (alerts have their own grouping and
        # hourly limit), after the notification and never waiting for a server.
        announced = notice.changes if notice is not None else ()
        self.alerts.on_report(report._replace(new=tuple(announced)))

    def _on_event(self, event: MonitorEvent) -> None:
        notice = self.model.apply_event(event)
        if isinstance(event, Watched):
            self.model.set_folders([f.path for f in self.service.folders()])
        self._refresh()
        if notice is not None and self.notifier is not None and not self._quitting.is_set():
            self._shown_ok(self.notifier.send(notice.title, notice.body))  # a folder lost
        if isinstance(event, HistoryState) and event.problem is not None:
            self._tell(
                "fim-tray: the history was altered",
                f"{event.problem}. Changes are still being detected; the History window "
                "marks the lines that do not verify.",
            )

    def _send(self, notice: Notice) -> None:
        if self.notifier is None or self._quitting.is_set():
            return
        clicked = (
            _run(self.show_details, notice.folder, notice.changes, notice.time, notice.hints)
            if notice.changes
            else None  # a folder's problem: its text is in the folder's submenu
        )
        self._shown_ok(self.notifier.send(notice.title, notice.body, on_clicked=clicked))

    def _send_waiting(self) -> None:
        """Every second, on a thread of its own: notifications that waited out their folder's
        cool-down go out, one per folder."""
        while not self._quitting.wait(1.0):
            for notice in self.pacer.due():
                self._send(notice)
            self._follow_autostart()

    def _follow_autostart(self) -> None:
        """The menu's "Start at login" reads the OS when drawn: turned on or off elsewhere (the
        Settings window, the desktop's own settings), the menu is drawn again."""
        on = self._autostart_on()
        if on != self._login_shown:
            self._login_shown = on
            self._refresh(menu=True)

    def _tell(self, title: str, body: str) -> None:
        if self.notifier is not None and not self._quitting.is_set():
            self._shown_ok(self.notifier.send(title, body, on_clicked=_run(self.show_history)))

    def _shown_ok(self, shown: bool) -> None:
        """A notification that could not be shown is said in the status line until one is."""
        problem = None if shown else "notifications not shown: no notification service answered"
        if problem != self.model.notify_problem:
            self.model.notify_problem = problem
            self._refresh()

    def _problem(self, message: str) -> None:
        self.model.message = message
        self._refresh()

    def _refresh(self, *, menu: bool = False) -> None:
        """Show the model's state: the icon, tooltip and menu are touched only when they change."""
        icon = self._icon
        if icon is None:
            return
        with self._shown_lock:
            state, tooltip, key = self.model.state(), self.model.tooltip(), self.model.menu_key()
            if state != self._shown[0]:
                icon.icon = draw_icon(state)
            if tooltip != self._shown[1]:
                icon.title = tooltip
            if menu or key != self._shown[2]:
                icon.update_menu()
            self._shown = (state, tooltip, key)

    # -- the menu ------------------------------------------------------------------------------

    def _menu(self, pystray: ModuleType) -> Any:
        item, menu = pystray.MenuItem, pystray.Menu
        return menu(
            item(lambda _: self.model.status_line(), None, enabled=False),
            menu.SEPARATOR,
            item("Watch a folder...", _run(self.dialogs.pick_folder, self.monitor.watch)),
            item("Watched folders", menu(self._folder_items)),
            item("Recent changes", menu(self._recent_items)),
            item("Check all now", _run(self.monitor.check_now)),
            item(
                "Accept all changes",
                _run(self.monitor.accept),
                enabled=lambda _: self.model.pending > 0,
            ),
            item("History...", _run(self.show_history)),
            item(lambda _: alerts_summary(self._alert_states()), menu(self._alert_items)),
            item("Settings...", _run(self.dialogs.settings)),
            item(lambda _: "Resume" if self.model.paused else "Pause", _run(self.toggle_pause)),
            menu.SEPARATOR,
            item("Start at login", _run(self.toggle_autostart), checked=self._autostart_on),
            item("Quit", _run(self.quit)),
        )

    def _folder_items(self) -> Iterator[Any]:
        assert self._pystray is not None
        item, menu = self._pystray.MenuItem, self._pystray.Menu
        paths = list(self.model.folders)
        if not paths:
            yield item("No folders yet", None, enabled=False)
        for path in paths:
            problem = [item(line, None, enabled=False) for line in self.model.folder_problem(path)]
            yield item(
                self.model.folder_line(path),
                menu(
                    *problem,
                    *([menu.SEPARATOR] if problem else []),
                    item("Check now", _run(self.monitor.check_now, path)),
                    item("Open folder", _run(open_folder, path)),
                    item(
                        "Keep copies to allow restore",
                        _run(self.toggle_copies, path),
                        checked=lambda _item, p=path: self._keeps_copies(p),
                    ),
                    item("Stop watching", _run(self.unwatch, path)),
                ),
            )

    def _recent_items(self) -> Iterator[Any]:
        assert self._pystray is not None
        item = self._pystray.MenuItem
        recent = self.model.recent_items()
        if not recent:
            yield item("No changes yet", None, enabled=False)
        for entry in recent:  # the same details a click on the notification opens
            batch = entry.batch or (entry.change,)
            yield item(entry.label, _run(self.show_details, entry.folder, batch, entry.time))

    def _alert_states(self) -> list[ChannelState]:
        try:
            return self.alerts.states()
        except Exception:  # a damaged channel file: the Alerts window says why
            log.debug("cannot read the alert channels", exc_info=True)
            return []

    def _alert_items(self) -> Iterator[Any]:
        assert self._pystray is not None
        item, menu = self._pystray.MenuItem, self._pystray.Menu
        for state in self._alert_states():
            yield item(channel_line(state), None, enabled=False)
        yield menu.SEPARATOR
        yield item("Alerts...", _run(self.show_alerts))

    # -- actions -------------------------------------------------------------------------------

    def show_alerts(self) -> None:
        self.dialogs.alerts(self._alerts_changed)

    def _alerts_fare(self) -> None:
        """A channel's state changed: the menu says so; a full outbox is also told once."""
        self._refresh(menu=True)
        dropped = sum(state.dropped for state in self._alert_states())
        if dropped > self._dropped_told == 0:
            self._tell("fim-tray: alerts are being dropped",
                       f"{dropped} alert(s) could not be kept: a channel's outbox is full "
                       "because its server has not taken anything for long. The Alerts "
                       "menu says which.")  # fmt: skip
        self._dropped_told = dropped

    def _alerts_changed(self) -> None:
        self.alerts.refresh()  # a sender for each channel added, none for one removed
        self._refresh(menu=True)

    def show_details(
        self,
        folder: str,
        changes: Sequence[Change],
        when: datetime,
        hints: Mapping[str, Writer] | None = None,
    ) -> None:
        self.dialogs.details(folder, changes, when, self._accept, hints)

    def _summary_time(self) -> str:
        try:
            return self.service.config().notify_summary
        except FimError:
            return ""

    def _send_summary(self, title: str, body: str) -> None:
        if self.notifier is not None and not self._quitting.is_set():
            self._shown_ok(self.notifier.send(title, body, on_clicked=_run(self.show_history)))

    def _settings_request(self, decision: dict[str, object], told: Callable[..., None]) -> None:
        self.settings.request(decision, told)

    def show_history(self) -> None:
        log.debug("History... chosen")
        self.dialogs.history(self._accept)

    def _accept(self, folder: str, keys: frozenset[ChangeKey], done: Accepting) -> None:
        self.monitor.accept(folder, keys, done)

    def toggle_pause(self) -> None:
        if self.model.paused:
            self.monitor.resume()
        else:
            self.monitor.pause()

    def _autostart_on(self, _item: object = None) -> bool:
        try:
            return self.autostart.enabled()
        except OSError:
            return False

    def toggle_autostart(self) -> None:
        try:
            if self.autostart.enabled():
                self.autostart.disable()
            else:
                self.autostart.enable()
        except (OSError, FimError) as exc:
            log.warning("cannot change start at login: %s", exc)
            self.model.message = f"Could not change start at login: {exc}"
        self._login_shown = self._autostart_on()
        self._refresh(menu=True)  # the check box reads the OS: redraw it

    def _keeps_copies(self, path: str) -> bool:
        try:
            folder = self.service.config().find(path)
        except FimError:
            return False
        return folder is not None and folder.keep_copies

    def toggle_copies(self, path: str) -> None:
        """Copies on (the folder's files are copied now) or off, on the monitor thread."""
        on = not self._keeps_copies(path)

        def task() -> None:
            self.service.set_keep_copies(path, on)
            self._refresh(menu=True)

        self.monitor.call(task, path)

    def unwatch(self, path: str) -> None:
        """Stop watching, on the monitor thread so no scan of it is under way meanwhile (one
        that is, even a first baseline, is interrupted at once)."""

        def task() -> None:
            if self.service.config().find(path) is not None:  # a first baseline never finished
                self.service.unwatch(path)
            self.model.set_folders([f.path for f in self.service.folders()])
            self._refresh()

        self.monitor.interrupt(path)
        self.monitor.call(task, path)


def run_tray(service: Service) -> int:
    """Start the tray unless one is running already (exit status 1 then)."""
    instance = service.store.instance_lock()
    if not instance.acquire():
        message = f"fim-tray is already running{instance.holder()}; its icon is in the tray."
        print(f"fim-tray: {message}", file=sys.stderr)
        notifier = choose_notifier(APP_NAME)
        notifier.send("fim-tray is already running", message)
        notifier.close()
        return 1
    try:
        TrayApp(service).run()
    finally:
        instance.release()
    return 0
