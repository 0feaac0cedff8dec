"""The History window: every folder's history, newest first, with a folder column, filters by
folder, kind, text and dates, pages of :data:`PAGE` rows (so 100,000 entries never freeze it),
and export to CSV or JSON. The details of the selected entry are the details window's."""

from __future__ import annotations

import queue
import sys
import threading
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

from fim_tray.app.service import Service
from fim_tray.ui import history_data as data
from fim_tray.ui import theme
from fim_tray.ui.details import GREEN, RED, DetailsWindow, on_key
from fim_tray.ui.wire import items_from_events

FILTER_DELAY_MS = 250  # typing in the text filter: filter once the typing pauses


class HistoryWindow(DetailsWindow):
    """:class:`DetailsWindow` over the whole history, read on a thread after the window shows."""

    COLUMNS = (
        ("time", "Time", 170), ("change", "Change", 150), ("folder", "Folder", 220),
        ("path", "Path", 380),
    )  # fmt: skip

    def __init__(self, opener: Any, service: Service, **options: Any) -> None:
        self.shown: list[int] = []
        self.page = 0
        self._pending_filter: str | None = None
        super().__init__("History", [], opener, service, history=True, **options)
        self.fill([], note="Reading the history...")
        self._load()

    # -- the filter bar --------------------------------------------------------------------------

    def _above_list(self, frame: Any) -> None:
        import tkinter as tk
        from tkinter import ttk

        bar = ttk.Frame(frame)
        bar.pack(fill="x", pady=(8, 0))
        self.folder_var = tk.StringVar(self.root, "All folders")
        self.kind_var = tk.StringVar(self.root, "All kinds")
        self.text_var = tk.StringVar(self.root, "")
        self.when_var = tk.StringVar(self.root, data.WHEN[0])
        self.from_var = tk.StringVar(self.root, "")
        self.to_var = tk.StringVar(self.root, "")
        # Each filter a caption and its field, as many to a row as the width takes.
        pairs = [ttk.Frame(bar) for _ in range(6)]
        self.folder_box = ttk.Combobox(pairs[0], textvariable=self.folder_var, state="readonly",
                                       width=28, values=["All folders"])  # fmt: skip
        self.kind_box = ttk.Combobox(pairs[1], textvariable=self.kind_var, state="readonly",
                                     width=12, values=["All kinds"])  # fmt: skip
        self.find = ttk.Entry(pairs[2], textvariable=self.text_var, width=22)
        when = ttk.Combobox(pairs[3], textvariable=self.when_var, state="readonly", width=12,
                            values=list(data.WHEN))  # fmt: skip
        self.from_entry = ttk.Entry(pairs[4], textvariable=self.from_var, width=11)
        self.to_entry = ttk.Entry(pairs[5], textvariable=self.to_var, width=11)
        for pair, (caption, widget, underline) in zip(pairs, (
            ("Folder", self.folder_box, -1), ("Kind", self.kind_box, -1),
            ("Find", self.find, 0), ("When", when, -1),
            ("From", self.from_entry, -1), ("To", self.to_entry, -1),
        ), strict=True):  # fmt: skip
            ttk.Label(pair, text=caption, underline=underline).pack(side="left", padx=(0, 4))
            widget.pack(side="left", padx=(0, 6), pady=2)
        theme.flow(bar, pairs)
        for box in (self.folder_box, self.kind_box, when):
            box.bind("<<ComboboxSelected>>", lambda _e: self.apply_filter())
        self.text_var.trace_add("write", lambda *_a: self._filter_soon())
        for entry in (self.from_entry, self.to_entry):
            entry.bind("<Return>", lambda _e: self.apply_filter())
            entry.bind("<FocusOut>", lambda _e: self.apply_filter())
        self.root.bind("<Alt-f>", lambda _e: self.find.focus_set())
        self.filter_error = ttk.Label(frame, text="", foreground=self.palette["bad"])
        self.filter_error.pack(anchor="w")

        pages = ttk.Frame(frame)
        pages.pack(fill="x")
        self.newer = ttk.Button(pages, text="Newer page", underline=0, command=self.newer_page)
        self.older = ttk.Button(pages, text="Older page", underline=3, command=self.older_page)
        self.root.bind("<Alt-n>", lambda _e: self.newer_page())
        self.root.bind("<Alt-e>", lambda _e: self.older_page())
        exports = []
        for text, underline, kind, key in (("Export JSON...", 7, "json", "j"),
                                           ("Export CSV...", 1, "csv", "x")):  # fmt: skip
            command = partial(self.export, kind)
            exports.append(ttk.Button(pages, text=text, underline=underline, command=command))
            self.root.bind(f"<Alt-{key}>", on_key(command))
        theme.flow(pages, [self.newer, self.older], exports)

    def _filter_soon(self) -> None:
        if self._pending_filter is not None:
            self.root.after_cancel(self._pending_filter)
        self._pending_filter = self.root.after(FILTER_DELAY_MS, self.apply_filter)

    def query(self) -> data.Query:
        """The filters as set; a ValueError says what is wrong with a date."""
        folder = self.folder_var.get()
        kind = self.kind_var.get()
        since, until = data.bounds(self.when_var.get(), self.from_var.get(), self.to_var.get(),
                                   date.today())  # fmt: skip
        return data.Query(
            folder="" if folder == "All folders" else folder,
            kind="" if kind == "All kinds" else kind,
            text=self.text_var.get().strip(),
            since=since,
            until=until,
        )

    def apply_filter(self) -> None:
        self._pending_filter = None
        try:
            query = self.query()
        except ValueError as exc:
            self.filter_error.configure(text=f"Dates: {exc}.")
            return
        self.filter_error.configure(text="")
        self.shown = data.select(self.items, query)
        self.page = 0
        self.show_page()

    # -- pages -----------------------------------------------------------------------------------

    def show_page(self) -> None:
        start = self.page * data.PAGE
        rows = self.shown[start : start + data.PAGE]
        note = data.page_note(self.page, len(rows), len(self.shown), len(self.items))
        self.fill(rows, note=note)
        print(f"list: {note}", file=sys.stderr, flush=True)  # the tray logs what was shown
        self.newer.state(["!disabled" if self.page > 0 else "disabled"])
        self.older.state(["!disabled" if start + data.PAGE < len(self.shown) else "disabled"])
        if rows:
            self.tree.selection_set(str(rows[0]))
            self.tree.focus(str(rows[0]))
            self.tree.see(str(rows[0]))

    def newer_page(self) -> None:
        if self.page > 0:
            self.page -= 1
            self.show_page()

    def older_page(self) -> None:
        if (self.page + 1) * data.PAGE < len(self.shown):
            self.page += 1
            self.show_page()

    def accept_all(self) -> None:
        self._accept(self.shown[self.page * data.PAGE : (self.page + 1) * data.PAGE])

    # -- export ----------------------------------------------------------------------------------

    def export(self, kind: str) -> None:
        """The entries that pass the filters (every page) to a CSV or JSON file."""
        from tkinter import filedialog

        name = filedialog.asksaveasfilename(
            parent=self.root, title=f"fim-tray: export the history as {kind.upper()}",
            defaultextension=f".{kind}", initialfile=f"fim-tray-history.{kind}",
            filetypes=[(kind.upper(), f"*.{kind}"), ("All files", "*")],
        )  # fmt: skip
        if not name:
            return
        chosen = [self.items[i] for i in self.shown]
        text = data.to_csv(chosen) if kind == "csv" else data.to_json(chosen)
        try:
            Path(name).write_text(text, encoding="utf-8")
        except OSError as exc:
            self._say(f"Not exported: {exc.strerror or exc}.", RED)
            return
        said = data.plural(len(chosen), "entry", "entries")
        self._say(f"Exported {said} to {name}.", GREEN)

    # -- reading -----------------------------------------------------------------------------------

    def _load(self) -> None:
        """Read the history on a thread; the window stays responsive meanwhile."""
        box: queue.Queue[list[dict[str, Any]] | Exception] = queue.Queue()

        def read() -> None:
            try:
                box.put(items_from_events(reversed(self.service.history())))
            except Exception as exc:  # said in the window, never a dead window
                box.put(exc)

        threading.Thread(target=read, name="fim-tray-history-read", daemon=True).start()

        def look() -> None:
            try:
                got = box.get_nowait()
            except queue.Empty:
                self.root.after(100, look)
                return
            if isinstance(got, Exception):
                self.fill([], note=f"The history could not be read: {got}")
                return
            self.loaded(got)

        self.root.after(50, look)

    def loaded(self, items: list[dict[str, Any]]) -> None:
        self.items = items
        folders, kinds = data.choices(items)
        self.folder_box.configure(values=["All folders", *folders])
        self.kind_box.configure(values=["All kinds", *kinds])
        title = data.title(len(items))
        self.heading.configure(text=title)
        self.root.title(f"fim-tray: {title}")
        self.apply_filter()
        self.show_selected()


def main() -> int:
    """``_details --history``: the History window, hearing the tray on stdin."""
    from fim_tray.platform.opener import open_folder
    from fim_tray.ui.wire import listen

    tray = listen() if not sys.stdin.isatty() else None
    try:
        window = HistoryWindow(open_folder, Service(), tray=tray)
    except Exception as exc:  # no display, no Tk: say so, plainly
        print(f"cannot open the History window: {exc}", file=sys.stderr)
        return 2
    window.run()
    return 0
