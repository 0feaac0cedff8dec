"""Unit tests of fim_tray.store.cache: the load cache is used only when it is the signed
JSON's own content, and a damaged or tampered JSON is reported as before, cache or not."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fim_tray import jsonio
from fim_tray.app.service import Service
from fim_tray.errors import BaselineError, BaselineTamperedError, StorageError
from fim_tray.models import Entry
from fim_tray.store import baseline as store
from fim_tray.store import cache, state
from fim_tray.store.baseline import Baseline
from fim_tray.store.paths import Paths
from tests.helpers import WHEN, sample_baseline

KEY = bytes(range(32))
OTHER_KEY = bytes(32)


def _entries() -> dict[str, Entry]:
    return {
        "a.txt": Entry("file", 5, 1_700_000_000_123_456_789, 17, 42, 0o644, 1000, 100, "ab" * 32),
        "sub": Entry("dir", 0, 1, 2, 43, 0o755, 1000, 100),
        "caf\udce9/na\udcffme": Entry("file", 0, 3, 4, 44, 0o600, 0, 0, digest="cd" * 32),
        "link": Entry("symlink", 4, 5, 6, 45, 0o777, 1000, 100, target="../\udcfe\udc80x"),
        "plain-link": Entry("symlink", 3, 5, 6, 46, 0o777, 1000, 100, target="a.txt"),
        "locked": Entry("file", 9, 7, 8, 47, 0o000, 0, 0, error="permission denied"),
        "pipe": Entry("fifo", 0, 9, 10, 48, 0o644, 1000, 100),
        # Before 1970, and the largest inode: the cache's signed and unsigned 64-bit columns.
        "old": Entry("file", 2**40, -(10**18), -1, 2**64 - 1, 0o644, 2**32 - 2, 0, "ef" * 32),
    }


def _baseline(**extra: object) -> Baseline:
    return sample_baseline(_entries(), **extra)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "x.json"


@pytest.fixture
def no_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any JSON parse fails the test: what is loaded then came from the cache."""

    def refuse(*_args: object, **_kwargs: object) -> Baseline:
        raise AssertionError("the JSON was parsed")

    monkeypatch.setattr(store, "parse", refuse)
    monkeypatch.setattr(store, "parse_verified", refuse)


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The sources of the JSON parses made."""
    seen: list[str] = []
    real = store.parse_verified

    def spy(fd: int, key: bytes, mac: str, source: str = "the baseline") -> Baseline:
        seen.append(source)
        return real(fd, key, mac, source)

    monkeypatch.setattr(store, "parse_verified", spy)
    return seen


def _cache(path: Path) -> Path:
    return path.with_name(path.name + ".cache")


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def _error(path: Path, key: bytes) -> BaselineError:
    """What loading ``path`` without the cache says."""
    with pytest.raises(BaselineError) as caught:
        store.load(path, key)
    return caught.value


# -- used when valid ------------------------------------------------------------------------------


def test_save_writes_a_private_cache_that_loads_without_parsing(
    path: Path, parses: list[str]
) -> None:
    state.save_baseline_file(path, _baseline(note=[1, "two"]), KEY)
    assert stat.S_IMODE(_cache(path).stat().st_mode) == 0o600
    loaded = state.load_baseline_file(path, KEY)
    assert parses == []
    assert loaded == _baseline(note=[1, "two"]) == store.load(path, KEY)
    assert list(loaded.entries) == sorted(_entries())  # the order a parse of the JSON gives


@pytest.mark.usefixtures("no_parse")
def test_names_that_are_not_utf8_and_symlink_targets_round_trip(path: Path) -> None:
    state.save_baseline_file(path, _baseline(), KEY)
    loaded = state.load_baseline_file(path, KEY)
    assert loaded.folder == "/home/ann/Doc\udcffuments"
    assert loaded.entries["caf\udce9/na\udcffme"] == _entries()["caf\udce9/na\udcffme"]
    assert loaded.entries["link"].target == "../\udcfe\udc80x"
    assert loaded.entries["plain-link"].target == "a.txt"


@pytest.mark.usefixtures("no_parse")
def test_entries_from_the_cache_are_whole_frozen_entries(path: Path) -> None:
    state.save_baseline_file(path, _baseline(), KEY)
    entries = state.load_baseline_file(path, KEY).entries
    for name, entry in _entries().items():
        got = entries[name]
        assert type(got) is Entry
        assert tuple(got) == tuple(entry)
        assert hash(got) == hash(entry) and repr(got) == repr(entry)
    with pytest.raises(AttributeError):
        entries["a.txt"].size = 1  # type: ignore[misc]


@pytest.mark.usefixtures("no_parse")
def test_an_empty_folder_round_trips(path: Path) -> None:
    empty = Baseline("/w", "sha256", {}, WHEN, WHEN)
    state.save_baseline_file(path, empty, KEY)
    assert state.load_baseline_file(path, KEY) == empty


def test_extra_values_come_back_as_a_parse_of_the_json_gives_them(path: Path) -> None:
    record = _baseline(pairs=(1, 2), nested={"b": None, "a": 1.5})
    state.save_baseline_file(path, record, KEY)
    assert (
        state.load_baseline_file(path, KEY).extra
        == store.load(path, KEY).extra
        == {
            "pairs": [1, 2],
            "nested": {"b": None, "a": 1.5},
        }
    )


def test_a_cache_holds_frames_of_sorted_records_and_reads_back_across_them(
    path: Path, parses: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache, "FRAME", 3)  # 8 entries: three frames, the last one short
    state.save_baseline_file(path, _baseline(), KEY)
    loaded = state.load_baseline_file(path, KEY)
    assert parses == []
    assert loaded == _baseline()
    assert sorted(loaded.entries) == sorted(_entries())


# -- missing, stale, tampered: ignored, then rebuilt ----------------------------------------------


def test_a_missing_cache_is_fine_and_is_made_by_the_load(path: Path, parses: list[str]) -> None:
    store.save(path, _baseline(), KEY)  # the JSON alone, as fim-tray before the cache wrote it
    assert not _cache(path).exists()
    assert state.load_baseline_file(path, KEY) == _baseline()
    assert parses == [f"The baseline {path}"]
    assert stat.S_IMODE(_cache(path).stat().st_mode) == 0o600
    assert state.load_baseline_file(path, KEY) == _baseline()
    assert len(parses) == 1  # the second load used the cache the first one wrote


def test_a_json_changed_underneath_is_parsed_and_the_cache_rebuilt(
    path: Path, parses: list[str]
) -> None:
    state.save_baseline_file(path, _baseline(), KEY)
    newer = _baseline()
    newer = newer._replace(entries={"only": _entries()["a.txt"]})
    store.save(path, newer, KEY)  # a validly signed JSON the cache was not made from
    assert state.load_baseline_file(path, KEY) == newer
    assert len(parses) == 1
    assert state.load_baseline_file(path, KEY) == newer
    assert len(parses) == 1  # rebuilt for the new JSON


def test_the_previous_json_put_back_never_gets_the_newer_cache(
    path: Path, parses: list[str]
) -> None:
    state.save_baseline_file(path, _baseline(), KEY)
    newer = _baseline()
    newer = newer._replace(entries={})
    state.save_baseline_file(path, newer, KEY)
    os.replace(path.with_name("x.json.bak"), path)  # signed, valid, and older than the cache
    assert state.load_baseline_file(path, KEY) == _baseline()
    assert len(parses) == 1


@pytest.mark.parametrize(
    "where",
    [
        "magic",
        "mac",
        "json signature",
        "tag",
        "payload start",
        "payload middle",
        "table offset",
        "last byte",
    ],
)
def test_a_tampered_cache_is_ignored_and_rebuilt(where: str, path: Path, parses: list[str]) -> None:
    state.save_baseline_file(path, _baseline(), KEY)
    size = _cache(path).stat().st_size
    offsets = {
        "magic": 0,
        "json signature": len(cache.MAGIC) + 3,
        "tag": len(cache.MAGIC) + 32,
        "payload start": len(cache.MAGIC) + 32 + len(cache._TAG),
        "payload middle": size // 2,
        "table offset": size - 32 - 3,
        "mac": size - 5,
        "last byte": size - 1,
    }
    _flip(_cache(path), offsets[where])
    assert state.load_baseline_file(path, KEY) == _baseline()
    assert len(parses) == 1
    assert state.load_baseline_file(path, KEY) == _baseline()
    assert len(parses) == 1  # the cache was written again


@pytest.mark.parametrize("cut", [0, 10, 80, -1])
def test_a_cut_short_cache_is_ignored(cut: int, path: Path, parses: list[str]) -> None:
    state.save_baseline_file(path, _baseline(), KEY)
    data = _cache(path).read_bytes()
    _cache(path).write_bytes(data[:cut])
    assert state.load_baseline_file(path, KEY) == _baseline()
    assert len(parses) == 1


def test_a_cache_made_with_another_key_is_ignored(path: Path, parses: list[str]) -> None:
    state.save_baseline_file(path, _baseline(), KEY)
    forged = _baseline()
    forged = forged._replace(entries={**forged.entries, "a.txt": _entries()["sub"]})  # hides one
    json_mac = store.signature(path.read_bytes(), KEY)
    assert json_mac is not None
    # Bound to the right JSON, signed by a key that is not this install's.
    _cache(path).write_bytes(cache.encode(forged, json_mac, OTHER_KEY))
    assert state.load_baseline_file(path, KEY) == _baseline()
    assert len(parses) == 1


def test_a_cache_from_another_python_or_entry_layout_is_ignored(
    path: Path, parses: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    state.save_baseline_file(path, _baseline(), KEY)
    with monkeypatch.context() as patch:
        patch.setattr(cache, "_TAG", cache._TAG[:-1] + b"\x09")
        assert state.load_baseline_file(path, KEY) == _baseline()
    assert len(parses) == 1
    state.save_baseline_file(path, _baseline(), KEY)
    with monkeypatch.context() as patch:
        patch.setattr(cache, "_FIELDS", (*cache._FIELDS, "new_field"))
        assert state.load_baseline_file(path, KEY) == _baseline()
    assert len(parses) == 2


def test_a_cache_that_is_a_folder_is_ignored(path: Path) -> None:
    store.save(path, _baseline(), KEY)
    _cache(path).mkdir()
    assert state.load_baseline_file(path, KEY) == _baseline()  # and the failed rewrite is no error


# -- the JSON is still the judge ------------------------------------------------------------------


def test_a_tampered_json_is_reported_as_before_despite_a_valid_cache(path: Path) -> None:
    state.save_baseline_file(path, _baseline(), KEY)
    cached = _cache(path).read_bytes()
    path.write_bytes(path.read_bytes().replace(b"ab" * 32, b"ba" * 32))
    expected = _error(path, KEY)
    with pytest.raises(BaselineTamperedError) as caught:
        state.load_baseline_file(path, KEY)
    assert caught.value.message == expected.message
    assert "signature does not match" in expected.message
    assert _cache(path).read_bytes() == cached  # nothing was written on a refused load


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],  # cut short
        lambda data: b"",
        lambda data: data + b"x",  # trailing garbage
        lambda data: data.replace(b'"schema":1', b'"schema":2'),
        lambda data: data.replace(b'"hmac":"', b'"hmac":"0'),
        lambda data: b"[1, 2]",
    ],
    ids=["truncated", "empty", "trailing", "schema", "hmac", "not a baseline"],
)
def test_a_damaged_json_is_reported_as_before_despite_a_valid_cache(
    damage: Callable[[bytes], bytes], path: Path
) -> None:
    state.save_baseline_file(path, _baseline(), KEY)
    path.write_bytes(damage(path.read_bytes()))
    expected = _error(path, KEY)
    with pytest.raises(BaselineError) as caught:
        state.load_baseline_file(path, KEY)
    assert type(caught.value) is type(expected)
    assert caught.value.message == expected.message


def test_another_key_is_tampering_despite_a_valid_cache(path: Path) -> None:
    state.save_baseline_file(path, _baseline(), KEY)
    with pytest.raises(BaselineTamperedError):
        state.load_baseline_file(path, OTHER_KEY)


def test_a_missing_or_unreadable_json_is_reported_as_before(tmp_path: Path) -> None:
    missing = tmp_path / "none.json"
    state.save_baseline_file(tmp_path / "other.json", _baseline(), KEY)
    _cache(tmp_path / "other.json").rename(_cache(missing))  # a cache alone proves nothing
    with pytest.raises(BaselineError, match="missing"):
        state.load_baseline_file(missing, KEY)
    with pytest.raises(BaselineError, match="cannot be read"):
        state.load_baseline_file(tmp_path, KEY)


# -- a cache that cannot be written ---------------------------------------------------------------


def test_a_failed_cache_write_never_fails_the_save(
    path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real = jsonio.atomic_write_chunks

    def full_for_the_cache(target: Path, chunks: Any, **kwargs: Any) -> None:
        if target.name.endswith(".cache"):
            raise StorageError(f"Could not save {target}: the disk is full.")
        real(target, chunks, **kwargs)

    monkeypatch.setattr(jsonio, "atomic_write_chunks", full_for_the_cache)
    with caplog.at_level(logging.WARNING, logger="fim_tray.store.cache"):
        state.save_baseline_file(path, _baseline(), KEY)
    assert not _cache(path).exists()
    assert "the disk is full" in caplog.text
    assert store.load(path, KEY) == _baseline()
    assert state.load_baseline_file(path, KEY) == _baseline()


def test_a_record_the_cache_cannot_hold_faithfully_gets_no_cache(
    path: Path, parses: list[str]
) -> None:
    record = _baseline(algorithm="blake2b")  # an extra key that shadows a body key
    state.save_baseline_file(path, record, KEY)
    assert not _cache(path).exists()
    loaded = state.load_baseline_file(path, KEY)  # whatever the JSON says, as before
    assert len(parses) == 1
    assert loaded.algorithm == "blake2b" and loaded.extra == {}
    assert state.load_baseline_file(path, KEY) == loaded == store.load(path, KEY)
    assert len(parses) == 2  # the parsed record holds no such key: the load could cache it


# -- through the service --------------------------------------------------------------------------


def test_service_checks_from_the_cache_and_remove_deletes_it(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    watched = tmp_path / "w"
    watched.mkdir()
    (watched / "a.txt").write_text("a")
    os.symlink(b"\xfe\x80target", os.fsencode(watched) + b"/l\xffink")
    service = Service(Paths.default(), lock_timeout=5.0)
    folder, _ = service.watch(str(watched))
    base = service.paths.baseline_file(folder.id)
    assert _cache(base).exists()

    def refuse(*_args: object, **_kwargs: object) -> Baseline:
        raise AssertionError("the JSON was parsed")

    with monkeypatch.context() as patch:
        patch.setattr(store, "parse", refuse)
        patch.setattr(store, "parse_verified", refuse)
        (report,) = service.check()
    assert report.error is None and report.changes == ()
    assert service.store.load_baseline(folder).entries["l\udcffink"].target == "\udcfe\udc80target"
    service.unwatch(str(watched))
    assert sorted(base.parent.iterdir()) == []


# -- the index: a search that reads only the frames it needs --------------------------------------


def _many() -> dict[str, Entry]:
    """A tree of 3 folders of 40 files, and names that sort around the folders' own."""
    entry = _entries()["a.txt"]
    many = {f"d{d}/f{i:02d}": entry._replace(ino=d * 100 + i) for d in range(3) for i in range(40)}
    for name in ("d1", "d1.txt", "d1-x", "d10/f", "d1/sub/deep"):
        many[name] = entry._replace(ino=hash(name) & 0xFFFF)
    return many


