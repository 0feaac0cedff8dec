"""The store of saved copies: file contents kept once by digest, compressed when it pays, verified
on read.

A saved copy lives at ``<data>/snapshots/<first 2 hex>/<digest>`` (``<digest>.<algorithm>`` for
algorithms other than SHA-256). Its file is a small header (magic, codec, algorithm, original
size) and the content, raw or compressed. The digest in the name is the baseline's own digest,
so a copy is read back only when its content still hashes to it.
"""

from __future__ import annotations

import contextlib
import errno
import lzma
import os
import re
import tempfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

from fim_tray import jsonio
from fim_tray.errors import CopyDamagedError, CopyError, StorageError
from fim_tray.scan.hashing import ALGORITHMS, DEFAULT_ALGORITHM, new_hash

MAGIC = b"FIMSNAP1"
RAW, ZLIB, LZMA = 0, 1, 2
CODEC_NAMES = {RAW: "raw", ZLIB: "zlib", LZMA: "lzma"}
WORTH = 0.9  # compress only when it saves at least a tenth: raw copies read back faster
TEMP_AGE = 3600.0  # a temporary file older than this was left by a crash
MAX_HEADER_SIZE = 1 << 40  # a header claiming more than this is damaged, not a real file
# The most a copy is read back as when the caller gives no limit: config.json's default
# copy_max_file_bytes (no copy bigger than the limit is ever stored).
DEFAULT_LIMIT = 10_000_000






@dataclass(frozen=True)
class Blob:
    """One stored copy: its digest and algorithm, file, bytes on disk and when it was stored."""

    digest: str
    algorithm: str
    path: Path
    size: int
    mtime: float


def digest_ok(digest: object, algorithm: str) -> bool:
    """True for a lowercase hex digest of the right length: anything else (from an edited
    history, say) must never become a path."""
    factory = ALGORITHMS.get(algorithm)
    if factory is None or not isinstance(digest, str):
        return False
    return re.fullmatch(f"[0-9a-f]{{{factory().digest_size * 2}}}", digest) is not None


def _hash(data: bytes, algorithm: str) -> str:
    h = new_hash(algorithm)
    h.update(data)
    hexdigest: str = h.hexdigest()
    return hexdigest


def encode(data: bytes, algorithm: str, codec: int | None = None) -> bytes:
    """Header and content; ``codec`` None picks zlib when it pays, else raw."""
    payload = data
    if codec is None:
        packed = zlib.compress(data, 6)
        codec, payload = (ZLIB, packed) if len(packed) < len(data) * WORTH else (RAW, data)
    elif codec == ZLIB:
        payload = zlib.compress(data, 6)
    elif codec == LZMA:
        payload = lzma.compress(data)
    name = algorithm.encode("ascii")
    return MAGIC + bytes([codec, len(name)]) + name + len(data).to_bytes(8, "big") + payload


def decode(
    blob: bytes,
    digest: str,
    algorithm: str,
    limit: int = DEFAULT_LIMIT,
    size: int | None = None,
) -> bytes:
    """The content of a stored copy; :class:`CopyDamagedError` unless it hashes to
    ``digest`` with ``algorithm`` and, when ``size`` is given (the signed baseline's), holds
    exactly that many bytes. Nothing bigger than ``limit`` bytes is ever decompressed: a copy
    whose header claims more is :class:`CopyError` (too big to read now: the limit may have
    been lowered since it was stored), or damaged when it claims more than ``size``."""
    reason = f"its content no longer matches its {algorithm} hash"
    damaged = CopyDamagedError(
        f"The saved copy {digest[:12]}... is damaged ({reason}), so it was not used and was "
        "removed; the next accepted baseline stores a fresh copy.",
        reason=reason,
    )
    if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + 2:
        raise damaged
    codec, name_len = blob[len(MAGIC)], blob[len(MAGIC) + 1]
    start = len(MAGIC) + 2
    name = blob[start : start + name_len]
    size_at = start + name_len
    payload = blob[size_at + 8 :]
    claimed = size_of(blob)
    if name != algorithm.encode("ascii") or claimed > MAX_HEADER_SIZE:
        raise damaged
    if size is not None and claimed != size:
        raise damaged  # the content a signed baseline names has this size and no other
    if claimed > limit:
        raise CopyError(
            f"The saved copy {digest[:12]}... holds {claimed:,} bytes, more than "
            f"copy_max_file_bytes ({limit:,}) allows to read; it was kept."
        )
    size = claimed
    try:
        if codec == RAW:
            data = payload
        elif codec == ZLIB:
            # max_length bounds the memory a damaged (or hostile) copy can make us use
            data = zlib.decompressobj().decompress(payload, size + 1)
        elif codec == LZMA:
            data = lzma.LZMADecompressor().decompress(payload, size + 1)
        else:
            raise damaged
    except (zlib.error, lzma.LZMAError):
        raise damaged from None
    if len(data) != size or _hash(data, algorithm) != digest:
        raise damaged
    return data


