"""The changes as ECS events: a check's new changes as they are sent, and the history as it was
written, each line with its place in the chain, for back-filling a SIEM (``history --ecs``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from fim_tray import jsonio, logs
from fim_tray.alerts.ecs import Chain, Origin, ecs_event
from fim_tray.models import Change, Event, FolderReport
from fim_tray.store.history import History, change_json, unseal
from fim_tray.store.names import decode_name, name_from

log = logs.getLogger(__name__)
# A history line's own keys; the others (who accepted, what went with a folder) are the line's
# extras, carried under fim_tray.
_LINE_KEYS = frozenset(
    {"id", "time", "folder", "folder_b64", "path", "path_b64", "change", "suspicious", "fields",
     "before", "after", "signature", "n", "prev", "chain"}
)  # fmt: skip


def live_event(change: Change, report: FolderReport, event_id: str = "") -> Event:
    obj = change_json(change, report.folder.path, report.time)
    return Event(
        id=event_id,
        time=report.time,
        folder=report.folder.path,
        path=change.path,
        change=change.kind,
        suspicious=change.suspicious,
        fields=change.fields,
        before=obj["before"],
        after=obj["after"],
        signature=change.signature(),
    )


def live_items(
    report: FolderReport, origin: Origin, history: History | None
) -> list[tuple[dict[str, Any], Event, Chain | None]]:
    """The report's new changes, in the order they were found: each as an ECS event (with the
    process that was writing the file when that is known), as an event, and with its history
    line's number and MAC when ``history`` holds it (the check wrote it just now)."""
    signatures = {change.signature() for change in report.new}
    found = _newest_lines(history, signatures) if history is not None else {}
    out = []
    for change in report.new:
        event_id, chain = found.get(change.signature(), ("", None))
        event = live_event(change, report, event_id)
        ecs = ecs_event(event, origin, chain=chain, process=report.hints.get(change.path))
        out.append((ecs, event, chain))
    return out


def _newest_lines(history: History, signatures: set[str]) -> dict[str, tuple[str, Chain | None]]:
    """signature -> (event id, place in the chain) of the newest history lines that hold these
    changes; what cannot be read is left out (the events go without it)."""
    found: dict[str, tuple[str, Chain | None]] = {}
    try:
        files = history.files()
        if not files:
            return found
        key = history.key_if_chained()
        lines = jsonio.read_own(files[-1], limit=64 * 1024 * 1024).splitlines()
    except Exception:  # a history that cannot be read now: the alerts go all the same
        log.debug("cannot read the history's newest lines", exc_info=True)
        return found
    for line in reversed(lines[-(len(signatures) + 64) :]):
        try:
            body, mac = unseal(line, key)
            obj = jsonio.loads(body)
            signature, seq = obj.get("signature"), obj.get("n")
        except (ValueError, TypeError, AttributeError, RecursionError):
            continue
        if signature in signatures and signature not in found:
            chain = Chain(seq, mac) if mac is not None and isinstance(seq, int) else None
            found[str(signature)] = (str(obj.get("id", "")), chain)
    return found


def history_ecs(history: History, origin: Origin, limit: int | None = None) -> list[dict[str, Any]]:
    """The newest ``limit`` lines of the history (all when None) as ECS events, oldest first;
    each chained line carries its number and MAC (``fim_tray.history``), and ``verified``."""
    found = list(_records(history))
    if limit is not None:
        found = found[-limit:] if limit > 0 else []
    out = []
    for event, chain in found:
        obj = ecs_event(event, origin, chain=chain)
        obj["fim_tray"]["verified"] = chain is not None
        out.append(obj)
    return out


def line_event(obj: dict[str, Any]) -> Event:
    """A history line's JSON (without its chain) as an event; ``KeyError``, ``ValueError`` or
    ``TypeError`` when it is not one."""
    folder = name_from(obj, "folder")
    if folder is None:
        raise KeyError("folder")
    return Event(
        id=str(obj["id"]), time=datetime.fromisoformat(obj["time"]), folder=folder,
        path=decode_name(obj), change=str(obj["change"]),
        suspicious=bool(obj.get("suspicious", False)),
        fields=tuple(obj.get("fields", ())), before=obj.get("before"),
        after=obj.get("after"), signature=obj.get("signature"),
        extra={k: v for k, v in obj.items() if k not in _LINE_KEYS},
    )  # fmt: skip


def _records(history: History) -> Iterator[tuple[Event, Chain | None]]:
    try:
        key = history.key_if_chained()
    except Exception:  # a head that cannot be used: lines are shown as not verified
        log.warning("the history cannot be verified", exc_info=True)
        key = None
    for path in history.files():
        try:
            data = jsonio.read_own(path, limit=64 * 1024 * 1024)
        except OSError as exc:
            log.warning("cannot read history %s: %s", path, exc)
            continue
        for number, line in enumerate(data.splitlines(), 1):
            if not line.strip():
                continue
            try:
                body, mac = unseal(line, key)
                obj = jsonio.loads(body)
                event = line_event(obj)
                seq = obj.get("n")
                chain = Chain(seq, mac) if mac is not None and isinstance(seq, int) else None
            except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
                log.warning("skipping damaged line %d of %s", number, path)
                continue
            yield event, chain
