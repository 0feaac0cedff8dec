"""The Settings window (a child process of the tray, like the details window): the check
interval, the speed cap, pause on battery and start at login; the watched folders with, for
each, keeping copies and its ignore patterns.

General settings are checked here field by field (a message beside a wrong one, nothing
saved) and sent to the tray, which saves together the ones changed here, over the settings as
they are on disk then, and applies them at once; a field changed elsewhere meanwhile is said
beside it, never overwritten unseen. Folder changes go to the tray too (``{"action":
"keep-copies" | "ignore" | "unignore" | "watch" | "unwatch", ...}``). The window reads the
settings again every few seconds, so it shows what the tray (or a hand edit) did; the tray
keeps one Settings window and raises it when asked for another (``{"raise": true}``)."""

from __future__ import annotations

import queue
import sys
from collections.abc import Iterable, Mapping
from typing import Any

from fim_tray.app.service import Service
from fim_tray.app.settings import changed, editable, parse
from fim_tray.errors import FimError
from fim_tray.platform.autostart import Autostart, autostart_for_platform
from fim_tray.store.config import Config
from fim_tray.ui import theme
from fim_tray.ui.details import on_key
from fim_tray.ui.wire import hear_the_tray, listen, send

REFRESH_MS = 1500
# The settings as the window names them (the messages beside the fields and the status line
# say these words, never the settings' keys).
LABELS = {
    "interval": "Check every",
    "full_check_hours": "Re-hash every",
    "max_mb_per_s": "Speed cap",
    "pause_on_battery": "Pause background checks on battery",
    "notify_summary": "One summary a day",
}
PATTERN = "Ignore pattern"


def label_of(key: str) -> str:
    """The words the window shows for the setting ``key``."""
    return LABELS.get(key, key.replace("_", " "))


def beside(key: str, message: str) -> str:
    """The message beside a field: its label, then what is wrong."""
    return f"{label_of(key)}: {message}"


def not_saved(errors: Mapping[str, str]) -> str:
    """The status line when fields are wrong: short (each says what beside it)."""
    if len(errors) == 1:
        return f"Not saved: see the message beside {label_of(next(iter(errors)))}."
    return "Not saved: see the messages beside the fields."


