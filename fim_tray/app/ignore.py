"""Ignore patterns: adding, listing and removing one watched folder's exclude globs, with what
an added one covers dropped from the folder's pending changes and its baseline (said in the
history), and its baseline records put back when it is removed (an undo, or later).

A pattern follows the exclude rules of ``scan/excludes.py``: ``*.log`` is every such file at any
depth, ``logs/app.log`` one path, ``cache/`` a folder and all below it.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from fim_tray.display import escape
from fim_tray.errors import ConfigError
from fim_tray.models import Entry, Folder
from fim_tray.records import records_of
from fim_tray.scan.excludes import Excluder
from fim_tray.store.baseline import SET_ASIDE, Baseline
from fim_tray.store.config import Config
from fim_tray.store.history import folder_line
from fim_tray.store.names import names_fields
from fim_tray.store.pending import pending_map
from fim_tray.store.state import Store

MAX_PATTERN = 1024


@dataclass(frozen=True)
class IgnoreResult:
    """What adding (or removing) one pattern did. ``dropped``: the pending changes' paths it
    covered, no longer pending; ``forgotten``: the baseline records it took out (for a
    removal: those it put back); ``changed`` is False when the pattern was already there (or,
    for a removal, was not); ``note``: how the pattern given was taken (see
    :attr:`Checked.note`)."""

    folder: str
    pattern: str
    changed: bool
    dropped: tuple[str, ...] = ()
    forgotten: Mapping[str, Entry] = field(default_factory=dict)
    note: str = ""


class Checked(NamedTuple):
    """A pattern as it will be kept, and as it was given."""

    pattern: str
    given: str

    @property
    def note(self) -> str:
        """What to tell the person when a path given whole was taken relative to the watched
        folder (empty when the pattern is kept as given)."""
        if self.pattern == self.given:
            return ""
        return f"taken as {self.pattern}, relative to the watched folder"


def check_pattern(pattern: str, folder: str | None = None) -> Checked:
    """The pattern as it will be kept, or a :class:`ConfigError` saying what is wrong. Given
    the watched ``folder``, an absolute path inside it is taken relative to it (anchored there:
    ``/home/u/Docs/logs/*.log`` is ``logs/*.log``, ``/home/u/Docs/app.log`` is ``/app.log``),
    and one outside it is refused. A leading ``/`` otherwise anchors the pattern at the
    watched folder (``/logs/*.log``)."""
    given = pattern.strip()
    text = given
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # bytes that are not UTF-8, typed in a terminal
        raise ConfigError(
            "An ignore pattern must be text (UTF-8): write ? for a byte that is not (caf?.txt)."
        ) from None
    if folder is not None and text.startswith("/"):
        inside = _below(text, folder)
        if inside is not None:
            if not inside.strip("/"):
                raise ConfigError(
                    f"{text!r} is the watched folder itself: a pattern names what is in it."
                )
            text = anchored(inside)
    if not text or text in ("/", "*/", "**/"):
        raise ConfigError("An ignore pattern cannot be empty or name the whole folder.")
    if len(text) > MAX_PATTERN or any(c in text for c in "\0\n\r"):
        raise ConfigError("An ignore pattern must be one short line of text.")
    probes = ("a", "x.y", ".hidden", "Z9_-~", "notes.txt")
    if all(fnmatch.fnmatchcase(probe, text.rstrip("/").split("/")[-1]) for probe in probes) and (
        "/" not in text.strip("/")
    ):
        raise ConfigError(f"{text!r} matches every name: it would quiet the whole folder.")
    if ".." in text.strip("/").split("/"):
        raise ConfigError(f"{text!r}: a pattern names paths inside the folder, never '..'.")
    return Checked(text, given)


def anchored(rel: str) -> str:
    """The pattern for ``rel``, a path (or glob) relative to the watched folder: as it is when
    it holds a ``/`` (it is matched against the relative path), else with a leading ``/`` (so
    it names the top of the folder only, not a name at any depth). Never a leading ``/`` before
    a ``/`` within: that reads as a path from the top of the file system (see
    :func:`check_pattern`)."""
    return rel if "/" in rel.rstrip("/") else "/" + rel


def _below(text: str, folder: str) -> str | None:
    """What the pattern ``text`` (it starts with ``/``) names below ``folder`` when it is an
    absolute path into it (possibly through a link); None when it is a pattern anchored at
    the folder; a :class:`ConfigError` when it is an absolute path outside the folder: its
    first name is not in the folder, and is at the top of the file system."""
    for base in dict.fromkeys((folder, os.path.realpath(folder))):
        if text.rstrip("/") == base.rstrip("/") or text.startswith(base.rstrip("/") + "/"):
            return text[len(base.rstrip("/")) :].lstrip("/")
    names = text.rstrip("/").split("/")[1:]
    leading: list[str] = []  # the folders above the last name, up to the first glob
    for name in names[:-1]:
        if not name or any(c in name for c in "*?["):
            break
        leading.append(name)
    if not leading or os.path.lexists(os.path.join(folder, leading[0])):
        return None  # "/app.log", "/logs/*.log" with a logs/ in the folder: anchored there
    above = "/" + "/".join(leading)
    real, home = os.path.realpath(above), os.path.realpath(folder)
    if real == home or real.startswith(home.rstrip("/") + "/"):  # through a link
        return (real[len(home) :] + text[len(above) :]).lstrip("/")
    if os.path.lexists("/" + leading[0]):
        raise ConfigError(
            f"{escape(text)} is outside the watched folder {escape(folder)}: an ignore pattern "
            "names files in it, by their path in it (logs/*.log) or their name (*.log)."
        )
    return None


def patterns(store: Store, path: str) -> tuple[str, ...]:
    """The folder's own ignore patterns (the settings' global excludes are not among them)."""
    return store.folder(path).excludes


def covers(excluder: Excluder, rel: str, is_dir: bool, mode: int) -> bool:
    """Whether the relative path ``rel`` is left out by ``excluder`` (itself, or a folder
    above it)."""
    parts = rel.split("/")
    for depth in range(1, len(parts)):
        if excluder.skips_folder(parts[depth - 1], "/".join(parts[:depth])):
            return True
    return excluder.skips(parts[-1], rel, is_dir, lambda: mode)


def ignore(store: Store, path: str, pattern: str) -> IgnoreResult:
    """Add ``pattern`` to the folder's ignore patterns; its pending changes and baseline
    records it covers go, and a history line says which (change "ignored"). The records are
    kept aside, signed, for :func:`unignore` to put back. The pattern is checked (and an
    absolute path taken relative to the folder) by :func:`check_pattern`."""
    checked = check_pattern(pattern, store.folder(path).path)
    pattern = checked.pattern
    with store.locked():
        config = store.config()
        folder = store.folder(path)
        if pattern in folder.excludes:
            return IgnoreResult(folder.path, pattern, False, note=checked.note)
        excluder = Excluder([pattern])
        trusted = store.load_baseline(folder)
        forgotten = {
            rel: entry
            for rel, entry in trusted.entries.items()
            if rel not in ("", ".") and covers(excluder, rel, entry.type == "dir", entry.mode)
        }
        pending_file = store.pending(folder)
        obj = pending_file.read()
        pending = pending_map(obj) or {}
        gone = {s: p for s, p in pending.items() if _covered_now(excluder, folder, p, forgotten)}
        now = store.clock()
        store.history.append_records(
            [
                folder_line(  # a name not UTF-8 among them: its bytes, under dropped_b64
                    folder.path,
                    "ignored",
                    now,
                    pattern=pattern,
                    **names_fields(sorted(set(gone.values())), "dropped"),
                )
            ]
        )
        updated = folder._replace(excludes=(*folder.excludes, pattern))
        store.save_config(_with(config, updated))
        if forgotten:
            entries = records_of(trusted.entries)  # loaded for this: changed in place
            for rel in forgotten:
                del entries[rel]
            aside = set_aside(trusted)
            aside[pattern] = store.set_aside(folder, pattern, forgotten)  # before what names it
            extra = {**trusted.extra, SET_ASIDE: aside}
            obj["baseline"] = store.save_baseline(
                folder, trusted._replace(entries=entries, extra=extra)
            )
        if gone or forgotten:
            _keep(obj, set(pending) - set(gone))
            pending_file.write(obj)
    dropped = tuple(sorted(set(gone.values())))
    return IgnoreResult(folder.path, pattern, True, dropped, forgotten, checked.note)


def unignore(store: Store, path: str, pattern: str) -> IgnoreResult:
    """Remove ``pattern``. The baseline records it took out go back (an undo, and a removal
    later on, alike): a file it hid that has not changed since is no change, one changed
    meanwhile is reported against its old record, and what was pending before it is pending
    again. A record another of the folder's patterns still covers stays set aside, for that
    one. A file it hid that has no record (new while it was ignored, or ignored by an earlier
    version, which kept none) is reported as added at the next check."""
    with store.locked():
        config = store.config()
        folder = store.folder(path)
        if pattern not in folder.excludes:  # given as it was when added: a path taken relative
            with contextlib.suppress(ConfigError):
                pattern = check_pattern(pattern, folder.path).pattern
        if pattern not in folder.excludes:
            return IgnoreResult(folder.path, pattern, False)
        store.history.append_records(
            [folder_line(folder.path, "unignored", store.clock(), pattern=pattern, dropped=[])]
        )
        updated = folder._replace(excludes=tuple(p for p in folder.excludes if p != pattern))
        store.save_config(_with(config, updated))
        put_back = _take_back(store, updated, pattern)
    return IgnoreResult(folder.path, pattern, True, (), put_back)


def put_back_orphans(store: Store, path: str) -> dict[str, Mapping[str, Entry]]:
    """Put back the records set aside for patterns the folder no longer has (taken out of the
    settings file by hand, not through :func:`unignore`), as :func:`unignore` would, each said
    in the history; {pattern: the records put back}, empty when there were none."""
    with store.locked():
        folder = store.folder(path)
        aside = set_aside(store.load_baseline(folder, only=()))  # its head: no entry read
        orphans = [pattern for pattern in aside if pattern not in folder.excludes]
        if not orphans:
            return {}
        now = store.clock()
        store.history.append_records(
            [folder_line(folder.path, "unignored", now, pattern=p, dropped=[]) for p in orphans]
        )
        return {pattern: _take_back(store, folder, pattern) for pattern in orphans}


def _take_back(store: Store, folder: Folder, pattern: str) -> Mapping[str, Entry]:
    """Put the records ``pattern`` set aside back into the baseline of ``folder`` (whose
    patterns no longer hold it); the records put back. The data lock held."""
    aside = set_aside(store.load_baseline(folder, only=()))  # its head: no entry read
    signature = aside.pop(pattern, None)
    if signature is None:
        return {}
    records: Mapping[str, Entry] = store.taken_back(folder, pattern, signature) or {}
    trusted = store.load_baseline(folder)
    entries = records_of(trusted.entries)  # loaded for this: changed in place
    others = [(other, Excluder([other])) for other in folder.excludes]
    put_back: dict[str, Entry] = {}
    still: dict[str, dict[str, Entry]] = {}
    for rel, entry in records.items():
        is_dir = entry.type == "dir"
        held = next((o for o, ex in others if covers(ex, rel, is_dir, entry.mode)), None)
        if held is not None:
            still.setdefault(held, {})[rel] = entry
        elif rel not in entries:  # what was recorded since stays
            entries[rel] = put_back[rel] = entry
    for other, more in still.items():
        kept = store.taken_back(folder, other, aside[other]) if other in aside else None
        aside[other] = store.set_aside(folder, other, {**(kept or {}), **more})
    extra = {k: v for k, v in trusted.extra.items() if k != SET_ASIDE}
    if aside:
        extra[SET_ASIDE] = aside
    signed = store.save_baseline(folder, trusted._replace(entries=entries, extra=extra))
    pending_file = store.pending(folder)
    obj = pending_file.read()
    obj["baseline"] = signed
    pending_file.write(obj)
    store.drop_set_aside(folder, pattern)  # once the baseline no longer names it
    return put_back


def set_aside(trusted: Baseline) -> dict[str, str]:
    """{pattern: the signature of the file of records it set aside} that a baseline names."""
    named = trusted.extra.get(SET_ASIDE)
    if not isinstance(named, dict):
        return {}
    return {p: s for p, s in named.items() if isinstance(p, str) and isinstance(s, str)}


def _covered_now(excluder: Excluder, folder: Folder, rel: str, known: Mapping[str, Entry]) -> bool:
    """Whether a pending path is covered: a folder or a file as the disk (or the baseline,
    for one gone) has it."""
    try:
        mode = os.lstat(os.path.join(folder.path, rel)).st_mode
        is_dir = stat.S_ISDIR(mode)
    except OSError:
        entry = known.get(rel)
        is_dir, mode = (entry.type == "dir", entry.mode) if entry is not None else (False, 0)
    return covers(excluder, rel, is_dir, mode)


def _keep(obj: dict[str, object], signatures: set[str]) -> None:
    seen = obj.get("signatures")
    if isinstance(seen, list):
        obj["signatures"] = [s for s in seen if s in signatures]
    paths = obj.get("paths")
    if isinstance(paths, dict):
        obj["paths"] = {s: p for s, p in paths.items() if s in signatures}


def _with(config: Config, folder: Folder) -> Config:
    return config._replace(
        folders=tuple(folder if f.path == folder.path else f for f in config.folders)
    )
