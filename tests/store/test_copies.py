"""The store of saved copies: the format, verification on read, and damaged copies."""

from __future__ import annotations

import hashlib
import os
import zlib
from pathlib import Path

import pytest

from fim_tray.errors import CopyDamagedError, CopyError
from fim_tray.store.copies import (
    LZMA,
    RAW,
    ZLIB,
    CopyStore,
    decode,
    encode,
)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def all_content(store: CopyStore) -> list[bytes]:
    """Every copy, read back through the store (so compressed copies are searched too)."""
    return [store.read(b.digest, b.algorithm) for b in store.blobs()]


def raw_store_bytes(store: CopyStore) -> bytes:
    return b"".join(p.read_bytes() for p in store.root.rglob("*") if p.is_file())


@pytest.fixture
def store(tmp_path: Path) -> CopyStore:
    return CopyStore(tmp_path / "snapshots")


# -- the format --------------------------------------------------------------------------------


@pytest.mark.parametrize("codec", [RAW, ZLIB, LZMA, None])
def test_encode_decode_round_trip(codec: int | None) -> None:
    data = b"hello\n" * 500 + bytes(range(256))
    assert decode(encode(data, "sha256", codec), sha(data), "sha256") == data


def test_compressed_only_when_it_pays(store: CopyStore) -> None:
    text = b"the same line again\n" * 1000
    noise = os.urandom(5000)
    store.put(text, sha(text))
    store.put(noise, sha(noise))
    assert store.path(sha(text)).stat().st_size < len(text) // 5
    assert store.path(sha(noise)).stat().st_size < len(noise) + 64  # raw: header only
    assert store.read(sha(text)) == text and store.read(sha(noise)) == noise


def test_layout_and_identical_content_stored_once(store: CopyStore) -> None:
    data = b"same\n"
    digest = sha(data)
    assert store.put(data, digest) > 0
    assert store.put(data, digest) == 0
    assert store.path(digest) == store.root / digest[:2] / digest
    assert len(store.blobs()) == 1
    assert oct(store.path(digest).stat().st_mode & 0o777) == oct(0o600)


def test_content_must_match_its_digest(store: CopyStore) -> None:
    with pytest.raises(ValueError):
        store.put(b"a", sha(b"b"))
    assert store.blobs() == []


@pytest.mark.parametrize("data", [b"text line\n" * 300, os.urandom(3000)], ids=["zlib", "raw"])
def test_a_flipped_byte_is_refused(store: CopyStore, data: bytes) -> None:
    digest = sha(data)
    store.put(data, digest)
    path = store.path(digest)
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2 + 20] ^= 0x01
    path.write_bytes(bytes(blob))
    with pytest.raises(CopyDamagedError, match="damaged"):
        store.read(digest)


def test_a_truncated_or_foreign_file_is_refused(store: CopyStore) -> None:
    data = b"x" * 1000
    digest = sha(data)
    store.put(data, digest)
    path = store.path(digest)
    path.write_bytes(path.read_bytes()[:30])
    with pytest.raises(CopyDamagedError):
        store.read(digest)
    path.write_bytes(b"not a saved copy")
    with pytest.raises(CopyDamagedError):
        store.read(digest)


def test_header_lies_about_the_size(store: CopyStore) -> None:
    data = b"abc" * 100
    digest = sha(data)
    blob = bytearray(encode(data, "sha256", ZLIB))
    size_at = 8 + 2 + len("sha256")
    blob[size_at : size_at + 8] = (10).to_bytes(8, "big")
    with pytest.raises(CopyDamagedError):
        decode(bytes(blob), digest, "sha256")


def test_blake2b_copies_carry_their_algorithm(store: CopyStore) -> None:
    data = b"blake\n"
    digest = hashlib.blake2b(data).hexdigest()
    store.put(data, digest, "blake2b")
    assert store.path(digest, "blake2b").name == f"{digest}.blake2b"
    assert store.read(digest, "blake2b") == data
    [blob] = store.blobs()
    assert (blob.digest, blob.algorithm) == (digest, "blake2b")
    with pytest.raises(CopyError):  # never read with another algorithm
        store.read(digest, "sha256")


def test_a_digest_that_is_not_hex_never_becomes_a_path(store: CopyStore) -> None:
    for bad in ("../../etc/passwd", "A" * 64, "ab", sha(b"x") + "/"):
        assert not store.has(bad)
        with pytest.raises(CopyError):
            store.read(bad)


def test_missing_copy(store: CopyStore) -> None:
    with pytest.raises(CopyError, match="No copy"):
        store.read(sha(b"never stored"))


def test_lzma_copies_read_back(store: CopyStore) -> None:
    data = b"lzma " * 1000
    path = store.path(sha(data))
    path.parent.mkdir(parents=True)
    path.write_bytes(encode(data, "sha256", LZMA))
    assert store.read(sha(data)) == data


def test_zlib_bomb_is_bounded(store: CopyStore) -> None:
    data = b"small"
    blob = bytearray(encode(data, "sha256", RAW))
    blob[8] = ZLIB
    body = zlib.compress(b"\0" * 50_000_000)
    header = bytes(blob[: 8 + 2 + 6 + 8])
    with pytest.raises(CopyDamagedError):
        decode(header + body, sha(data), "sha256")


# -- settings and the no-copy globs ------------------------------------------------------------


def flip_last_byte(path: Path) -> None:
    blob = bytearray(path.read_bytes())
    blob[-1] ^= 0xFF
    path.write_bytes(bytes(blob))


def test_put_rewrites_a_damaged_copy(store: CopyStore) -> None:
    data = b"some content that is kept raw" * 3 + os.urandom(64)
    store.put(data, sha(data))
    flip_last_byte(store.path(sha(data)))  # the header and size are fine: only the hash tells
    assert store.put(data, sha(data)) > 0
    assert store.read(sha(data)) == data
    assert store.put(data, sha(data)) == 0  # a whole copy is trusted


def test_a_damaged_copy_is_removed_when_read(store: CopyStore) -> None:
    store.put(b"x" * 100, sha(b"x" * 100))
    flip_last_byte(store.path(sha(b"x" * 100)))
    with pytest.raises(CopyDamagedError) as caught:
        store.read(sha(b"x" * 100))
    assert caught.value.message.count("damaged") == 1
    assert not store.has(sha(b"x" * 100))
