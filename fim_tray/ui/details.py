"""The details window: the changes a notification announced (or the whole history), with
before and after values, a diff, and Accept / Accept all / Restore / Open folder / Close.

It runs as a child process of the tray (never a Tk root in the tray process) and answers on
stdout with one JSON line per decision: ``{"action": "accept", "items": [{"folder": ...,
"signature": ...}]}``. The tray applies each through the engine.
"""

from __future__ import annotations

import os
import queue
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from fim_tray import jsonio
from fim_tray.app.service import Service
from fim_tray.store.names import name_from
from fim_tray.ui import ignore as ignoring
from fim_tray.ui import theme
from fim_tray.ui.actions import diff_lines, keeps_copies, restore, watched_folder
from fim_tray.ui.cells import ROWS, keys, name_of, time_of, value, warning, whole_path
from fim_tray.ui.wire import answer, hear_the_tray, key_of, listen, send

RED, GREEN = "#b71c1c", "#1b5e20"
CHANGE_CAP = 420  # points: the widest the Change column grows to show its longest text


def ignored_words(pattern: str, count: int, *, changed: bool) -> str:
    """What the status line says when ``pattern`` is ignored, ``count`` pending changes
    dropped; ``changed`` False: it was ignored already (nothing to undo)."""
    if not changed:
        return f"{pattern} is already ignored: nothing changed."
    if count == 0:
        return f"Ignoring {pattern} from now on; no pending change dropped. Undo stops it."
    if count == 1:
        return f"Ignoring {pattern} from now on; 1 pending change dropped. Undo puts it back."
    return (
        f"Ignoring {pattern} from now on; {count:,} pending changes dropped. Undo puts them back."
    )


