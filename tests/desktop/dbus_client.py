"""What a panel and a person do over D-Bus: read and click the tray menu, see notifications."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from jeepney import DBusAddress, HeaderFields, MessageType, Properties, new_method_call
from jeepney.io.blocking import DBusConnection, open_dbus_connection

from tests.desktop.harness import wait_for

BUS = DBusAddress("/org/freedesktop/DBus", bus_name="org.freedesktop.DBus",
                  interface="org.freedesktop.DBus")  # fmt: skip
WATCHER = DBusAddress("/StatusNotifierWatcher", bus_name="org.kde.StatusNotifierWatcher",
                      interface="org.kde.StatusNotifierWatcher")  # fmt: skip


@dataclass(frozen=True)
class MenuEntry:
    id: int
    label: str
    depth: int
    enabled: bool
    props: dict[str, Any]


class TrayMenu:
    """The dbusmenu of the StatusNotifierItem that process ``pid`` registered."""

    def __init__(self, address: str, pid: int, timeout: float = 20) -> None:
        self.conn: DBusConnection = open_dbus_connection(address)
        self.pid = pid
        item = wait_for(self._find_item, timeout, f"a tray icon from process {pid}")
        bus, path = str(item).split("/", 1)
        sni = DBusAddress("/" + path, bus_name=bus, interface="org.kde.StatusNotifierItem")
        self.sni = sni
        menu_path = self.conn.send_and_get_reply(Properties(sni).get("Menu")).body[0][1]
        self.menu = DBusAddress(menu_path, bus_name=bus, interface="com.canonical.dbusmenu")

    def _find_item(self) -> str | None:
        reply = self.conn.send_and_get_reply(
            Properties(WATCHER).get("RegisteredStatusNotifierItems")
        )
        for item in reversed(reply.body[0][1]):
            bus = item.split("/", 1)[0]
            owner = self.conn.send_and_get_reply(
                new_method_call(BUS, "GetConnectionUnixProcessID", "s", (bus,))
            )
            if owner.header.message_type == MessageType.method_return and owner.body[0] == self.pid:
                return str(item)
        return None

    def entries(self) -> list[MenuEntry]:
        reply = self.conn.send_and_get_reply(
            new_method_call(self.menu, "GetLayout", "iias", (0, -1, []))
        )
        out: list[MenuEntry] = []

        def walk(node: tuple[int, dict[str, tuple[str, Any]], list[Any]], depth: int) -> None:
            ident, props, children = node
            values = {k: v[1] for k, v in props.items()}
            if ident != 0 and values.get("type") != "separator":
                label = str(values.get("label", "")).replace("_", "")
                out.append(
                    MenuEntry(ident, label, depth, bool(values.get("enabled", True)), values)
                )
            for child in children:
                walk(child[1], depth + 1)

        walk(reply.body[1], 0)
        return out

    def labels(self) -> list[str]:
        return [entry.label for entry in self.entries()]

    def find(self, label: str, under: str | None = None) -> MenuEntry | None:
        """The entry with ``label`` (the first one below the entry labelled ``under``)."""
        entries = self.entries()
        start = 0
        if under is not None:
            start = next((i for i, e in enumerate(entries) if e.label == under), len(entries))
        return next((e for e in entries[start:] if e.label == label), None)

    def toggled(self, label: str) -> int | None:
        """The check box state of ``label`` (1 ticked, 0 not), None when there is no such item."""
        entry = self.find(label)
        return None if entry is None else int(entry.props.get("toggle-state", -1))

    def click(self, label: str, under: str | None = None, timeout: float = 10) -> None:
        entry = wait_for(lambda: self.find(label, under), timeout, f"menu item {label!r}")
        assert isinstance(entry, MenuEntry)
        if under is not None:  # a panel opens the submenu before its items can be clicked
            parent = self.find(under)
            if parent is not None:
                self.conn.send_and_get_reply(
                    new_method_call(self.menu, "AboutToShow", "i", (parent.id,))
                )
        self.conn.send_and_get_reply(
            new_method_call(
                self.menu, "Event", "isvu", (entry.id, "clicked", ("i", 0), int(time.time()))
            )
        )

    def status(self) -> str:
        """The first menu line: the tray's status."""
        entries = self.entries()
        return entries[0].label if entries else ""

    def close(self) -> None:
        self.conn.close()


@dataclass(frozen=True)
class Sent:
    summary: str
    body: str
    actions: tuple[str, ...]
    app_name: str


class NotificationSpy:
    """Every Notify call on the bus, as the daemon receives it (a D-Bus monitor connection)."""

    def __init__(self, address: str) -> None:
        self.sent: list[Sent] = []
        self._conn = open_dbus_connection(address)
        rule = "type='method_call',interface='org.freedesktop.Notifications',member='Notify'"
        monitoring = DBusAddress("/org/freedesktop/DBus", bus_name="org.freedesktop.DBus",
                                 interface="org.freedesktop.DBus.Monitoring")  # fmt: skip
        self._conn.send_and_get_reply(
            new_method_call(monitoring, "BecomeMonitor", "asu", ([rule], 0))
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="notification-spy", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                msg = self._conn.receive(timeout=0.2)
            except TimeoutError:
                continue
            except OSError:
                return
            if msg.header.fields.get(HeaderFields.member) == "Notify":
                app, _replaces, _icon, summary, body, actions, _hints, _timeout = msg.body
                self.sent.append(Sent(summary, body, tuple(actions), app))

    def wait(self, count: int = 1, timeout: float = 15) -> list[Sent]:
        wait_for(lambda: len(self.sent) >= count, timeout, f"{count} notification(s)")
        return list(self.sent)

    def clear(self) -> None:
        self.sent.clear()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self._conn.close()
