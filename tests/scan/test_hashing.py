"""Unit tests of fim_tray.scan.hashing: known digests, chunking across the buffer, refusals."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import random
import threading
from pathlib import Path

import pytest

from fim_tray.scan.hashing import ALGORITHMS, BUFFER_SIZE, hash_file, hash_stream, new_hash

EMPTY = {
    "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "blake2b": "786a02f742015903c6c6fd852552d272912f4740e15847618a86e217f71f5419"
    "d25e1031afee585313896444934eb04b903a685b1448b755d56f701afe9be2ce",
}
ABC = {
    "sha256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    "blake2b": "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1"
    "7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923",
}
# FIPS 180-2, appendix B.3: one million repetitions of "a" (read in one chunk or two).
MILLION_A_SHA256 = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _random_bytes(size: int, seed: int = 7) -> bytes:
    return random.Random(seed).randbytes(size)


class _Trickle(io.RawIOBase):
    """A stream that hands out at most ``step`` bytes per read, as a pipe or a socket may."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data = memoryview(data)
        self._step = step

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), self._step, len(self._data))
        buffer[:n] = self._data[:n]
        self._data = self._data[n:]
        return n


def test_the_buffer_is_one_mebibyte() -> None:
    assert BUFFER_SIZE == 1024 * 1024


@pytest.mark.parametrize("algorithm", sorted(EMPTY))
def test_empty_file_has_the_published_digest(tmp_path: Path, algorithm: str) -> None:
    assert hash_file(_write(tmp_path / "empty", b""), algorithm) == EMPTY[algorithm]


@pytest.mark.parametrize("algorithm", sorted(ABC))
def test_abc_has_the_published_digest(tmp_path: Path, algorithm: str) -> None:
    assert hash_file(_write(tmp_path / "abc", b"abc"), algorithm) == ABC[algorithm]


def test_sha256_is_the_default(tmp_path: Path) -> None:
    assert hash_file(_write(tmp_path / "abc", b"abc")) == ABC["sha256"]


def test_million_a_has_the_published_sha256(tmp_path: Path) -> None:
    assert hash_file(_write(tmp_path / "a", b"a" * 1_000_000)) == MILLION_A_SHA256


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
@pytest.mark.parametrize(
    "size",
    [1, BUFFER_SIZE - 1, BUFFER_SIZE, BUFFER_SIZE + 1, 2 * BUFFER_SIZE, 3 * BUFFER_SIZE + 12345],
)
def test_files_around_the_buffer_size_hash_like_hashlib_over_the_whole(
    tmp_path: Path, algorithm: str, size: int
) -> None:
    data = _random_bytes(size)
    expected = hashlib.new(algorithm, data).hexdigest()
    assert hash_file(_write(tmp_path / "data", data), algorithm) == expected


def test_last_byte_past_the_buffer_counts(tmp_path: Path) -> None:
    data = _random_bytes(BUFFER_SIZE + 1)
    flipped = data[:-1] + bytes([data[-1] ^ 1])
    first = hash_file(_write(tmp_path / "one", data))
    second = hash_file(_write(tmp_path / "two", flipped))
    assert first != second


def test_short_reads_are_all_hashed() -> None:
    data = _random_bytes(3 * 4096 + 5)
    stream = _Trickle(data, step=4096)
    assert hash_stream(stream, "sha256") == hashlib.sha256(data).hexdigest()


def test_stream_larger_than_the_buffer() -> None:
    data = _random_bytes(2 * BUFFER_SIZE + 3)
    assert hash_stream(_Trickle(data, len(data)), "blake2b") == hashlib.blake2b(data).hexdigest()


def test_threads_hashing_at_once_get_their_own_buffer(tmp_path: Path) -> None:
    files = [
        _write(tmp_path / f"f{i}", _random_bytes(BUFFER_SIZE + 17 * i, seed=i)) for i in range(4)
    ]
    expected = [hashlib.sha256(path.read_bytes()).hexdigest() for path in files]
    results: dict[int, list[str]] = {}

    def work(index: int) -> None:
        results[index] = [hash_file(files[index]) for _ in range(3)]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(files))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert {i: r[0] for i, r in results.items()} == dict(enumerate(expected))
    assert all(len(set(r)) == 1 for r in results.values())


@pytest.mark.parametrize("name", ["md5", "sha1", "SHA256", ""])
def test_unknown_algorithm_is_a_value_error_naming_the_choices(name: str) -> None:
    with pytest.raises(ValueError, match="blake2b, sha256"):
        new_hash(name)


def test_hash_file_with_unknown_algorithm_raises(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown hash algorithm 'md5'"):
        hash_file(_write(tmp_path / "f", b"x"), "md5")


def test_hash_stream_with_unknown_algorithm_raises() -> None:
    with pytest.raises(ValueError):
        hash_stream(_Trickle(b"x", 1), "crc32")


def test_a_symlink_is_refused_not_followed(tmp_path: Path) -> None:
    target = _write(tmp_path / "target", b"secret")
    link = tmp_path / "link"
    link.symlink_to(target)
    with pytest.raises(OSError) as caught:
        hash_file(link)
    assert caught.value.errno == errno.ELOOP


def test_a_dangling_symlink_is_refused(tmp_path: Path) -> None:
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "nowhere")
    with pytest.raises(OSError):
        hash_file(link)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_not_hashed_as_empty(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(OSError):
        hash_file(fifo)


def test_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        hash_file(tmp_path)


def test_a_missing_file_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        hash_file(tmp_path / "missing")
