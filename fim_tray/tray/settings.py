"""The tray's side of the Settings window: each request is applied on the monitor thread (the
general settings changed there saved together over what is on disk, then followed at once;
copies turned on or off; a folder watched or no longer), and the window hears how it went."""

from __future__ import annotations

import logging
from collections.abc import Callable

from fim_tray.app.monitor import Monitor
from fim_tray.app.service import Service
from fim_tray.errors import FimError

log = logging.getLogger(__name__)

Told = Callable[[dict[str, object]], None]


class SettingsApplier:
    """``refresh`` redraws the tray's menu; ``pick_folder`` opens the folder chooser and
    watches what is picked; ``unwatch`` stops watching a folder; ``show_alerts`` opens the
    Alerts window (the menu's own actions)."""

    def __init__(
        self,
        service: Service,
        monitor: Monitor,
        *,
        refresh: Callable[[], None],
        pick_folder: Callable[[], None],
        unwatch: Callable[[str], None],
        show_alerts: Callable[[], None] | None = None,
        saved: Callable[[], None] = lambda: None,
    ) -> None:
        self.service = service
        self.saved = saved  # told after settings were written (the daily summary looks again)
        self.monitor = monitor
        self.refresh = refresh
        self.pick_folder = pick_folder
        self.unwatch = unwatch
        self.show_alerts = show_alerts

    def request(self, decision: dict[str, object], told: Told) -> None:
        action, folder = decision.get("action"), decision.get("folder")
        if action == "watch":
            self.pick_folder()
            return
        if action == "alerts":
            if self.show_alerts is not None:
                self.show_alerts()
                told({"folder": {"said": "Opening the Alerts window..."}})
            return
        path = decision.get("path")
        if action == "watch-path" and isinstance(path, str):  # the welcome's folder
            self.monitor.watch(path)
            return
        if action == "unwatch" and isinstance(folder, str):
            self.unwatch(folder)
            told({"folder": {"said": f"Stopping watching {folder}..."}})
            return
        if action == "keep-copies" and isinstance(folder, str):
            on = bool(decision.get("on"))
            self.monitor.call(lambda: self._copies(folder, on, told), folder)
            return
        if action == "notify" and isinstance(folder, str):
            on = bool(decision.get("on"))
            self.monitor.call(lambda: self._notify(folder, on, told), folder)
            return
        changes, loaded = decision.get("settings"), decision.get("loaded")
        if action == "settings" and isinstance(changes, dict):
            was = loaded if isinstance(loaded, dict) else None
            self.monitor.call(lambda: self._settings(changes, was, told))

    def _settings(
        self, changes: dict[str, object], loaded: dict[str, object] | None, told: Told
    ) -> None:
        """Save what the window changed; with what it loaded, never over a field changed
        elsewhere since (the window is told which, and saves again to replace it)."""
        try:
            if loaded is None:
                self.service.update_settings(changes)
                written: list[str] = sorted(changes)
            else:
                saved = self.service.save_settings(changes, loaded)
                if saved.clashes:
                    told({"settings": {"clashes": dict(saved.clashes)}})
                    return
                written = list(saved.written)
        except FimError as exc:
            told({"settings": {"error": exc.message}})
            return
        if written:
            log.info("settings changed: %s", ", ".join(f"{k}={changes[k]}" for k in written))
            self.monitor.settings_changed()
            self.saved()
        told({"settings": {"saved": written}})

    def _notify(self, folder: str, on: bool, told: Told) -> None:
        try:
            self.service.set_notify(folder, on)
        except FimError as exc:
            told({"folder": {"error": exc.message}})
            return
        told({"folder": {"said": f"Notifications {'on' if on else 'off'} for {folder}."}})

    def _copies(self, folder: str, on: bool, told: Told) -> None:
        try:
            self.service.set_keep_copies(folder, on)
        except FimError as exc:
            told({"folder": {"error": exc.message}})
            return
        self.refresh()
        told({"folder": {"said": f"Copies {'on' if on else 'off'} for {folder}."}})