def test_the_index_finds_paths_and_everything_under_folders_reading_only_their_frames(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache, "FRAME", 7)
    many = _many()
    json_mac = state.save_baseline_file(path, sample_baseline(many), KEY)
    reads: list[int] = []
    real = cache._Reader.frame

    def counted(self: cache._Reader, row: Any) -> Any:
        reads.append(row[1])
        return real(self, row)

    monkeypatch.setattr(cache._Reader, "frame", counted)
    index = cache.open_index(path, json_mac, KEY)
    assert index is not None
    with index:
        assert index.count == len(many) and index.record.folder == sample_baseline({}).folder
        reads.clear()
        found = index.entries(["d2/f39", "d0/f00", "nope", "d1.txt"], ["d1"])
        assert found is not None
        under_d1 = {p for p in many if p.startswith("d1/")}
        assert set(found) == {"d2/f39", "d0/f00", "d1.txt"} | under_d1
        assert all(found[p] == many[p] for p in found)
        assert len(reads) == len(set(reads)) < len(many) // 7  # not every frame, each once
        assert set(index.entries([], [""]) or ()) == set(many)
        assert index.entries(["d9"], ["d9"]) == {}


@pytest.mark.parametrize("damage", ["flip", "cut", "other json"])
def test_a_damaged_index_is_not_searched_and_a_targeted_load_reads_the_json(
    damage: str, path: Path, parses: list[str]
) -> None:
    many = _many()
    json_mac = state.save_baseline_file(path, sample_baseline(many), KEY)
    data = _cache(path).read_bytes()
    if damage == "flip":
        _flip(_cache(path), len(data) // 3)
    elif damage == "cut":
        _cache(path).write_bytes(data[: len(data) - 40])
    else:
        json_mac = "00" * 32
    index = cache.open_index(path, json_mac, KEY)
    # A damaged frame is found when it is read, the rest before anything is read.
    assert index is None or (damage == "flip" and index.entries([], [""]) is None)
    if damage != "other json":
        record = state.load_signed_file(path, KEY, ["d0/f01", "d2"])[0]
        assert parses == [f"The baseline {path}"]
        assert set(record.entries) == {"d0/f01"} | {p for p in many if p.startswith("d2/")}


def test_a_targeted_load_never_loads_the_whole_cache(
    path: Path, monkeypatch: pytest.MonkeyPatch, parses: list[str]
) -> None:
    many = _many()
    state.save_baseline_file(path, sample_baseline(many), KEY)

    def refuse(*_args: object) -> Baseline:
        raise AssertionError("the whole cache was loaded")

    monkeypatch.setattr(cache, "load", refuse)
    record, _mac = state.load_signed_file(path, KEY, ["d1"])
    assert parses == []
    assert set(record.entries) == {"d1"} | {p for p in many if p.startswith("d1/")}
    assert record.folder == sample_baseline({}).folder


# -- a targeted load: the JSON's head, and only the frames it needs, each checked ---------------


@pytest.fixture
def verifies(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The baselines whose JSON was read whole to verify it."""
    seen: list[str] = []
    real = store.verify

    def spy(fd: int, key: bytes) -> str | None:
        seen.append("json")
        return real(fd, key)

    monkeypatch.setattr(store, "verify", spy)
    return seen


def test_a_targeted_load_reads_the_json_head_only_and_is_checked_all_the_same(
    path: Path, verifies: list[str], parses: list[str]
) -> None:
    many = _many()
    state.save_baseline_file(path, sample_baseline(many), KEY)
    signature = store.verify_file(path, KEY)
    for _ in range(2):
        record, mac = state.load_signed_file(path, KEY, ["d0/f01"])
        assert set(record.entries) == {"d0/f01"} and mac == signature
    assert verifies == ["json"]  # only the call just above, to compare
    # The JSON's body changed without the key: a targeted load still reads the authentic
    # cache, whose every byte used is checked; a whole load says the JSON was tampered with.
    data = path.read_bytes()
    path.write_bytes(data.replace(b'"mode":420', b'"mode":421', 1))
    assert state.load_signed_file(path, KEY, ["d0/f01"])[0].entries == {"d0/f01": many["d0/f01"]}
    with pytest.raises(BaselineTamperedError):
        state.load_signed_file(path, KEY)
    assert parses == []


def test_a_newer_json_is_never_searched_through_the_cache_of_the_one_before(
    path: Path, parses: list[str]
) -> None:
    many = _many()
    state.save_baseline_file(path, sample_baseline(many), KEY)
    cached = _cache(path).read_bytes()
    newer = {**many, "d0/f01": many["d0/f01"]._replace(size=99)}
    state.save_baseline_file(path, sample_baseline(newer), KEY)
    _cache(path).write_bytes(cached)  # the older cache left beside it (a failed write)
    record = state.load_signed_file(path, KEY, ["d0/f01"])[0]
    assert record.entries["d0/f01"].size == 99
    assert parses == [f"The baseline {path}"]


def test_a_frame_changed_without_the_key_is_refused_when_read_and_never_used(
    path: Path, parses: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    """Each frame is checked against its MAC in the copy that is then used: the head and the
    table check out, the frame does not, and nothing of it is used (there is no second read
    of the file for another process to change in between)."""
    many = _many()
    state.save_baseline_file(path, sample_baseline(many), KEY)
    data = bytearray(_cache(path).read_bytes())
    at = data.index(bytes.fromhex("ab" * 32)) + 3  # a digest in the first entry frame
    data[at] ^= 0xFF  # the digest of a changed file, written in: a change hidden
    _cache(path).write_bytes(bytes(data))
    with caplog.at_level(logging.INFO, logger="fim_tray.store.cache"):
        index = cache.open_index(path, store.verify_file(path, KEY) or "", KEY)
        assert index is not None  # its head and table are intact
        with index:
            assert index.entries(["d0/f00"]) is None
        assert "changed outside fim-tray" in caplog.text
        assert state.load_signed_file(path, KEY, ["d0"])[0].entries == {
            p: e for p, e in many.items() if p.startswith("d0/")
        }
    assert parses == [f"The baseline {path}"]  # the JSON read instead, and the cache made again
    assert state.load_signed_file(path, KEY)[0].entries == many
    assert len(parses) == 1


def test_a_planted_length_is_refused_before_anything_of_it_is_read(
    path: Path, parses: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    state.save_baseline_file(path, _baseline(), KEY)
    data = bytearray(_cache(path).read_bytes())
    at = len(cache.MAGIC) + 32 + len(cache._TAG)  # the head's length
    data[at : at + 4] = (0xF000_0000).to_bytes(4, "little")
    _cache(path).write_bytes(bytes(data))
    asked: list[int] = []
    real = cache._Reader.read

    def measured(self: cache._Reader, offset: int, length: int) -> bytes:
        asked.append(length)
        return real(self, offset, length)

    monkeypatch.setattr(cache._Reader, "read", measured)
    assert state.load_baseline_file(path, KEY) == _baseline()
    assert len(parses) == 1 and max(asked) < 1 << 20


def test_the_entry_count_comes_from_the_index_head_without_loading_the_entries(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    watched = tmp_path / "w"
    watched.mkdir()
    for i in range(7):
        (watched / f"f{i}").write_text(str(i))
    service = Service(Paths.default(), lock_timeout=5.0)
    folder, _ = service.watch(str(watched))
    with monkeypatch.context() as patch:

        def refuse(*_args: object) -> Baseline:
            raise AssertionError("the whole cache was loaded")

        patch.setattr(cache, "load", refuse)
        assert service.store.entry_count(folder) == 7
        assert [s.files for s in service.status()] == [7]
    _cache(service.paths.baseline_file(folder.id)).unlink()  # no index: the baseline is loaded
    assert service.store.entry_count(folder) == 7
    _flip(service.paths.baseline_file(folder.id), 200)  # a tampered baseline is said, as before
    with pytest.raises(BaselineTamperedError):
        service.store.entry_count(folder)
