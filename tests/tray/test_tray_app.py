"""The tray's glue without a display: what it does with a notification that could not be shown."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from fim_tray.app.service import Service
from fim_tray.models import Change, Entry, FolderReport
from fim_tray.platform.notify import Clicked
from fim_tray.tray.app import TrayApp
from fim_tray.tray.presenter import Pacer


class Flaky:
    """A notifier whose service answers or not, as the test says."""

    name = "flaky"
    clickable = True

    def __init__(self) -> None:
        self.up = False
        self.sent: list[str] = []

    def send(self, title: str, body: str, on_clicked: Clicked | None = None) -> bool:
        self.sent.append(title)
        return self.up

    def close(self) -> None:
        pass


class NoAutostart:
    def enabled(self) -> bool:
        return False

    def enable(self) -> None:
        pass

    def disable(self) -> None:
        pass


def test_a_notification_not_shown_is_said_until_one_is(service: Service, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    service.watch(str(docs))
    folder = service.folders()[0]
    notifier = Flaky()
    app = TrayApp(service, notifier=notifier, autostart=NoAutostart())
    app.pacer = Pacer(cooldown=0)  # every notification at once, for this test
    when = datetime(2026, 1, 2, tzinfo=timezone.utc)
    entry = Entry("file", 1, 1, 1, 1, 0o644, 0, 0, digest="a")
    first = Change("added", "a.txt", None, entry)
    app._on_report(FolderReport(folder, when, changes=(first,), new=(first,)))
    assert notifier.sent == ["a.txt added in docs"]
    assert "notifications not shown" in app.model.status_line()
    notifier.up = True
    second = Change("added", "b.txt", None, entry)
    app._on_report(FolderReport(folder, when, changes=(first, second), new=(second,)))
    assert "notifications not shown" not in app.model.status_line()


class Switch(NoAutostart):
    """Start at login, turned on or off elsewhere (as the Settings window does)."""

    on = False

    def enabled(self) -> bool:
        return self.on


class Icon:
    """What the tray touches of pystray's icon."""

    def __init__(self) -> None:
        self.menus = 0
        self.icon: object = None
        self.title = ""

    def update_menu(self) -> None:
        self.menus += 1


def test_start_at_login_changed_elsewhere_redraws_the_menu(service: Service) -> None:
    switch = Switch()
    app = TrayApp(service, notifier=Flaky(), autostart=switch)
    icon = app._icon = Icon()
    app._follow_autostart()  # the first look draws what the OS says
    drawn = icon.menus
    app._follow_autostart()
    assert icon.menus == drawn  # nothing changed: nothing redrawn
    switch.on = True  # the Settings window turned it on
    app._follow_autostart()
    assert icon.menus == drawn + 1