def clashed(keys: Iterable[str]) -> str:
    """The status line when fields were changed elsewhere since the window loaded them."""
    names = ", ".join(sorted(label_of(key) for key in keys))
    return f"Not saved: {names} changed elsewhere meanwhile (see beside it)."


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
        self.loaded = editable(self.config)  # what the fields started from: a save sends
        self.sent: dict[str, object] = {}  # only what differs, and the tray checks it
        frame = ttk.Frame(self.root, padding=12)
        frame.pack(fill="both", expand=True)
        tabs = ttk.Notebook(frame)
        tabs.pack(fill="both", expand=True)
        # Each tab's content scrolls when the screen is too small for it; Save and Close stay.
        general_page, folders_page = ttk.Frame(tabs), ttk.Frame(tabs)
        saving = ttk.Frame(general_page, padding=(12, 6, 12, 12))
        saving.pack(side="bottom", fill="x")
        self.scrolled = [theme.Scrolled(general_page), theme.Scrolled(folders_page)]
        for scrolled in self.scrolled:
            scrolled.outer.pack(fill="both", expand=True)
            scrolled.inner.configure(padding=12)
        general, folders = (scrolled.inner for scrolled in self.scrolled)
        tabs.add(general_page, text="General", underline=0)
        tabs.add(folders_page, text="Watched folders", underline=0)
        self.root.bind("<Alt-g>", lambda _e: tabs.select(general_page))  # type: ignore[no-untyped-call]
        self.root.bind("<Alt-w>", lambda _e: tabs.select(folders_page))  # type: ignore[no-untyped-call]

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
            entry = ttk.Entry(general, textvariable=var, width=8, name=key)
            entry.grid(row=row * 2, column=1, sticky="w", padx=8, pady=(6, 0))
            said = ttk.Label(general, text=unit, foreground=self.palette["quiet"])
            said.grid(row=row * 2, column=2, sticky="ew", pady=(6, 0))
            theme.wrap(said)
            error = ttk.Label(general, text="", foreground=self.palette["bad"])
            error.grid(row=row * 2 + 1, column=1, columnspan=2, sticky="ew", padx=8)
            theme.wrap(error)
            self.fields[key], self.errors[key] = var, error
            self.root.bind(f"<Alt-{label[underline].lower()}>", _focus(entry))
            if key == "interval":
                self.root.after(200, entry.focus_set)
            entry.bind("<Return>", lambda _e: self.save())
        self.battery = tk.BooleanVar(self.root, self.config.pause_on_battery)
        ttk.Checkbutton(general, text="Pause background checks on battery", underline=6,
                        variable=self.battery).grid(row=6, column=0, columnspan=3, sticky="w",
                                                    pady=(10, 0))  # fmt: skip
        self.errors["pause_on_battery"] = ttk.Label(general, text="",
                                                    foreground=self.palette["bad"])  # fmt: skip
        self.errors["pause_on_battery"].grid(row=7, column=0, columnspan=3, sticky="ew")
        theme.wrap(self.errors["pause_on_battery"])
        self.errors["pause_on_battery"].grid_remove()  # shown only to say something
        self.login = tk.BooleanVar(self.root, self._autostart_on())
        ttk.Checkbutton(general, text="Start at login", variable=self.login,
                        command=self.toggle_login).grid(row=8, column=0, columnspan=3,
                                                        sticky="w", pady=(6, 0))  # fmt: skip
        self.root.bind("<Alt-b>", lambda _e: self.battery.set(not self.battery.get()))
        # How to notify: at once, or one summary a day at a chosen time.
        self.daily = tk.BooleanVar(self.root, bool(self.config.notify_summary))
        line = ttk.Frame(general)  # its own row: the fields above keep their columns
        line.grid(row=9, column=0, columnspan=3, sticky="ew", pady=(10, 0))
        daily = ttk.Checkbutton(line, text="One summary a day, at", underline=5,
                                variable=self.daily)  # fmt: skip
        self.summary_at = tk.StringVar(self.root, self.config.notify_summary or "18:00")
        at = ttk.Entry(line, textvariable=self.summary_at, width=6)
        instead = ttk.Label(line, text="instead of a notification per change",
                            foreground=self.palette["quiet"])  # fmt: skip
        theme.flow(line, [daily, at, instead])
        self.errors["notify_summary"] = ttk.Label(general, text="",
                                                  foreground=self.palette["bad"])  # fmt: skip
        self.errors["notify_summary"].grid(row=10, column=0, columnspan=3, sticky="ew")
        theme.wrap(self.errors["notify_summary"])
        self.root.bind("<Alt-u>", lambda _e: daily.invoke())
        # Alerts beyond the desktop (email, syslog, chat): the tray's Alerts window.
        beyond = ttk.Frame(general)
        beyond.grid(row=12, column=0, columnspan=3, sticky="ew", pady=(10, 0))
        theme.flow(beyond, [
            ttk.Label(beyond, text="Alerts by email, syslog, chat and more:"),
            ttk.Button(beyond, text="Alerts...", underline=0, command=self.open_alerts),
        ])  # fmt: skip
        self.root.bind("<Alt-a>", on_key(self.open_alerts))
        general.columnconfigure(2, weight=1)
        save = ttk.Button(saving, text="Save", underline=0, style="Accent.TButton",
                          command=self.save)  # fmt: skip
        save.pack(side="left")
        self.root.bind("<Alt-s>", on_key(self.save))

        # -- folders --
        listing = ttk.Frame(folders)
        listing.grid(row=0, column=0, sticky="nsew")
        self.folder_list = ttk.Treeview(listing, columns=("path", "notify", "copies", "ignores"),
                                        show="headings", height=5, selectmode="browse")  # fmt: skip
        for name, label, width in (
            ("path", "Folder", 340), ("notify", "Notifications", 110), ("copies", "Copies", 70),
            ("ignores", "Ignores", 160),
        ):  # fmt: skip
            self.folder_list.heading(name, text=label)
            self.folder_list.column(name, width=theme.px(self.root, width),
                                    stretch=name == "path")  # fmt: skip
        across = ttk.Scrollbar(listing, orient="horizontal", command=self.folder_list.xview)
        self.folder_list.configure(xscrollcommand=across.set)
        self.folder_list.pack(fill="both", expand=True)
        across.pack(fill="x")
        self.folder_list.bind("<<TreeviewSelect>>", lambda _e: self.show_folder())
        buttons = ttk.Frame(folders)
        buttons.grid(row=1, column=0, sticky="ew", pady=(6, 8))
        self.stop_button = ttk.Button(buttons, text="Stop watching", command=self.unwatch)
        theme.flow(buttons, [
            ttk.Button(buttons, text="Watch a folder...", command=lambda: self._tell("watch")),
            self.stop_button,
        ])  # fmt: skip
        self.copies = tk.BooleanVar(self.root, False)
        boxes = ttk.Frame(folders)
        boxes.grid(row=2, column=0, sticky="ew")
        self.copies_box = ttk.Checkbutton(boxes, text="Keep copies to allow diff and restore",
                                          underline=0, variable=self.copies,
                                          command=self.toggle_copies)  # fmt: skip
        self.notify = tk.BooleanVar(self.root, True)
        self.notify_box = ttk.Checkbutton(
            boxes, text="Notify me of its changes", underline=0, variable=self.notify,
            command=self.toggle_notify,
        )  # fmt: skip
        theme.flow(boxes, [self.copies_box, self.notify_box], gap=24)
        self.root.bind("<Alt-n>", lambda _e: self.notify_box.invoke())
        self.root.bind("<Alt-k>", lambda _e: self.copies_box.invoke())
        hint = "Ignore patterns (*.log: any depth; /logs/app.log: one path; cache/: a folder)"
        said = ttk.Label(folders, underline=0, text=hint)
        said.grid(row=3, column=0, sticky="ew", pady=(10, 2))
        theme.wrap(said)
        self.patterns = tk.Listbox(folders, height=5, font="TkFixedFont")
        self.patterns.grid(row=4, column=0, sticky="nsew")
        self.pattern = tk.StringVar(self.root, "")
        adding = ttk.Frame(folders)
        adding.grid(row=5, column=0, sticky="ew", pady=(6, 0))
        self.pattern_entry = ttk.Entry(adding, textvariable=self.pattern, width=30)
        self.pattern_entry.bind("<Return>", lambda _e: self.add_pattern())
        self.root.bind("<Alt-i>", lambda _e: self.pattern_entry.focus_set())
        theme.flow(adding, [
            self.pattern_entry,
            ttk.Button(adding, text="Add pattern", command=self.add_pattern),
            ttk.Button(adding, text="Remove pattern", command=self.remove_pattern),
        ])  # fmt: skip
        self.pattern_error = ttk.Label(folders, text="", foreground=self.palette["bad"])
        self.pattern_error.grid(row=6, column=0, sticky="ew")
        theme.wrap(self.pattern_error)
        folders.columnconfigure(0, weight=1)
        folders.rowconfigure(0, weight=1)

        bottom = ttk.Frame(frame)
        bottom.pack(fill="x", side="bottom", pady=(8, 0), before=tabs)
        ttk.Button(bottom, text="Close", underline=0, command=self.root.destroy).pack(side="right")
        self.status = ttk.Label(bottom, text="")
        self.status.pack(side="left", fill="x", expand=True)
        theme.wrap(self.status)
        self.root.bind("<Alt-c>", lambda _e: self.root.destroy())
        self.root.bind("<Escape>", lambda _e: self.root.destroy())
        self.show_folders()
        for scrolled in self.scrolled:
            scrolled.request()
        theme.fit(self.root, 720, 480, min_width=560, min_height=400)
        self.root.after(REFRESH_MS, self._refresh)
        if tray is not None:
            hear_the_tray(self.root, tray, self._heard, first_ms=100)

    # -- general ---------------------------------------------------------------------------------

    def typed(self) -> tuple[dict[str, object], dict[str, str]]:
        """The general fields as typed: their values, and a message per wrong one."""
        typed: dict[str, str | bool] = {k: v.get() for k, v in self.fields.items()}
        typed["pause_on_battery"] = self.battery.get()
        typed["notify_summary"] = self.summary_at.get() if self.daily.get() else ""
        typed["notify_daily"] = self.daily.get()  # ticked with no time: said, not "at once"
        return parse(typed)

    def save(self) -> None:
        """Check every field; only when all are right, ask the tray to save together the ones
        changed here (with what they were when loaded: the tray refuses to write over a field
        changed elsewhere meanwhile)."""
        values, errors = self.typed()
        for key, label in self.errors.items():
            label.configure(text=beside(key, errors[key]) if key in errors else "")
        self.errors["pause_on_battery"].grid_remove()
        if errors:
            for key, message in errors.items():  # said beside each field (and to a log)
                print(f"field: {beside(key, message)}", file=sys.stderr, flush=True)
            self._say(not_saved(errors), "bad")
            return
        changes = changed(values, self.loaded)
        if not changes:
            self._say("Nothing to save: no setting was changed here.", "quiet")
            return
        self.sent = changes
        loaded = {key: self.loaded[key] for key in changes}
        send({"action": "settings", "settings": changes, "loaded": loaded})
        self._say("Saving...", "quiet")
        if self.tray is None:  # no tray to apply them: save here
            try:
                saved = self.service.save_settings(changes, loaded)
            except FimError as exc:
                self._say(f"Not saved: {exc.message}", "bad")
                return
            self._settings_said({"saved": list(saved.written), "clashes": dict(saved.clashes)})

    def _settings_said(self, said: dict[str, Any]) -> None:
        """The tray's answer to a save: saved, or refused for the fields changed elsewhere
        since this window loaded them (each says so; a second Save replaces them)."""
        clashes = said.get("clashes")
        if isinstance(clashes, dict) and clashes:
            for key, there in clashes.items():
                if key in self.loaded:
                    self.loaded[key] = there  # seen now: Save again writes this window's value
                if key in self.errors:
                    self.errors[key].grid()
                    self.errors[key].configure(
                        text=beside(key, f"changed elsewhere to {_shown(there)} since this "
                                    "window opened: Save again to replace it")
                    )  # fmt: skip
            self._say(clashed(clashes), "bad")
            return
        self.loaded.update(self.sent)
        self.sent = {}
        self._say("Saved and applied.", "good")

    def _follow(self, config: Config) -> None:
        """Settings changed elsewhere (a hand edit, the tray): the fields not touched here show
        them; a field changed here keeps what was typed (a save then says it clashes)."""
        values, _errors = self.typed()
        for key, there in editable(config).items():
            if there == self.loaded[key] or values.get(key, there) != self.loaded[key]:
                continue
            self.loaded[key] = there
            if key in self.fields:
                self.fields[key].set(f"{there:g}" if isinstance(there, float) else str(there))
            elif key == "pause_on_battery":
                self.battery.set(bool(there))
            elif key == "notify_summary":
                self.daily.set(bool(there))
                self.summary_at.set(str(there or self.summary_at.get()))

    def open_alerts(self) -> None:
        """The Alerts window, as the tray's "Alerts..." opens it (started here when there is
        no tray to ask)."""
        if self.tray is not None:
            self._tell("alerts")
            return
        import subprocess

        from fim_tray.platform.launch import child_env, safe_cwd, self_command

        try:
            subprocess.Popen(
                [*self_command(), "_alerts"], cwd=safe_cwd(), env=child_env(),
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        except OSError as exc:
            self._say(f"Cannot open the Alerts window: {exc}", "bad")
            return
        self._say("Opening the Alerts window...", "quiet")

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
            self.pattern_error.configure(text=f"{PATTERN}: {exc.message}")
            print(f"field: {PATTERN}: {exc.message}", file=sys.stderr, flush=True)
            self._say("Not added: see the message beside the pattern.", "bad")
            return
        self.pattern_error.configure(text="")
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
            self._follow(config)
            self.show_folders()
        self.root.after(REFRESH_MS, self._refresh)

    def _heard(self, message: dict[str, Any]) -> None:
        for word in ("settings", "ignored", "unignored", "folder"):
            said = message.get(word)
            if not isinstance(said, dict):
                continue
            if said.get("error") and word in ("ignored", "unignored"):  # beside the pattern
                self.pattern_error.configure(text=f"{PATTERN}: {said['error']}")
                self._say("Not done: see the message beside the pattern.", "bad")
            elif said.get("error"):
                self._say(f"Not done: {said['error']}", "bad")
            elif word == "settings":
                self._settings_said(said)
            elif word in ("ignored", "unignored"):
                self.pattern_error.configure(text="")
                count = len(said.get("dropped") or [])
                dropped = f"; {count} pending change{'s' if count != 1 else ''} dropped"
                verb = "Ignoring" if word == "ignored" else "No longer ignoring"
                note = self.notes.pop(str(said.get("pattern")), "") if word == "ignored" else ""
                note = f" ({note})" if note else ""
                if word == "ignored" and said.get("changed") is False:
                    self._say(f"{said.get('pattern')}{note} is already ignored.", "good")
                else:
                    self._say(f"{verb} {said.get('pattern')}{note}{dropped if count else ''}.",
                              "good")  # fmt: skip
            else:
                self._say(str(said.get("said", "Done.")), "good")
            self.config = Config()  # read again at once
            self._refresh_now()

    def _refresh_now(self) -> None:
        try:
            self.config = self.service.config()
        except FimError:
            return
        self._follow(self.config)
        self.show_folders()

    def run(self) -> None:
        self.root.mainloop()


def _shown(value: object) -> str:
    """A setting's value as the fields show it."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value) or "(none)"


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
