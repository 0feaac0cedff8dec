"""The Settings window (a child process of the tray, like the details window): the check
interval, the speed cap, pause on battery and start at login; the watched folders with, for
each, keeping copies and its ignore patterns.

General settings are checked here field by field (a message beside a wrong one, nothing
saved) and sent to the tray, which saves them all together and applies them at once; folder
changes go to the tray too (``{"action": "keep-copies" | "ignore" | "unignore" | "watch" |
"unwatch", ...}``). The window reads the settings again every few seconds, so it shows what
the tray did."""

from __future__ import annotations

import queue
import sys
from typing import Any

from fim_tray.app.service import Service
from fim_tray.app.settings import parse
from fim_tray.errors import FimError
from fim_tray.platform.autostart import Autostart, autostart_for_platform
from fim_tray.store.config import Config
from fim_tray.ui import theme
from fim_tray.ui.details import on_key
from fim_tray.ui.wire import listen, send

REFRESH_MS = 1500


def _focus(widget: Any) -> Any:
    def handler(_event: object) -> None:
        widget.focus_set()

    return handler


class SettingsWindow:
    def __init__(
        self,
        service: Service,
        *,
        tray: queue.Queue[dict[str, Any] | None] | None = None,
        autostart: Autostart | None = None,
    ) -> None:
        import tkinter as tk
        from tkinter import ttk

        self.service = service
        self.tray = tray
        self.autostart = autostart or autostart_for_platform()
        self.notes: dict[str, str] = {}  # pattern sent -> how what was typed was taken
        theme.before_tk()
        self.root = tk.Tk(className="fim-tray")
        self.palette = theme.colors(theme.apply(self.root))
        self.root.title("fim-tray: Settings")
        self.config = service.config()
        frame = ttk.Frame(self.root, padding=12)
        frame.pack(fill="both", expand=True)
        tabs = ttk.Notebook(frame)
        tabs.pack(fill="both", expand=True)
        general = ttk.Frame(tabs, padding=12)
        folders = ttk.Frame(tabs, padding=12)
        tabs.add(general, text="General", underline=0)
        tabs.add(folders, text="Watched folders", underline=0)
        self.root.bind("<Alt-g>", lambda _e: tabs.select(general))  # type: ignore[no-untyped-call]
        self.root.bind("<Alt-w>", lambda _e: tabs.select(folders))  # type: ignore[no-untyped-call]

        # -- general --
        self.fields: dict[str, tk.StringVar] = {}
        self.errors: dict[str, Any] = {}
        rows = (
            ("interval", "Check every", 6, "seconds (file events are seen at once anyway)",
             f"{self.config.interval:g}"),
            ("full_check_hours", "Re-hash every", 0, "hours: every file read and hashed again",
             f"{self.config.full_check_hours:g}"),
            ("max_mb_per_s", "Speed cap", 1, "MB/s while checking in the background (0: none)",
             f"{self.config.max_mb_per_s:g}"),
        )  # fmt: skip
        for row, (key, label, underline, unit, now) in enumerate(rows):
            caption = ttk.Label(general, text=label, underline=underline)
            caption.grid(row=row * 2, column=0, sticky="w", pady=(6, 0))
            var = tk.StringVar(self.root, now)
            entry = ttk.Entry(general, textvariable=var, width=10, name=key)
            entry.grid(row=row * 2, column=1, sticky="w", padx=8, pady=(6, 0))
            ttk.Label(general, text=unit, foreground=self.palette["quiet"]).grid(
                row=row * 2, column=2, sticky="w", pady=(6, 0)
            )
            error = ttk.Label(general, text="", foreground=self.palette["bad"])
            error.grid(row=row * 2 + 1, column=1, columnspan=2, sticky="w", padx=8)
            self.fields[key], self.errors[key] = var, error
            self.root.bind(f"<Alt-{label[underline].lower()}>", _focus(entry))
            if key == "interval":
                self.root.after(200, entry.focus_set)
            entry.bind("<Return>", lambda _e: self.save())
        self.battery = tk.BooleanVar(self.root, self.config.pause_on_battery)
        ttk.Checkbutton(general, text="Pause background checks on battery", underline=6,
                        variable=self.battery).grid(row=6, column=0, columnspan=3, sticky="w",
                                                    pady=(10, 0))  # fmt: skip
        self.login = tk.BooleanVar(self.root, self._autostart_on())
        ttk.Checkbutton(general, text="Start at login", variable=self.login,
                        command=self.toggle_login).grid(row=7, column=0, columnspan=3,
                                                        sticky="w", pady=(6, 0))  # fmt: skip
        self.root.bind("<Alt-b>", lambda _e: self.battery.set(not self.battery.get()))
        # How to notify: at once, or one summary a day at a chosen time.
        self.daily = tk.BooleanVar(self.root, bool(self.config.notify_summary))
        line = ttk.Frame(general)  # its own row: the fields above keep their columns
        line.grid(row=9, column=0, columnspan=3, sticky="w", pady=(10, 0))
        daily = ttk.Checkbutton(line, text="One summary a day instead of a notification "
                                "per change, at", underline=4, variable=self.daily)  # fmt: skip
        daily.pack(side="left")
        self.summary_at = tk.StringVar(self.root, self.config.notify_summary or "18:00")
        ttk.Entry(line, textvariable=self.summary_at, width=6).pack(side="left", padx=(6, 0))
        self.errors["notify_summary"] = ttk.Label(general, text="",
                                                  foreground=self.palette["bad"])  # fmt: skip
        self.errors["notify_summary"].grid(row=10, column=0, columnspan=3, sticky="w")
        self.root.bind("<Alt-u>", lambda _e: daily.invoke())
        save = ttk.Button(general, text="Save", underline=0, style="Accent.TButton",
                          command=self.save)  # fmt: skip
        save.grid(row=11, column=0, sticky="w", pady=(14, 0))
        self.root.bind("<Alt-s>", on_key(self.save))

        # -- folders --
        self.folder_list = ttk.Treeview(folders, columns=("path", "notify", "copies", "ignores"),
                                        show="headings", height=5, selectmode="browse")  # fmt: skip
        for name, label, width in (
            ("path", "Folder", 340), ("notify", "Notifications", 110), ("copies", "Copies", 70),
            ("ignores", "Ignores", 160),
        ):  # fmt: skip
            self.folder_list.heading(name, text=label)
            self.folder_list.column(name, width=width, stretch=name == "path")
        self.folder_list.grid(row=0, column=0, columnspan=3, sticky="nsew")
        self.folder_list.bind("<<TreeviewSelect>>", lambda _e: self.show_folder())
        buttons = ttk.Frame(folders)
        buttons.grid(row=1, column=0, columnspan=3, sticky="w", pady=(6, 8))
        ttk.Button(buttons, text="Watch a folder...", command=lambda: self._tell("watch")).pack(
            side="left"
        )
        self.stop_button = ttk.Button(buttons, text="Stop watching", command=self.unwatch)
        self.stop_button.pack(side="left", padx=(6, 0))
        self.copies = tk.BooleanVar(self.root, False)
        self.copies_box = ttk.Checkbutton(folders, text="Keep copies to allow diff and restore",
                                          underline=0, variable=self.copies,
                                          command=self.toggle_copies)  # fmt: skip
        self.copies_box.grid(row=2, column=0, columnspan=3, sticky="w")
        self.notify = tk.BooleanVar(self.root, True)
        self.notify_box = ttk.Checkbutton(
            folders, text="Notify me of its changes", underline=0, variable=self.notify,
            command=self.toggle_notify,
        )  # fmt: skip
        self.notify_box.grid(row=2, column=2, sticky="w")
        self.root.bind("<Alt-n>", lambda _e: self.notify_box.invoke())
        self.root.bind("<Alt-k>", lambda _e: self.copies_box.invoke())
        hint = "Ignore patterns (*.log: any depth; /logs/app.log: one path; cache/: a folder)"
        ttk.Label(folders, underline=0, text=hint).grid(row=3, column=0, columnspan=3,
                                                        sticky="w", pady=(10, 2))  # fmt: skip
        self.patterns = tk.Listbox(folders, height=5, font=("TkFixedFont",))
        self.patterns.grid(row=4, column=0, columnspan=3, sticky="nsew")
        self.pattern = tk.StringVar(self.root, "")
        self.pattern_entry = ttk.Entry(folders, textvariable=self.pattern, width=30)
        self.pattern_entry.grid(row=5, column=0, sticky="w", pady=(6, 0))
        self.pattern_entry.bind("<Return>", lambda _e: self.add_pattern())
        self.root.bind("<Alt-i>", lambda _e: self.pattern_entry.focus_set())
        ttk.Button(folders, text="Add pattern", command=self.add_pattern).grid(
            row=5, column=1, sticky="w", padx=6, pady=(6, 0)
        )
        ttk.Button(folders, text="Remove pattern", command=self.remove_pattern).grid(
            row=5, column=2, sticky="w", pady=(6, 0)
        )
        folders.columnconfigure(0, weight=1)
        folders.rowconfigure(0, weight=1)

        bottom = ttk.Frame(frame)
        bottom.pack(fill="x", side="bottom", pady=(8, 0), before=tabs)
        self.status = ttk.Label(bottom, text="", wraplength=640)
        self.status.pack(side="left", fill="x", expand=True)
        ttk.Button(bottom, text="Close", underline=0, command=self.root.destroy).pack(side="right")
        self.root.bind("<Alt-c>", lambda _e: self.root.destroy())
        self.root.bind("<Escape>", lambda _e: self.root.destroy())
        self.show_folders()
        theme.fit(self.root, 720, 480, min_width=560, min_height=400)
        self.root.after(REFRESH_MS, self._refresh)
        if tray is not None:
            self.root.after(100, self._hear_the_tray)

    # -- general ---------------------------------------------------------------------------------

    def save(self) -> None:
        """Check every field; only when all are right, ask the tray to save them together."""
        typed: dict[str, str | bool] = {k: v.get() for k, v in self.fields.items()}
        typed["pause_on_battery"] = self.battery.get()
        typed["notify_summary"] = self.summary_at.get() if self.daily.get() else ""
        values, errors = parse(typed)
        for key, label in self.errors.items():
            label.configure(text=errors.get(key, ""))
        if errors:
            self._say("Not saved: " + "; ".join(f"{k}: {m}" for k, m in errors.items()), "bad")
            return
        send({"action": "settings", "settings": values})
        self._say("Saving...", "quiet")
        if self.tray is None:  # no tray to apply them: save here
            try:
                self.service.update_settings(values)
            except FimError as exc:
                self._say(f"Not saved: {exc.message}", "bad")
                return
            self._say("Saved.", "good")

    def _autostart_on(self) -> bool:
        try:
            return self.autostart.enabled()
        except OSError:
            return False

    def toggle_login(self) -> None:
        try:
            if self.login.get():
                self.autostart.enable()
            else:
                self.autostart.disable()
        except (OSError, FimError) as exc:
            self._say(f"Could not change start at login: {exc}", "bad")
        self.login.set(self._autostart_on())
        self._say("Starts at login." if self.login.get() else "Does not start at login.", "good")

    # -- folders ---------------------------------------------------------------------------------

    def chosen(self) -> str | None:
        chosen = self.folder_list.selection()
        return chosen[0] if chosen else None

    def show_folders(self) -> None:
        before = self.chosen()
        self.folder_list.delete(*self.folder_list.get_children())
        for folder in self.config.folders:
            self.folder_list.insert("", "end", iid=folder.path, values=(
                folder.path, "on" if folder.notify else "off",
                "on" if folder.keep_copies else "off",
                ", ".join(folder.excludes) or "-",
            ))  # fmt: skip
        paths = [f.path for f in self.config.folders]
        if paths:
            keep = before if before in paths else paths[0]
            self.folder_list.selection_set(keep)
        self.show_folder()

    def show_folder(self) -> None:
        folder = self.config.find(self.chosen() or "")
        self.patterns.delete(0, "end")
        state = ["!disabled"] if folder is not None else ["disabled"]
        self.copies_box.state(state)
        self.notify_box.state(state)
        self.stop_button.state(state)
        if folder is None:
            self.copies.set(False)
            return
        self.copies.set(folder.keep_copies)
        self.notify.set(folder.notify)
        for pattern in folder.excludes:
            self.patterns.insert("end", pattern)

    def toggle_copies(self) -> None:
        folder = self.chosen()
        if folder is not None:
            self._tell("keep-copies", folder=folder, on=self.copies.get())

    def toggle_notify(self) -> None:
        folder = self.chosen()
        if folder is not None:
            self._tell("notify", folder=folder, on=self.notify.get())

    def add_pattern(self) -> None:
        from fim_tray.app.ignore import check_pattern

        folder = self.chosen()
        if folder is None:
            return
        try:
            checked = check_pattern(self.pattern.get(), folder)
        except FimError as exc:
            self._say(exc.message, "bad")
            return
        self.pattern.set("")
        self.notes[checked.pattern] = checked.note  # said with the tray's answer
        self._tell("ignore", folder=folder, pattern=checked.pattern)

    def remove_pattern(self) -> None:
        folder, picked = self.chosen(), self.patterns.curselection()  # type: ignore[no-untyped-call]
        if folder is not None and picked:
            self._tell("unignore", folder=folder, pattern=self.patterns.get(picked[0]))

    def unwatch(self) -> None:
        from tkinter import messagebox

        folder = self.chosen()
        if folder is not None and messagebox.askyesno(
            "fim-tray: stop watching?",
            f"Stop watching {folder}? Its baseline is deleted; its history stays.",
            parent=self.root,
        ):
            self._tell("unwatch", folder=folder)

    # -- the tray --------------------------------------------------------------------------------

    def _tell(self, action: str, **fields: object) -> None:
        send({"action": action, **fields})
        self._say("Asked the tray..." if self.tray is not None else "No tray to ask.", "quiet")

    def _say(self, text: str, tone: str) -> None:
        self.status.configure(text=text, foreground=self.palette.get(tone, tone))
        print(f"status: {text}", file=sys.stderr, flush=True)

    def _refresh(self) -> None:
        """The settings again: what the tray did (a folder added, copies on) shows here."""
        try:
            config = self.service.config()
        except FimError:
            config = self.config
        if config != self.config:
            self.config = config
            self.show_folders()
        self.root.after(REFRESH_MS, self._refresh)

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
            self._heard(message)
        self.root.after(200, self._hear_the_tray)

    def _heard(self, message: dict[str, Any]) -> None:
        for word in ("settings", "ignored", "unignored", "folder"):
            said = message.get(word)
            if not isinstance(said, dict):
                continue
            if said.get("error"):
                self._say(f"Not done: {said['error']}", "bad")
            elif word == "settings":
                self._say("Saved and applied.", "good")
            elif word in ("ignored", "unignored"):
                count = len(said.get("dropped") or [])
                dropped = f"; {count} pending change{'s' if count != 1 else ''} dropped"
                verb = "Ignoring" if word == "ignored" else "No longer ignoring"
                note = self.notes.pop(str(said.get("pattern")), "") if word == "ignored" else ""
                note = f" ({note})" if note else ""
                self._say(f"{verb} {said.get('pattern')}{note}{dropped if count else ''}.", "good")
            else:
                self._say(str(said.get("said", "Done.")), "good")
            self.config = Config()  # read again at once
            self._refresh_now()

    def _refresh_now(self) -> None:
        try:
            self.config = self.service.config()
        except FimError:
            return
        self.show_folders()

    def run(self) -> None:
        self.root.mainloop()


def main() -> int:
    """``_settings``: the Settings window, hearing the tray on stdin."""
    tray = listen() if not sys.stdin.isatty() else None
    try:
        window = SettingsWindow(Service(), tray=tray)
    except Exception as exc:  # no display, no Tk: say so, plainly
        print(f"cannot open the Settings window: {exc}", file=sys.stderr)
        return 2
    window.run()
    return 0
