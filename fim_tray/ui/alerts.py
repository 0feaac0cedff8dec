"""The Alerts window: the alert channels with the state of each, and Add, Test, Remove.

It runs as a child process of the tray (``fim-tray _alerts``), changes the channel file through
the engine, and writes ``{"action": "changed"}`` on stdout after each change, so the tray takes
it up at once. Tests run on a thread of their own: the window never freezes on a silent server.
The tray keeps one Alerts window: asked for another, it tells this one to come to the front
(``{"raise": true}`` on stdin); the end of stdin is the tray's end, and this window's.
"""

from __future__ import annotations

import queue
import sys
import threading
from typing import Any

from fim_tray import jsonio
from fim_tray.app.alerting import Alerting
from fim_tray.app.service import Service
from fim_tray.display import escape
from fim_tray.errors import FimError
from fim_tray.ui import theme
from fim_tray.ui.alerts_view import channel_line
from fim_tray.ui.wire import listen

TITLE = "fim-tray: alerts"
HELP = (
    "A channel is a URL: syslog+tcp://HOST:PORT, syslog+udp://HOST:PORT, jsonl:///ABS/PATH,\n"
    "mailtos://user:password@smtp.example.org?to=you@example.org, ntfy://ntfy.sh/TOPIC,\n"
    "tgram://BOT_TOKEN/CHAT_ID, twilio://SID:TOKEN@FROM/TO, json://host/path, ..."
)


def _say_changed() -> None:
    sys.stdout.write(jsonio.dumps({"action": "changed"}).decode() + "\n")
    sys.stdout.flush()


class AlertsWindow:
    def __init__(
        self, alerts: Alerting, *, tray: queue.Queue[dict[str, Any] | None] | None = None
    ) -> None:
        import tkinter as tk
        from tkinter import ttk

        self.alerts = alerts
        self.tray = tray
        self.tk = tk
        self.root = tk.Tk()
        self.root.title(TITLE)
        self.root.minsize(760, 320)
        frame = ttk.Frame(self.root, padding=10)
        frame.pack(fill="both", expand=True)
        ttk.Label(frame, text="Channels (passwords and tokens are not shown):").pack(anchor="w")
        self.listbox = tk.Listbox(frame, height=8, activestyle="none")
        self.listbox.pack(fill="both", expand=True, pady=(2, 6))
        row = ttk.Frame(frame)
        row.pack(fill="x")
        self.url = tk.StringVar()
        entry = ttk.Entry(row, textvariable=self.url, show="")
        entry.pack(side="left", fill="x", expand=True)
        entry.bind("<Return>", lambda _event: self.add())
        ttk.Button(row, text="Add", command=self.add).pack(side="left", padx=(6, 0))
        ttk.Label(frame, text=HELP, foreground="#555").pack(anchor="w", pady=(4, 6))
        buttons = ttk.Frame(frame)
        buttons.pack(fill="x")
        ttk.Button(buttons, text="Test", command=self.test_selected).pack(side="left")
        ttk.Button(buttons, text="Test all", command=self.test_all).pack(side="left", padx=6)
        ttk.Button(buttons, text="Remove", command=self.remove).pack(side="left")
        ttk.Button(buttons, text="Close", command=self.root.destroy).pack(side="right")
        self.status = tk.StringVar(value="")
        ttk.Label(frame, textvariable=self.status, wraplength=740).pack(anchor="w", pady=(6, 0))
        self.root.bind("<Escape>", lambda _event: self.root.destroy())
        self._urls: list[str] = []
        self._results: list[str] = []
        self.reload()
        entry.focus_set()
        if tray is not None:
            self.root.after(200, self._hear_the_tray)

    def _hear_the_tray(self) -> None:
        assert self.tray is not None
        while True:
            try:
                message = self.tray.get_nowait()
            except queue.Empty:
                break
            if message is None:  # the tray is gone, and so is this window
                self.root.destroy()
                return
            if message.get("raise"):
                theme.bring_forward(self.root)
        self.root.after(200, self._hear_the_tray)

    def reload(self) -> None:
        try:
            states = self.alerts.states()
        except FimError as exc:
            self.status.set(exc.message)
            states = []
        self.listbox.delete(0, "end")
        self._urls = []
        for state in states:
            self.listbox.insert("end", f"{channel_line(state)}    {escape(state.channel.masked)}")
            self._urls.append(state.channel.url)
        if not states:
            self.listbox.insert("end", "No channels yet: type a URL below and press Add.")

    def _selected(self) -> str | None:
        chosen: tuple[int, ...] = self.listbox.curselection()  # type: ignore[no-untyped-call]
        if not chosen or chosen[0] >= len(self._urls):
            self.status.set("Choose a channel in the list first.")
            return None
        return self._urls[int(chosen[0])]

    def add(self) -> None:
        try:
            channel = self.alerts.add(self.url.get())
        except FimError as exc:
            self.status.set(exc.message)
            return
        self.url.set("")
        self.status.set(f"Added {channel.name}. Test it to see that it arrives.")
        _say_changed()
        self.reload()

    def remove(self) -> None:
        url = self._selected()
        if url is None:
            return
        try:
            channel = self.alerts.remove(url)
        except FimError as exc:
            self.status.set(exc.message)
            return
        self.status.set(f"Removed {channel.name}.")
        _say_changed()
        self.reload()

    def test_selected(self) -> None:
        url = self._selected()
        if url is not None:
            self._test(url)

    def test_all(self) -> None:
        self._test(None)

    def _test(self, url: str | None) -> None:
        self.status.set("Sending a test message...")

        def work() -> None:
            try:
                results = self.alerts.test(url)
                lines = [
                    f"{c.name}: delivered" if why is None else f"{c.name}: NOT delivered: {why}"
                    for c, why in results
                ]  # fmt: skip
                self._results.append("\n".join(lines) or "No channels to test.")
            except FimError as exc:
                self._results.append(exc.message)

        threading.Thread(target=work, name="fim-tray-alert-test", daemon=True).start()
        self.root.after(200, self._poll)

    def _poll(self) -> None:
        if self._results:
            self.status.set(self._results.pop(0))
            return
        self.root.after(200, self._poll)

    def run(self) -> None:
        self.root.mainloop()


def main() -> int:
    """``_alerts``: the window, until it is closed; 2 when it cannot open."""
    alerts = Alerting(Service().paths)
    tray = listen() if not sys.stdin.isatty() else None
    window: Any
    try:
        window = AlertsWindow(alerts, tray=tray)
    except Exception as exc:  # no display, no Tk: say so, plainly
        print(f"cannot open the Alerts window: {exc}", file=sys.stderr)
        return 2
    window.run()
    return 0
