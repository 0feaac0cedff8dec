"""A minimal org.kde.StatusNotifierWatcher for the test desktop, in pure Python (jeepney).

With it on the bus, libayatana-appindicator exports the tray icon as a StatusNotifierItem with
its menu on com.canonical.dbusmenu, where the tests read and click it as a panel would.
"""

from __future__ import annotations

from typing import Any

from jeepney import DBusAddress, HeaderFields, MessageType, new_error, new_method_return, new_signal
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import open_dbus_connection

PATH = "/StatusNotifierWatcher"
NAME = "org.kde.StatusNotifierWatcher"
IFACE = "org.kde.StatusNotifierWatcher"


def main() -> None:
    conn = open_dbus_connection("SESSION")
    reply = conn.send_and_get_reply(message_bus.RequestName(NAME, 4))  # DO_NOT_QUEUE
    if reply.body[0] != 1:
        raise SystemExit(f"could not own {NAME}: {reply.body}")
    items: list[str] = []
    me = DBusAddress(PATH, interface=IFACE)
    while True:
        msg = conn.receive()
        if msg.header.message_type != MessageType.method_call:
            continue
        fields = msg.header.fields
        member, iface = fields.get(HeaderFields.member), fields.get(HeaderFields.interface)
        sender = fields.get(HeaderFields.sender)
        props: dict[str, tuple[str, Any]] = {
            "RegisteredStatusNotifierItems": ("as", items),
            "IsStatusNotifierHostRegistered": ("b", True),
            "ProtocolVersion": ("i", 0),
        }
        if member == "RegisterStatusNotifierItem":
            service = msg.body[0]
            item = sender + service if service.startswith("/") else service + "/StatusNotifierItem"
            items.append(item)
            conn.send(new_method_return(msg))
            conn.send(new_signal(me, "StatusNotifierItemRegistered", "s", (item,)))
        elif member == "RegisterStatusNotifierHost":
            conn.send(new_method_return(msg))
        elif iface == "org.freedesktop.DBus.Properties" and member == "Get":
            conn.send(new_method_return(msg, "v", (props[msg.body[1]],)))
        elif iface == "org.freedesktop.DBus.Properties" and member == "GetAll":
            conn.send(new_method_return(msg, "a{sv}", (props,)))
        elif member in ("Ping", "GetMachineId"):
            conn.send(new_method_return(msg))
        else:
            conn.send(new_error(msg, "org.freedesktop.DBus.Error.UnknownMethod"))


if __name__ == "__main__":
    main()