def size_of(blob: bytes) -> int:
    """The content size a copy's header claims (0 for a header too short to say)."""
    start = len(MAGIC) + 2
    if len(blob) < start:
        return 0
    size_at = start + blob[len(MAGIC) + 1]
    return int.from_bytes(blob[size_at : size_at + 8], "big")


class CopyStore:
    """The folder of copies. Writes are atomic; a folder fsync per batch (see :meth:`sync`)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._dirty: set[Path] = set()

    def path(self, digest: str, algorithm: str = DEFAULT_ALGORITHM) -> Path:
        if not digest_ok(digest, algorithm):
            raise CopyError(f"{digest!r} is not a {algorithm} digest.")
        name = digest if algorithm == DEFAULT_ALGORITHM else f"{digest}.{algorithm}"
        return self.root / digest[:2] / name

    def has(self, digest: str, algorithm: str = DEFAULT_ALGORITHM) -> bool:
        return digest_ok(digest, algorithm) and self.path(digest, algorithm).is_file()

    def put(self, data: bytes, digest: str, algorithm: str = DEFAULT_ALGORITHM) -> int:
        """Store ``data`` as the copy of ``digest``; returns the bytes it takes on disk (0 when
        it was there already). ``ValueError`` when ``data`` does not hash to ``digest``."""
        if _hash(data, algorithm) != digest:
            raise ValueError("content does not match its digest")
        path = self.path(digest, algorithm)
        if path.is_file() and self.verify(digest, algorithm, limit=len(data), size=len(data)):
            return 0  # a damaged copy is written again below
        blob = encode(data, algorithm)
        try:
            jsonio.private_dir(self.root)
            jsonio.private_dir(path.parent)
            fd, tmp = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=path.parent)
        except OSError as exc:
            raise StorageError(f"Could not save a copy in {self.root}: {exc.strerror}.") from exc
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(blob)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise StorageError(f"Could not save a copy in {self.root}: {exc.strerror}.") from exc
        self._dirty.add(path.parent)
        return len(blob)

    def sync(self) -> None:
        """Make the renames of a batch of :meth:`put` durable: one fsync per folder touched."""
        if os.name == "nt":
            self._dirty.clear()
            return
        for folder in self._dirty:
            with contextlib.suppress(OSError):
                fd = os.open(folder, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
        self._dirty.clear()

    def read(
        self,
        digest: str,
        algorithm: str = DEFAULT_ALGORITHM,
        *,
        limit: int = DEFAULT_LIMIT,
        size: int | None = None,
    ) -> bytes:
        """The verified content of a copy of at most ``limit`` bytes, and of ``size`` bytes
        when the caller knows it (see :func:`decode`), read never through a link. A damaged
        copy is removed, so that the next :meth:`put` of that content stores it again (and no
        count calls it kept)."""
        path = self.path(digest, algorithm)
        most = limit if size is None else min(limit, size)
        try:
            jsonio.own_dir(path.parent)  # its folder never a link, nor another user's
        except OSError as exc:
            why = f"{exc.strerror}: {exc.filename}"
            raise CopyError(f"The copy {path} cannot be used ({why}).") from exc
        try:
            # Compressed data never grows by more than a few bytes in a thousand.
            blob = jsonio.read_own(path, limit=most + most // 64 + 4096)
        except FileNotFoundError:
            raise CopyError(f"No copy of {digest[:12]}... is kept.") from None
        except OSError as exc:
            if exc.errno != errno.EFBIG:
                raise CopyError(f"The copy {path} cannot be read: {exc.strerror}.") from exc
            if size is None or size > limit:  # perhaps whole, only beyond what may be read
                raise CopyError(
                    f"The saved copy {digest[:12]}... is bigger than copy_max_file_bytes "
                    f"({limit:,}) allows to read; it was kept."
                ) from None
            blob = b""  # far bigger than the content it must hold: damaged
        try:
            return decode(blob, digest, algorithm, limit, size)
        except CopyDamagedError:
            with contextlib.suppress(OSError):
                path.unlink()
            raise

    def verify(
        self,
        digest: str,
        algorithm: str = DEFAULT_ALGORITHM,
        *,
        limit: int = DEFAULT_LIMIT,
        size: int | None = None,
    ) -> bool:
        """True when the copy is there and whole: its header and size first (cheap), then its
        content against its digest. A damaged copy is removed."""
        path = self.path(digest, algorithm)
        if not self.intact(path, algorithm):
            with contextlib.suppress(OSError):
                if jsonio.own_dir(path.parent):  # never through a folder that is a link
                    path.unlink()
            return False
        try:
            self.read(digest, algorithm, limit=limit, size=size)
        except CopyError:  # damaged (and removed by read), or unreadable
            return False
        return True

    @staticmethod
    def intact(path: Path, algorithm: str) -> bool:
        """The cheap check: a regular file whose header is well formed, names ``algorithm``
        and, for a raw copy, matches the file's size. False for a missing file."""
        name = algorithm.encode("ascii")
        start = len(MAGIC) + 2
        try:
            jsonio.own_dir(path.parent)
            fd = jsonio.open_own(path)
        except OSError:
            return False
        try:
            size_on_disk = os.fstat(fd).st_size
            head = os.read(fd, start + len(name) + 8)
        except OSError:
            return False
        finally:
            os.close(fd)
        if len(head) < start + len(name) + 8 or not head.startswith(MAGIC):
            return False
        codec, name_len = head[len(MAGIC)], head[len(MAGIC) + 1]
        if codec not in CODEC_NAMES or name_len != len(name) or head[start:-8] != name:
            return False
        size = int.from_bytes(head[-8:], "big")
        if size > MAX_HEADER_SIZE:
            return False
        if codec == RAW:
            return size_on_disk == len(head) + size
        return size_on_disk > len(head)

    def _subdirs(self) -> list[Path]:
        """The store's two-letter folders, never through a link (a folder planted as a link
        to elsewhere is neither listed nor pruned); :class:`StorageError` naming the store
        when it cannot be listed."""
        try:
            if os.path.lexists(self.root):
                jsonio.private_dir(self.root)  # a link or anything but our folder: refused
            entries = list(os.scandir(self.root))
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StorageError(
                f"The saved copies in {self.root} cannot be listed: {exc.strerror or exc}."
            ) from exc
        return [
            Path(e.path) for e in entries if len(e.name) == 2 and e.is_dir(follow_symlinks=False)
        ]

    def blobs(self) -> list[Blob]:
        """Every copy in the store (temporary files and stray names left out)."""
        found: list[Blob] = []
        for sub in self._subdirs():
            with contextlib.suppress(OSError):
                for entry in os.scandir(sub):
                    digest, _, algorithm = entry.name.partition(".")
                    algorithm = algorithm or DEFAULT_ALGORITHM
                    if not digest_ok(digest, algorithm) or not entry.is_file(follow_symlinks=False):
                        continue
                    with contextlib.suppress(OSError):
                        st = entry.stat(follow_symlinks=False)
                        found.append(Blob(digest, algorithm, Path(entry.path), st.st_size,
                                          st.st_mtime))  # fmt: skip
        return found

    def remove(self, blob: Blob) -> None:
        with contextlib.suppress(FileNotFoundError):
            if jsonio.own_dir(blob.path.parent):  # swapped for a link since it was listed: kept
                blob.path.unlink()

    def remove_temporaries(self, age: float = TEMP_AGE) -> int:
        """Temporary files a killed process left; young ones may still be written."""
        removed = 0
        now = time.time()
        for sub in self._subdirs():
            for tmp in sub.glob(".*.tmp"):
                with contextlib.suppress(OSError):
                    if now - tmp.lstat().st_mtime > age:
                        tmp.unlink()
                        removed += 1
        return removed
