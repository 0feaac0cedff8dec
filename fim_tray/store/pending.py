"""The signed pending file of each watched folder (``<id>.pending.json``): reading, writing and
mapping it.

It holds what a check already reported (so each change is announced once), when the folder was
last checked and last fully re-hashed, the last error, and the signature of the baseline
fim-tray last wrote. All of that steers what a person is told, so the file is signed with
HMAC-SHA256 under the install key, bound to its folder: a file that fails its signature (edited,
copied from another folder, made with another key, or written before files were signed) is
treated as absent, never trusted. Every current change is then reported as new again.

Layout, as for baselines: ``{"format":..., "hmac":"<hex>", "body":<json>}`` with the HMAC over
the body's exact bytes.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Collection, Mapping
from datetime import datetime
from pathlib import Path

from fim_tray import jsonio, logs
from fim_tray.store.names import decode_name, encode_name

log = logs.getLogger(__name__)

FORMAT = "fim-tray-pending"
_HEAD = b'{"format":"' + FORMAT.encode() + b'","hmac":"'
_BODY = b'","body":'
_TAIL = b"}\n"
_MAC_HEX = 2 * hashlib.sha256().digest_size
_warned: set[tuple[str, str]] = set()  # (file, digest of its content): each bad file warned once


def _mac(key: bytes, folder_id: str, body: bytes | memoryview) -> str:
    # The folder's id is signed too: a valid file of one folder is not valid for another. The
    # prefix can never start a baseline's body ("{"), so one MAC never passes for the other.
    mac = hmac.new(key, b"fim-tray pending\n" + folder_id.encode() + b"\n", hashlib.sha256)
    mac.update(body)
    return mac.hexdigest()


def serialize(obj: Mapping[str, object], key: bytes, folder_id: str) -> bytes:
    """The signed file content for the pending state ``obj``."""
    body = jsonio.dumps(dict(obj))
    return b"".join([_HEAD, _mac(key, folder_id, body).encode(), _BODY, body, _TAIL])


def parse(data: bytes, key: bytes, folder_id: str) -> dict[str, object] | None:
    """The pending state in ``data``; None unless it is signed by ``key`` for ``folder_id``."""
    start, end = len(_HEAD), len(_HEAD) + _MAC_HEX
    if not (
        len(data) > end + len(_BODY) + len(_TAIL)
        and data.startswith(_HEAD)
        and data.startswith(_BODY, end)
        and data.endswith(_TAIL)
    ):
        return None
    body = memoryview(data)[end + len(_BODY) : -len(_TAIL)]
    if not hmac.compare_digest(_mac(key, folder_id, body).encode(), data[start:end]):
        return None
    try:
        obj = jsonio.loads(bytes(body))
    except (ValueError, RecursionError):
        return None
    return obj if isinstance(obj, dict) else None


class PendingFile:
    """One folder's pending file. Callers that write hold the data lock."""

    def __init__(self, path: Path, key: bytes, folder_id: str) -> None:
        self.path = path
        self.key = key
        self.folder_id = folder_id

    def read(self, *, warn: bool = False) -> dict[str, object]:
        """The verified content; empty when there is none or it fails its signature (with a
        warning, once per file content, when ``warn``: where changes are reported anew)."""
        try:
            data = jsonio.read_own(self.path)
        except FileNotFoundError:  # none yet: as if never written
            return {}
        except OSError as exc:  # unreadable, or a link or FIFO in its place: as if never written
            if warn:
                log.warning("the pending list %s cannot be read (%s): every current change is "
                            "reported as new again", self.path, exc.strerror or exc)
            return {}
        obj = parse(data, self.key, self.folder_id)
        if obj is None and warn:
            seen = (str(self.path), hashlib.sha256(data).hexdigest())
            if seen not in _warned:
                _warned.add(seen)
                log.warning(
                    "the pending list %s fails its signature (changed outside fim-tray, or "
                    "written by an older version): it is ignored, so every current change is "
                    "reported as new again",
                    self.path,
                )
        return obj or {}

    def write(self, obj: Mapping[str, object]) -> None:
        jsonio.atomic_write(self.path, serialize(obj, self.key, self.folder_id))

    def signatures(self) -> set[str]:
        """The changes already reported."""
        signatures = self.read().get("signatures", [])
        return set(signatures) if isinstance(signatures, list) else set()

    def changes(self, *, warn: bool = False) -> dict[str, str] | None:
        """Pending changes as signature -> path; None for a file written before paths were
        kept with them (a full check then rewrites it)."""
        return pending_map(self.read(warn=warn))

    def baseline(self) -> str | None:
        """The signature of the baseline fim-tray last wrote; None when none is recorded."""
        value = self.read().get("baseline")
        return value if isinstance(value, str) else None

    def last_full_check(self) -> datetime | None:
        value = self.read().get("full_checked")
        try:
            return datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            return None

    def save(
        self,
        pending: Mapping[str, str],
        now: datetime,
        *,
        full: bool = False,
        baseline: str | None = None,
    ) -> None:
        """Record ``pending`` (signature -> path) as checked ``now``; ``full`` when every file
        was re-hashed; ``baseline`` is the signature of a baseline just saved (otherwise the
        one recorded is kept)."""
        old = self.read()
        obj = {
            "checked": now.isoformat(),
            "full_checked": now.isoformat() if full else old.get("full_checked"),
            "signatures": list(pending),
            "paths": {s: encode_name(p) for s, p in pending.items()},  # for targeted checks
            "baseline": baseline if baseline is not None else old.get("baseline"),
        }
        self.write(obj)

    def save_error(self, message: str, now: datetime) -> None:
        obj = self.read()
        obj.update(checked=now.isoformat(), error=message)
        self.write(obj)

    def keep_signatures(self, signatures: Collection[str]) -> None:
        """Keep only the pending changes named by ``signatures`` (after a restore settled the
        others); nothing is added."""
        obj = self.read()
        seen = obj.get("signatures")
        if not isinstance(seen, list):
            return
        obj["signatures"] = [s for s in seen if s in signatures]
        paths = obj.get("paths")
        if isinstance(paths, dict):
            obj["paths"] = {s: p for s, p in paths.items() if s in signatures}
        self.write(obj)


def pending_map(obj: Mapping[str, object]) -> dict[str, str] | None:
    """The signature -> path map of a pending file's content (see :meth:`PendingFile.changes`)."""
    signatures, paths = obj.get("signatures", []), obj.get("paths")
    if not isinstance(signatures, list) or not isinstance(paths, dict):
        return None if signatures else {}
    try:
        return {s: decode_name(paths[s]) for s in signatures}
    except (KeyError, TypeError, ValueError):
        return None