def on_key(command: Callable[[], None]) -> Callable[[object], None]:
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
        *,
        history: bool = False,
        tray: queue.Queue[dict[str, Any] | None] | None = None,
    ):
        import tkinter as tk
        from tkinter import ttk

        self.service = service
        self.items = items
        self.opener = opener
        self.accepted: set[int] = set()  # taken in, as the tray said
        self.asked: set[int] = set()  # sent to the tray, no answer yet
        self.settled: set[int] = set()  # accepted or changed elsewhere: nothing to accept here
        self.tray = tray  # what the tray tells this window (None: nothing, as in a test)
        theme.before_tk()
        self.root = tk.Tk(className="fim-tray")
        self.palette = theme.colors(theme.apply(self.root))
        self.root.title(f"fim-tray: {title}")
        self.ignoring: tuple[str, str, set[int]] | None = None  # folder, pattern, rows: undo
        window = ttk.Frame(self.root, padding=10)
        window.pack(fill="both", expand=True)
        # All but the buttons and the status line scrolls when the screen is too short for it.
        self.body = theme.Scrolled(window)
        self.body.outer.pack(fill="both", expand=True)
        frame = self.body.inner
        small = self.root.winfo_screenheight() < theme.px(self.root, 800)  # a short screen
        self.heading = ttk.Label(frame, text=title, font=("TkDefaultFont", 12, "bold"))
        self.heading.pack(anchor="w", fill="x")
        theme.wrap(self.heading)
        self._above_list(frame)

        columns = tuple(name for name, _label, _width in self.COLUMNS)
        listing = ttk.Frame(frame)
        listing.pack(fill="both", expand=True, pady=(8, 4))
        self.tree = ttk.Treeview(listing, columns=columns, show="headings",
                                 height=4 if small else 8)  # fmt: skip
        rows = ttk.Scrollbar(listing, orient="vertical", command=self.tree.yview)
        wide = ttk.Scrollbar(listing, orient="horizontal", command=self.tree.xview)
        self.tree.configure(yscrollcommand=rows.set, xscrollcommand=wide.set)
        self.tree.grid(row=0, column=0, sticky="nsew")
        rows.grid(row=0, column=1, sticky="ns")
        wide.grid(row=1, column=0, sticky="ew")
        listing.rowconfigure(0, weight=1)
        listing.columnconfigure(0, weight=1)
        for name, label, width in self.COLUMNS:
            self.tree.heading(name, text=label)
            size = theme.px(self.root, width)
            self.tree.column(name, width=size, minwidth=size // 2, stretch=name == "path")
        self.tree.tag_configure("suspicious", foreground=self.palette["bad"])
        self.tree.tag_configure("accepted", foreground=self.palette["done"])
        self.labels: dict[int, tuple[str, tuple[str, ...]]] = {}  # rows marked since shown
        self.tree.bind("<<TreeviewSelect>>", lambda _event: self.show_selected())
        self.count = ttk.Label(frame, text="", foreground=self.palette["quiet"])
        self.count.pack(anchor="w")
        self.fill(range(len(items)))
        # The whole path of the selected entry: a long one is cut in the list, never here.
        self.full_path = ttk.Label(frame, text="", font="TkFixedFont")
        self.full_path.pack(anchor="w", fill="x", pady=(2, 0))
        theme.wrap(self.full_path)

        self.warning = ttk.Label(frame, text="", foreground=self.palette["bad"])
        self.warning.pack(anchor="w", fill="x")
        theme.wrap(self.warning)
        tabs = ttk.Notebook(frame)
        tabs.pack(fill="both", expand=True, pady=(4, 8))
        table = ttk.Frame(tabs, padding=6)
        tabs.add(table, text="Before and after", underline=0)
        inside = ttk.Frame(tabs, padding=6)
        tabs.add(inside, text="What changed inside (diff)", underline=21)
        self.root.bind("<Alt-b>", lambda _event: tabs.select(table))  # type: ignore[no-untyped-call]
        self.root.bind("<Alt-d>", lambda _event: tabs.select(inside))  # type: ignore[no-untyped-call]
        self.diff_note = ttk.Label(inside, text="")
        self.diff_note.pack(anchor="w", fill="x")
        theme.wrap(self.diff_note)
        diff_box = ttk.Frame(inside)
        diff_box.pack(fill="both", expand=True)
        self.diff = tk.Text(diff_box, height=5 if small else 10, wrap="none",
                            font="TkFixedFont")  # fmt: skip
        self.diff.tag_configure("del", foreground=self.palette["bad"])
        self.diff.tag_configure("add", foreground=self.palette["good"])
        down = ttk.Scrollbar(diff_box, orient="vertical", command=self.diff.yview)
        across = ttk.Scrollbar(diff_box, orient="horizontal", command=self.diff.xview)
        self.diff.configure(yscrollcommand=down.set, xscrollcommand=across.set)
        self.diff.grid(row=0, column=0, sticky="nsew")
        down.grid(row=0, column=1, sticky="ns")
        across.grid(row=1, column=0, sticky="ew")
        diff_box.rowconfigure(0, weight=1)
        diff_box.columnconfigure(0, weight=1)
        self.status = ttk.Label(window, text="")
        theme.wrap(self.status)
        after_heading = "After" if history else "After (now)"  # a past entry: then, not now
        for column, heading in ((1, "Before (baseline)"), (2, after_heading)):
            said = ttk.Label(table, text=heading, font=("TkDefaultFont", 10, "bold"))
            said.grid(row=0, column=column, sticky="ew")
            theme.wrap(said)
        self.cells: dict[str, tuple[Any, Any, Any]] = {}
        for row, (label, key) in enumerate(ROWS, start=1):
            caption = ttk.Label(table, text=label)
            caption.grid(row=row, column=0, sticky="nw", padx=(0, 8))
            before = ttk.Label(table, text="", font="TkFixedFont")
            after = ttk.Label(table, text="", font="TkFixedFont")
            before.grid(row=row, column=1, sticky="new", padx=(0, 16))
            after.grid(row=row, column=2, sticky="new")
            theme.wrap(before)  # a long hash or path wraps in a narrow window
            theme.wrap(after)
            self.cells[key] = (caption, before, after)
        # before and after as wide as each other, whatever they hold (what is long wraps)
        table.columnconfigure(1, weight=1, uniform="values")
        table.columnconfigure(2, weight=1, uniform="values")

        buttons = ttk.Frame(window)
        # The buttons and the status line outside what scrolls, at the bottom: a short screen
        # never hides them, and a narrow one puts the buttons in two rows.
        buttons.pack(fill="x", side="bottom", pady=(6, 0), before=self.body.outer)
        self.status.pack(anchor="w", fill="x", side="bottom", before=self.body.outer)
        self.buttons: dict[str, Any] = {}
        for text, underline, command, key in (
            ("Accept", 0, self.accept_selected, "a"),
            ("Accept all", 7, self.accept_all, "l"),
            ("Restore", 0, self.restore_selected, "r"),
            ("Open folder", 0, self.open_folder, "o"),
            ("Ignore...", 0, self.ignore_selected, "i"),
            ("Undo", 0, self.undo_ignore, "u"),
        ):
            button = ttk.Button(buttons, text=text, underline=underline, command=command)
            self.buttons[text] = button
            self.root.bind(f"<Alt-{key}>", on_key(command))
        self.buttons["Undo"].state(["disabled"])  # until something is ignored
        close = ttk.Button(buttons, text="Close", underline=0, command=self.root.destroy)
        self.buttons["Close"] = close
        theme.flow(buttons, [b for t, b in self.buttons.items() if t != "Close"], [close])
        self.root.bind("<Alt-c>", lambda _event: self.root.destroy())
        self.root.bind("<Escape>", lambda _event: self.root.destroy())
        if items:
            self.tree.selection_set("0")
            self.tree.focus("0")
            self.show_selected()
        if tray is not None:
            hear_the_tray(self.root, tray, self._heard, first_ms=100)
        self.body.request()
        theme.fit(self.root, 900, 640, min_width=600, min_height=400)

    # The list's columns: name, heading, width. The History window adds the folder.
    COLUMNS: tuple[tuple[str, str, int], ...] = (
        ("time", "Time", 170), ("change", "Change", 190), ("path", "Path", 520),
    )  # fmt: skip

    def _above_list(self, frame: Any) -> None:
        """What goes between the title and the list (the History window's filters)."""

    def row_values(self, index: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The values of row ``index`` (by :attr:`COLUMNS`) and its tags."""
        item = self.items[index]
        change = str(item.get("change", ""))
        suspicious = bool(item.get("suspicious"))
        label = f"SUSPICIOUS {change}" if suspicious else change
        if item.get("verified") is False:  # a history line whose MAC does not hold
            label += " (not verified)"
        tags: tuple[str, ...] = ("suspicious",) if suspicious else ()
        label, tags = self.labels.get(index, (label, tags))
        cells = {"time": time_of(item), "change": label, "path": name_of(item),
                 "folder": os.path.basename(name_from(item, "folder") or "")}  # fmt: skip
        return tuple(cells.get(name, "") for name, _l, _w in self.COLUMNS), tags

    def fill(self, indexes: Sequence[int] | range, note: str | None = None) -> None:
        """Show the rows ``indexes`` of :attr:`items` (never more than a page of them)."""
        self.tree.delete(*self.tree.get_children())
        at = [name for name, _label, _width in self.COLUMNS].index("change")
        changes: list[str] = []
        for index in indexes:
            values, tags = self.row_values(index)
            self.tree.insert("", "end", iid=str(index), values=values, tags=tags)
            changes.append(values[at])
        self._fit_changes(changes)
        shown = len(indexes)
        self.count.configure(text=note or f"{shown:,} {'entry' if shown == 1 else 'entries'}; "
                             "select one to see it in full")  # fmt: skip

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
        self.full_path.configure(text=whole_path(item))
        # Restore needs a kept copy: offered only where the folder keeps copies.
        restorable = keeps_copies(self.service, item)
        self.buttons["Restore"].state(["!disabled" if restorable else "disabled"])
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
        self._say(outcome.message, GREEN if outcome.ok else RED)
        if outcome.ok and outcome.changed:
            answer("restored", [item])  # the tray checks the folder again: the icon follows
            self._mark(chosen[0], f"restored ({item.get('change', '')})", ("accepted",))
            self.show_diff(item)

    def _accept(self, indexes: list[int]) -> None:
        """Ask the tray to accept these; a row says "accepted" only when the tray says it was
        (a file that changed again since this window opened is refused, and its row stays)."""
        done = self.accepted | self.asked | self.settled
        todo = [i for i in indexes if i not in done and self.items[i].get("signature")]
        if not todo:
            return
        answer("accept", [self.items[i] for i in todo])
        if self.tray is None:  # nobody to answer: as asked
            self._took(todo, set(todo))
            return
        self.asked.update(todo)
        for index in todo:
            self._mark(index, f"accepting... ({self.items[index].get('change', '')})", ())
        self._say("Accepting...", "#555555")

    def _took(self, asked: list[int], taken: set[int], error: str | None = None) -> None:
        """The tray's answer: ``taken`` went into the baseline; the rest of ``asked`` did not."""
        for index in asked:
            change = self.items[index].get("change", "")
            if index in taken:
                self.accepted.add(index)
                self._mark(index, f"accepted ({change})", ("accepted",))
            else:
                self._mark(index, change, ("suspicious",) if self.items[index].get("suspicious")
                           else ())  # fmt: skip
        refused = [i for i in asked if i not in taken]
        if error is not None:
            self._say(f"Not accepted: {error}", RED)
        elif refused:
            names = ", ".join(name_of(self.items[i]) for i in refused[:3])
            more = f" and {len(refused) - 3:,} more" if len(refused) > 3 else ""
            self._say(
                f"Not accepted: {names}{more} changed again since this window opened, or is no "
                "longer pending. Its latest state is in the tray's Recent changes.",
                RED,
            )
        else:
            count = len(taken)
            self._say(f"Accepted {count:,} change{'s' if count != 1 else ''}.", GREEN)

    def _say(self, text: str, color: str) -> None:
        """The status line, and the same words on stderr, which the tray logs."""
        color = {RED: self.palette["bad"], GREEN: self.palette["good"]}.get(color, color)
        self.status.configure(text=text, foreground=color)
        print(f"status: {text}", file=sys.stderr, flush=True)

    def _mark(self, index: int, label: str, tags: tuple[str, ...]) -> None:
        self.labels[index] = (label, tags)
        if self.tree.exists(str(index)):  # a row on another page shows it when shown
            values, _tags = self.row_values(index)
            self.tree.item(str(index), values=values, tags=tags)
            self._fit_changes([label], grow=True)
        print(f"row {name_of(self.items[index])}: {label}", file=sys.stderr, flush=True)

    def _fit_changes(self, texts: Sequence[str], *, grow: bool = False) -> None:
        """The Change column as wide as its longest text shown (within reason)."""
        least = next(width for name, _label, width in self.COLUMNS if name == "change")
        theme.fit_column(self.tree, "change", texts, least=least, cap=CHANGE_CAP, grow=grow)

    def _heard(self, message: dict[str, Any]) -> None:
        """What the tray said: accept results, ignores, the pending changes of a folder."""
        if "accepted" in message:
            taken = keys(message.get("accepted"))
            asked = sorted(self.asked)
            self.asked.clear()
            hit = {i for i in asked if key_of(self.items[i]) in taken}
            self._took(asked, hit, message.get("error"))
        for word in ("ignored", "unignored"):
            if isinstance(message.get(word), dict):
                self._ignored(message[word], undone=word == "unignored")
        pending = message.get("pending")
        if isinstance(pending, dict):
            self._settle(str(pending.get("folder")), keys(pending.get("keys")))

    def _settle(self, folder: str, pending: set[tuple[str | None, str | None]]) -> None:
        """Rows of ``folder`` no longer pending (accepted from the menu, changed again): said so,
        and not offered for accepting."""
        still = {path for path, _sig in pending}  # paths pending, with whatever change now
        for index, item in enumerate(self.items):
            if index in self.accepted | self.asked | self.settled or not item.get("signature"):
                continue
            if name_from(item, "folder") == folder and key_of(item) not in pending:
                self.settled.add(index)
                change = item.get("change", "")
                if key_of(item)[0] in still:  # pending still, as another change than shown
                    self._mark(index, f"changed again ({change}): see Recent changes", ())
                else:
                    self._mark(index, f"no longer pending ({change})", ("accepted",))

    # -- ignore, and its undo ------------------------------------------------------------------

    def ignore_selected(self) -> None:
        """Ask how to ignore the selected file; the tray adds the pattern and drops the pending
        changes it covers, and says which (see :meth:`_ignored`)."""
        chosen = self.selected()
        if not chosen:
            return
        item = self.items[chosen[0]]
        folder = name_from(item, "folder") or ""
        pattern = ignoring.ask(self.root, item) if ignoring.choices(item) else None
        if pattern is None:
            if not ignoring.choices(item):
                self._say("That line names no file to ignore.", RED)
            return
        send({"action": "ignore", "folder": folder, "pattern": pattern})
        self._say(f"Ignoring {pattern}...", "#555555")
        if self.tray is None:  # nobody to answer: as asked
            self._ignored({"folder": folder, "pattern": pattern, "dropped": []}, undone=False)

    def undo_ignore(self) -> None:
        if self.ignoring is None:
            return
        folder, pattern, _rows = self.ignoring
        send({"action": "unignore", "folder": folder, "pattern": pattern})
        self._say(f"No longer ignoring {pattern}...", "#555555")
        if self.tray is None:
            self._ignored({"folder": folder, "pattern": pattern}, undone=True)

    def _ignored(self, said: dict[str, Any], *, undone: bool) -> None:
        """The tray's answer to an ignore (or its undo): the rows it covered are marked."""
        folder, pattern = str(said.get("folder", "")), str(said.get("pattern", ""))
        if said.get("error"):
            self._say(f"Not {'undone' if undone else 'ignored'}: {said['error']}", RED)
            return
        if undone:
            for index in self.ignoring[2] if self.ignoring is not None else set():
                self.settled.discard(index)
                self.labels.pop(index, None)
                if self.tree.exists(str(index)):
                    values, tags = self.row_values(index)
                    self.tree.item(str(index), values=values, tags=tags)
            self.ignoring = None
            self.buttons["Undo"].state(["disabled"])
            self._say(f"No longer ignoring {pattern}: its changes are checked again.", GREEN)
            return
        if said.get("changed") is False:  # ignored already: nothing to undo here
            self._say(ignored_words(pattern, 0, changed=False), GREEN)
            return
        dropped = {str(p) for p in said.get("dropped") or []}
        rows: set[int] = set()
        for index, item in enumerate(self.items):
            mine = name_from(item, "folder") == folder and name_from(item, "path") in dropped
            if mine and index not in self.accepted | self.settled:
                rows.add(index)
                self.settled.add(index)
                self._mark(index, f"ignored ({item.get('change', '')})", ("accepted",))
        self.ignoring = (folder, pattern, rows)
        self.buttons["Undo"].state(["!disabled"])
        self._say(ignored_words(pattern, len(dropped), changed=True), GREEN)

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
            self._say("Not opened: that line names a folder fim-tray does not watch.", RED)
            return
        self.opener(folder)

    def run(self) -> None:
        self.root.mainloop()


def main(argv: Sequence[str]) -> int:
    """``_details FILE`` shows the changes in FILE (JSON written by the tray); ``_details
    --history`` the whole history."""
    from fim_tray.platform.opener import open_folder

    history = False  # the whole history is the History window's (ui/history.py)
    if argv:
        source = Path(argv[0])
        doc = jsonio.loads(source.read_bytes())
        source.unlink(missing_ok=True)  # read: nothing of it stays in the temporary folder
        items, title = list(doc["items"]), str(doc.get("title", "Changes"))
    else:
        print("usage: fim-tray _details FILE", file=sys.stderr)
        return 2
    tray = listen() if not sys.stdin.isatty() else None
    try:
        window = DetailsWindow(title, items, open_folder, Service(), history=history, tray=tray)
    except Exception as exc:  # no display, no Tk: say so, plainly
        print(f"cannot open the details window: {exc}", file=sys.stderr)
        return 2
    window.run()
    return 0
