"""The details window: the changes a notification announced (or the whole history), with
before and after values, a diff, and Accept / Accept all / Restore / Open folder / Close.

It runs as a child process of the tray (never a Tk root in the tray process) and answers on
stdout with one JSON line per decision: ``{"action": "accept", "items": [{"folder": ...,
"signature": ...}]}``. The tray applies each through the engine.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from fim_tray import jsonio
from fim_tray.app.service import Service
from fim_tray.display import escape
from fim_tray.store.names import decode_name
from fim_tray.ui.actions import diff_lines, restore, watched_folder
from fim_tray.ui.wire import answer, items_from_events

ROWS = (  # label, key in the before/after objects
    ("Type", "type"),
    ("Size", "size"),
    ("SHA-256 / BLAKE2b", "digest"),
    ("Mode", "mode"),
    ("Owner", "uid"),
    ("Group", "gid"),
    ("Modified (mtime)", "mtime"),
    ("Link target", "target"),
    ("Device (major,minor)", "device"),
    ("Extended attributes", "xattrs"),
    ("Written by", "process"),
    ("Error", "error"),
)


def _name(item: dict[str, Any]) -> str:
    try:
        return escape(decode_name(item))
    except (ValueError, TypeError, KeyError):
        return "?"


def _user(uid: object) -> str:
    try:
        import pwd

        return f"{pwd.getpwuid(int(uid)).pw_name} ({uid})"  # type: ignore[call-overload]
    except (ImportError, KeyError, TypeError, ValueError):
        return str(uid)


def _group(gid: object) -> str:
    try:
        import grp

        return f"{grp.getgrgid(int(gid)).gr_name} ({gid})"  # type: ignore[call-overload]
    except (ImportError, KeyError, TypeError, ValueError):
        return str(gid)


def value(obj: dict[str, Any] | None, key: str) -> str:
    """One cell of the before/after table, as a person reads it; whatever shape a history line
    gives it (an edited one may give any), a cell shows something and never stops the window."""
    try:
        return _value(obj, key)
    except (ValueError, TypeError, AttributeError, OverflowError):
        return escape(repr(obj.get(key) if isinstance(obj, dict) else obj))


def _value(obj: dict[str, Any] | None, key: str) -> str:
    if obj is None:
        return "-"
    raw = obj.get(key)
    if raw is None:
        return ""
    if key == "uid":
        return _user(raw)
    if key == "gid":
        return _group(raw)
    if key == "size":
        return f"{int(raw):,} bytes"
    if key == "digest" and len(str(raw)) > 32:  # 64 hex digits: two lines fit the window
        text = str(raw)
        return "\n".join(text[i : i + 32] for i in range(0, len(text), 32))
    if key == "xattrs" and isinstance(raw, dict):
        return "\n".join(escape(f"{name}: {words}") for name, words in sorted(raw.items()))
    if key == "mtime":
        try:
            when = datetime.fromisoformat(str(raw)).astimezone()  # in this machine's time zone
            return when.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        except ValueError:
            return str(raw)
    return escape(str(raw))


def warning(item: dict[str, Any]) -> str:
    """What a suspicious change may mean, in words for the window ("" when it is not)."""
    if not item.get("suspicious"):
        return ""
    if item.get("change") == "metadata":
        return (
            "Suspicious: it can now run with more privileges than before (a set-uid or set-gid "
            "bit, or a file capability, was added). Look into it before you accept it."
        )
    return (
        "Suspicious: the content changed but the size and modification time did not. Something "
        "may have put the timestamp back to hide the change. Look into it before you accept it."
    )


def _time(item: dict[str, Any]) -> str:
    try:
        return datetime.fromisoformat(item["time"]).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except (KeyError, ValueError, TypeError):
        return ""


def _on_key(command: Callable[[], None]) -> Callable[[object], None]:
    def handler(_event: object) -> None:
        command()

    return handler


class DetailsWindow:
    """The Tk window. ``opener`` opens a folder in the file manager."""

    def __init__(
        self,
        title: str,
        items: list[dict[str, Any]],
        opener: Callable[[str], object],
        service: Service,
    ):
        import tkinter as tk
        from tkinter import ttk

        self.service = service
        self.items = items
        self.opener = opener
        self.accepted: set[int] = set()
        self.root = tk.Tk(className="fim-tray")
        self.root.title(f"fim-tray: {title}")
        self.root.geometry("900x640")
        self.root.minsize(600, 400)
        frame = ttk.Frame(self.root, padding=10)
        frame.pack(fill="both", expand=True)
        ttk.Label(frame, text=title, font=("TkDefaultFont", 12, "bold")).pack(anchor="w")

        columns = ("time", "change", "path")
        self.tree = ttk.Treeview(frame, columns=columns, show="headings", height=8)
        for name, label, width in (("time", "Time", 170), ("change", "Change", 190),
                                   ("path", "Path", 520)):  # fmt: skip
            self.tree.heading(name, text=label)
            self.tree.column(name, width=width, stretch=name == "path")
        self.tree.tag_configure("suspicious", foreground="#b71c1c")
        self.tree.tag_configure("accepted", foreground="#808080")
        for index, item in enumerate(items):
            change = item.get("change", "")
            suspicious = bool(item.get("suspicious"))
            label = f"SUSPICIOUS {change}" if suspicious else change
            if item.get("verified") is False:  # a history line whose MAC does not hold
                label += " (not verified)"
            path = _name(item)
            self.tree.insert("", "end", iid=str(index), values=(_time(item), label, path),
                             tags=("suspicious",) if suspicious else ())  # fmt: skip
        self.tree.pack(fill="both", expand=True, pady=(8, 8))
        self.tree.bind("<<TreeviewSelect>>", lambda _event: self.show_selected())

        self.warning = ttk.Label(frame, text="", foreground="#b71c1c", wraplength=860)
        self.warning.pack(anchor="w")
        tabs = ttk.Notebook(frame)
        tabs.pack(fill="both", expand=True, pady=(4, 8))
        table = ttk.Frame(tabs, padding=6)
        tabs.add(table, text="Before and after", underline=0)
        inside = ttk.Frame(tabs, padding=6)
        tabs.add(inside, text="What changed inside (diff)", underline=21)
        self.root.bind("<Alt-b>", lambda _event: tabs.select(table))  # type: ignore[no-untyped-call]
        self.root.bind("<Alt-d>", lambda _event: tabs.select(inside))  # type: ignore[no-untyped-call]
        self.diff_note = ttk.Label(inside, text="", wraplength=840)
        self.diff_note.pack(anchor="w")
        self.diff = tk.Text(inside, height=10, wrap="none", font=("TkFixedFont", 9))
        self.diff.tag_configure("del", foreground="#b71c1c")
        self.diff.tag_configure("add", foreground="#1b5e20")
        self.diff.pack(fill="both", expand=True)
        self.status = ttk.Label(frame, text="", wraplength=860)
        self.status.pack(anchor="w")
        ttk.Label(table, text="", width=18).grid(row=0, column=0)
        ttk.Label(table, text="Before (baseline)", font=("TkDefaultFont", 10, "bold")).grid(
            row=0, column=1, sticky="w"
        )
        ttk.Label(table, text="After (now)", font=("TkDefaultFont", 10, "bold")).grid(
            row=0, column=2, sticky="w"
        )
        self.cells: dict[str, tuple[Any, Any, Any]] = {}
        for row, (label, key) in enumerate(ROWS, start=1):
            caption = ttk.Label(table, text=label)
            caption.grid(row=row, column=0, sticky="nw", padx=(0, 8))
            before = ttk.Label(table, text="", font=("TkFixedFont", 9))
            after = ttk.Label(table, text="", font=("TkFixedFont", 9))
            before.grid(row=row, column=1, sticky="w", padx=(0, 16))
            after.grid(row=row, column=2, sticky="w")
            self.cells[key] = (caption, before, after)
        table.columnconfigure(1, weight=1)
        table.columnconfigure(2, weight=1)

        buttons = ttk.Frame(frame)
        buttons.pack(fill="x")
        for text, underline, command, key in (
            ("Accept", 0, self.accept_selected, "a"),
            ("Accept all", 7, self.accept_all, "l"),
            ("Restore", 0, self.restore_selected, "r"),
            ("Open folder", 0, self.open_folder, "o"),
        ):
            ttk.Button(buttons, text=text, underline=underline, command=command).pack(
                side="left", padx=(0, 6)
            )
            self.root.bind(f"<Alt-{key}>", _on_key(command))
        ttk.Button(buttons, text="Close", underline=0, command=self.root.destroy).pack(side="right")
        self.root.bind("<Alt-c>", lambda _event: self.root.destroy())
        self.root.bind("<Escape>", lambda _event: self.root.destroy())
        if items:
            self.tree.selection_set("0")
            self.tree.focus("0")
            self.show_selected()

    def selected(self) -> list[int]:
        return [int(iid) for iid in self.tree.selection()]

    def show_selected(self) -> None:
        chosen = self.selected()
        if not chosen:
            return
        item = self.items[chosen[0]]
        for key, (name, before, after) in self.cells.items():
            old, new = value(item.get("before"), key), value(item.get("after"), key)
            widgets = (name, before, after)
            if old in ("", "-") and new in ("", "-"):  # a row that does not apply here
                for widget in widgets:
                    widget.grid_remove()
                continue
            for widget in widgets:
                widget.grid()
            before.configure(text=old)
            after.configure(text=new)
        self.warning.configure(text=warning(item))
        self.show_diff(item)

    def show_diff(self, item: dict[str, Any]) -> None:
        """The text diff of baseline vs now, or a plain word on why there is none."""
        message, lines = diff_lines(self.service, item)
        self.diff_note.configure(text=message)
        self.diff.configure(state="normal")
        self.diff.delete("1.0", "end")
        for line in lines:
            tag = "del" if line.startswith("-") else "add" if line.startswith("+") else ""
            self.diff.insert("end", line + "\n", tag)
        self.diff.configure(state="disabled")

    def restore_selected(self) -> None:
        """Put the selected file back; ask first when it changed again since it was shown."""
        from tkinter import messagebox

        chosen = self.selected()
        if not chosen:
            return
        item = self.items[chosen[0]]
        outcome = restore(self.service, item)
        if outcome.ask and messagebox.askyesno(
            "fim-tray: restore anyway?",
            f"{outcome.message}\n\nRestore the baseline content anyway? What is there now is "
            "kept as a copy, so this can be undone.",
            parent=self.root,
        ):
            outcome = restore(self.service, item, force=True)
        self.status.configure(
            text=outcome.message, foreground="#1b5e20" if outcome.ok else "#b71c1c"
        )
        if outcome.ok:
            answer("restored", [item])  # the tray checks the folder again: the icon follows
            values = list(self.tree.item(str(chosen[0]), "values"))
            values[1] = f"restored ({item.get('change', '')})"
            self.tree.item(str(chosen[0]), values=values, tags=("accepted",))
            self.show_diff(item)

    def _accept(self, indexes: list[int]) -> None:
        todo = [i for i in indexes if i not in self.accepted]
        if not todo:
            return
        answer("accept", [self.items[i] for i in todo])
        for index in todo:
            self.accepted.add(index)
            values = list(self.tree.item(str(index), "values"))
            values[1] = f"accepted ({self.items[index].get('change', '')})"
            self.tree.item(str(index), values=values, tags=("accepted",))

    def accept_selected(self) -> None:
        self._accept(self.selected())

    def accept_all(self) -> None:
        self._accept(list(range(len(self.items))))

    def open_folder(self) -> None:
        """Open the item's watched folder; a folder that is not watched (a history line may
        name anything) is never handed to the file manager."""
        chosen = self.selected() or [0]
        if not self.items:
            return
        folder = watched_folder(self.service, self.items[chosen[0]])
        if folder is None:
            self.status.configure(
                text="Not opened: that line names a folder fim-tray does not watch.",
                foreground="#b71c1c",
            )
            return
        self.opener(folder)

    def run(self) -> None:
        self.root.mainloop()


def main(argv: Sequence[str]) -> int:
    """``_details FILE`` shows the changes in FILE (JSON written by the tray); ``_details
    --history`` the whole history."""
    from fim_tray.platform.opener import open_folder

    if argv and argv[0] == "--history":
        items = items_from_events(reversed(Service().history(2000)))
        count = len(items)
        title = "History: the last change" if count == 1 else f"History: the last {count:,} changes"
    elif argv:
        doc = jsonio.loads(Path(argv[0]).read_bytes())
        items, title = list(doc["items"]), str(doc.get("title", "Changes"))
    else:
        print("usage: fim-tray _details FILE | --history", file=sys.stderr)
        return 2
    try:
        window = DetailsWindow(title, items, open_folder, Service())
    except Exception as exc:  # no display, no Tk: say so, plainly
        print(f"cannot open the details window: {exc}", file=sys.stderr)
        return 2
    window.run()
    return 0
