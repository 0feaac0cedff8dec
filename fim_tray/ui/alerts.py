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
from collections.abc import Callable
from typing import Any

from fim_tray import jsonio
from fim_tray.app.alerting import Alerting
from fim_tray.app.service import Service
from fim_tray.display import escape
from fim_tray.errors import FimError
from fim_tray.ui import theme
from fim_tray.ui.alerts_view import channel_line
from fim_tray.ui.wire import hear_the_tray, listen

TITLE = "fim-tray: alerts"
EMPTY = "No channels yet: type a URL below and press Add."
HELP = (
    "A channel is a URL: syslog+tcp://HOST:PORT, syslog+udp://HOST:PORT, jsonl:///ABS/PATH,\n"
    "mailtos://user:password@smtp.example.org?to=you@example.org, ntfy://ntfy.sh/TOPIC,\n"
    "tgram://BOT_TOKEN/CHAT_ID, twilio://SID:TOKEN@FROM/TO, json://host/path, ..."
)


def _call(action: Callable[[], object]) -> Callable[[object], None]:
    def handler(_event: object) -> None:
        action()

    return handler


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
        theme.before_tk()
        self.root = tk.Tk(className="fim-tray")
        self.palette = theme.colors(theme.apply(self.root))
        self.root.title(TITLE)
        window = ttk.Frame(self.root, padding=12)
        window.pack(fill="both", expand=True)
        # The buttons and the status line stay at the bottom; the rest scrolls when the screen
        # is too short for it.
        bottom = ttk.Frame(window)
        bottom.pack(side="bottom", fill="x", pady=(8, 0))
        self.body = theme.Scrolled(window)
        self.body.outer.pack(fill="both", expand=True)
        frame = self.body.inner
        small = self.root.winfo_screenheight() < theme.px(self.root, 800)  # a short screen
        heading = ttk.Label(frame, text="Channels (passwords and tokens are not shown):")
        heading.pack(anchor="w", fill="x")
        theme.wrap(heading)
        listing = ttk.Frame(frame)
        listing.pack(fill="both", expand=True, pady=(2, 8))
        self.listbox = ttk.Treeview(listing, columns=("channel", "state", "url"),
                                    show="headings", height=3 if small else 6,
                                    selectmode="browse")  # fmt: skip
        for name, heading_text, width in (
            ("channel", "Channel", 150), ("state", "State", 240), ("url", "URL", 300),
        ):  # fmt: skip
            self.listbox.heading(name, text=heading_text, anchor="w")
            self.listbox.column(name, width=theme.px(self.root, width), anchor="w",
                                minwidth=theme.px(self.root, 60))  # fmt: skip
        bar = ttk.Scrollbar(listing, orient="vertical", command=self.listbox.yview)
        self.listbox.configure(yscrollcommand=bar.set)
        bar.pack(side="right", fill="y")
        self.listbox.pack(side="left", fill="both", expand=True)
        # An empty list says what to do in a line of its own across it (a row would cut it
        # into the columns).
        self.empty = ttk.Label(self.listbox, text=EMPTY, foreground=self.palette["quiet"])
        field = ttk.Style(self.root).lookup("Treeview", "background")
        if field:
            self.empty.configure(background=field)
        theme.wrap(self.empty)
        adding = ttk.Frame(frame)
        adding.pack(fill="x")
        self.url = tk.StringVar()
        entry = ttk.Entry(adding, textvariable=self.url, font="TkFixedFont")
        entry.pack(side="left", fill="x", expand=True)
        entry.bind("<Return>", lambda _event: self.add())
        ttk.Button(adding, text="Add", underline=0, command=self.add).pack(side="left",
                                                                          padx=(6, 0))  # fmt: skip
        helping = ttk.Label(frame, text=HELP, foreground=self.palette["quiet"])
        helping.pack(fill="x", pady=(4, 0))
        theme.wrap(helping)
        buttons = ttk.Frame(bottom)
        buttons.pack(fill="x")
        theme.flow(buttons, [
            ttk.Button(buttons, text="Test", underline=0, command=self.test_selected),
            ttk.Button(buttons, text="Test all", command=self.test_all),
            ttk.Button(buttons, text="Remove", underline=0, command=self.remove),
        ], [ttk.Button(buttons, text="Close", underline=0, command=self.root.destroy)])  # fmt: skip
        self.status = tk.StringVar(value="")
        said = ttk.Label(bottom, textvariable=self.status)
        said.pack(fill="x", pady=(6, 0))
        theme.wrap(said)
        keys: dict[str, Callable[[], object]] = {
            "a": self.add, "t": self.test_selected, "r": self.remove, "c": self.root.destroy,
        }  # fmt: skip
        for key, action in keys.items():
            self.root.bind(f"<Alt-{key}>", _call(action))
        self.root.bind("<Escape>", lambda _event: self.root.destroy())
        self._urls: list[str] = []
        self._results: list[str] = []
        self.reload()
        self.body.request()
        theme.fit(self.root, 760, 380, min_width=480, min_height=300)
        entry.focus_set()
        if tray is not None:
            hear_the_tray(self.root, tray)

    def reload(self) -> None:
        from tkinter import ttk

        try:
            states = self.alerts.states()
        except FimError as exc:
            self.status.set(exc.message)
            states = []
        chosen = self.listbox.selection()
        self.listbox.delete(*self.listbox.get_children())
        self._urls = []
        rows = []
        for index, state in enumerate(states):
            name, _, fares = channel_line(state).partition(": ")
            rows.append((name, fares))
            self.listbox.insert("", "end", iid=str(index),
                                values=(name, fares, escape(state.channel.masked)))  # fmt: skip
            self._urls.append(state.channel.url)
        # The channel and how it fares in full; the URL takes what is left.
        theme.fit_column(self.listbox, "channel", [n for n, _ in rows], least=100, cap=260)
        theme.fit_column(self.listbox, "state", [f for _, f in rows], least=160, cap=520)
        if states:
            self.empty.place_forget()
        else:
            row = int(ttk.Style(self.root).lookup("Treeview", "rowheight") or 20)
            heading = row + row // 2  # below the headings, where the first row would be
            self.empty.place(x=theme.px(self.root, 8), y=heading, relwidth=1.0,
                             width=-theme.px(self.root, 16))  # fmt: skip
        kept = [iid for iid in chosen if self.listbox.exists(iid)]
        if kept:
            self.listbox.selection_set(kept)

    def _selected(self) -> str | None:
        chosen = self.listbox.selection()
        if not chosen or not chosen[0].isdigit() or int(chosen[0]) >= len(self._urls):
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
    service = Service()
    alerts = Alerting(service.paths, history=service.store.history)
    tray = listen() if not sys.stdin.isatty() else None
    window: Any
    try:
        window = AlertsWindow(alerts, tray=tray)
    except Exception as exc:  # no display, no Tk: say so, plainly
        print(f"cannot open the Alerts window: {exc}", file=sys.stderr)
        return 2
    window.run()
    return 0
