"""The install key: the per-install HMAC key that signs baselines, their caches, pending files and
the history's restore lines, created on first use and kept apart from the data it signs."""

from __future__ import annotations

import os
import string
import time
from pathlib import Path

from fim_tray import jsonio
from fim_tray.errors import BaselineError, StorageError

KEY_BYTES = 32
KEY_WAIT = 2.0  # seconds to wait for a key file another process has created but not yet filled


def _read(path: Path) -> bytes:
    """The key in ``path``, waiting a little while another process may still be writing it."""
    deadline = time.monotonic() + KEY_WAIT
    while True:
        text = jsonio.read_own(path, limit=4096).decode("ascii").strip()
        # Created but not yet filled (see the O_EXCL below): wait for the rest.
        partial = len(text) < 2 * KEY_BYTES and all(c in string.hexdigits for c in text)
        if not partial or time.monotonic() >= deadline:
            break
        time.sleep(0.01)
    key = bytes.fromhex(text)
    if len(key) != KEY_BYTES:
        raise ValueError(f"it holds {len(key)} bytes instead of {KEY_BYTES}")
    return key


def _error(path: Path, exc: Exception) -> BaselineError:
    return BaselineError(
        f"The install key {path} cannot be read ({exc}); baselines cannot be verified without "
        "it. Restore it from a backup, or delete it and re-add your folders."
    )


def load_or_create(path: Path) -> bytes:
    """The per-install HMAC key, created (0600, 32 random bytes) on first use."""
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
        raise _error(path, exc) from exc
    key = os.urandom(KEY_BYTES)  # what secrets.token_bytes gives, without importing random
    try:
        jsonio.private_dir(path.parent)
        fd = jsonio.open_own(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        try:
            return _read(path)
        except (OSError, ValueError) as exc:
            raise _error(path, exc) from exc
    except OSError as exc:
        raise StorageError(f"Could not create the install key {path}: {exc.strerror}.") from exc
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(key.hex() + "\n")
        out.flush()
        os.fsync(out.fileno())
    return key
