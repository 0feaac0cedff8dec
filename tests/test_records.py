"""Unit tests of fim_tray.records: every entry packs into a record that unpacks to an equal one,
and Records behaves as a mapping of entries while comparing and sharing the packed form."""

from __future__ import annotations

import random
import sys

import pytest

from fim_tray.models import Entry, EntryType
from fim_tray.records import (
    Records,
    alike,
    is_dir,
    pack,
    records_of,
    same_details,
    stat_key,
    unpack,
    unreadable,
)

FILE = Entry("file", 5, 1_700_000_000_123_456_789, 17, 42, 0o644, 1000, 100, "ab" * 32)

EDGES = [
    FILE,
    Entry("dir", 0, 1, 2, 43, 0o755, 1000, 100),
    Entry("file", 0, 3, 4, 44, 0o600, 0, 0, digest="cd" * 64),  # sha512
    Entry("symlink", 4, 5, 6, 45, 0o777, 1000, 100, target="../\udcfe\udc80x"),
    Entry("symlink", 0, 5, 6, 45, 0o777, 1000, 100, target=""),
    Entry("file", 9, 7, 8, 47, 0o000, 0, 0, error="permission denied: caf\u00e9 \U0001f600"),
    Entry("fifo", 0, 9, 10, 48, 0o644, 1000, 100, xattrs='{"user.x":"eQ=="}'),
    Entry("chardev", 2**40, 9, 10, 48, 0o644, 0, 0),
    # Before 1970, the largest inode, the largest unsigned 32-bit ids
    Entry("file", 2**40, -(10**18), -1, 2**64 - 1, 0o7777, 2**32 - 1, 2**32 - 1, "ef" * 32),
    # What does not fit the fixed layout: kept exactly all the same
    Entry("file", 2**70, 0, 0, 2**64, -1, -5, 2**40, "AB" * 32),
    Entry("file", 1, 1, 1, 1, 1, 1, 1, "abc"),  # odd length
    Entry("file", 1, 1, 1, 1, 1, 1, 1, "zz" * 32),  # not hex
    Entry("other", 1, 1, 1, 1, 1, 1, 1, "ab" * 200),  # longer than a length byte says
    Entry("dir", 0, 1, 2, 2**65, 0o755, 0, 0),
]


@pytest.mark.parametrize("entry", EDGES, ids=range(len(EDGES)))
def test_every_entry_packs_and_unpacks_to_an_equal_one(entry: Entry) -> None:
    record = pack(entry)
    back = unpack(record)
    assert type(back) is Entry
    assert tuple(back) == tuple(entry)
    assert [type(v) for v in back] == [type(v) for v in entry]
    assert is_dir(record) == (entry.type == "dir")


def test_random_entries_round_trip_and_equal_entries_pack_equal() -> None:
    rnd = random.Random(7)
    kinds: list[EntryType] = [
        "file", "dir", "symlink", "fifo", "socket", "chardev", "blockdev", "other",
    ]  # fmt: skip
    for _ in range(2000):
        entry = Entry(
            rnd.choice(kinds),
            rnd.choice([0, 1, 2**31, 2**63 - 1, -1]),
            rnd.randrange(-(2**63), 2**63),
            rnd.randrange(0, 2**63),
            rnd.randrange(0, 2**64),
            rnd.randrange(0, 0o10000),
            rnd.randrange(0, 2**32),
            rnd.randrange(0, 2**32),
            rnd.choice([None, rnd.randbytes(32).hex(), rnd.randbytes(20).hex()]),
            rnd.choice([None, "t\udcff" * rnd.randrange(3)]),
            rnd.choice([None, "e"]),
            rnd.choice([None, "{}"]),
        )
        record = pack(entry)
        assert unpack(record) == entry
        assert pack(unpack(record)) == record


def test_a_packed_file_is_a_small_fraction_of_its_entry() -> None:
    entry = Entry("file", 4096, 1_700_000_000_123_456_789, 1_700_000_000_123_456_789,
                  123456789, 0o644, 1000, 1000, "ab" * 32)  # fmt: skip
    objects = sys.getsizeof(entry) + sum(sys.getsizeof(v) for v in entry if v is not None)
    assert sys.getsizeof(pack(entry)) < objects / 3


def test_same_details_tells_an_unchanged_file_or_folder_with_one_comparison() -> None:
    key = stat_key(5, 1_700_000_000_123_456_789, 17, 42, 0o644, 1000, 100)
    assert key is not None
    assert same_details(pack(FILE), key, "file", digest=True)
    assert same_details(pack(FILE._replace(xattrs="{}")), key, "file", digest=True)
    assert not same_details(pack(FILE), key, "file", digest=False)
    assert not same_details(pack(FILE._replace(error="x")), key, "file", digest=True)
    assert not same_details(pack(FILE._replace(mode=0o600)), key, "file", digest=True)
    assert not same_details(pack(FILE._replace(type="fifo", digest=None)), key, "file", digest=True)
    assert stat_key(-1, 0, 0, -1, 0, 0, 0) is None  # an inode that does not pack: no shortcut


def test_records_are_a_mapping_of_entries_sharing_their_packed_form() -> None:
    records = Records({"a": FILE, "d": EDGES[1]})
    assert records["a"] == FILE and records.get("zz") is None and records.get("zz", 1) == 1
    assert "a" in records and "zz" not in records and len(records) == 2
    assert records == {"a": FILE, "d": EDGES[1]} and {"a": FILE, "d": EDGES[1]} == records
    assert records != {"a": FILE} and records != {"a": FILE, "d": FILE}
    copy = records.copy()
    assert copy.record("a") is records.record("a")
    del copy["a"]
    assert "a" in records and "a" not in copy
    assert records_of(records) is records
    assert isinstance(records_of({"a": FILE}), Records)
    assert dict(records.subset(lambda p: p == "d")) == {"d": EDGES[1]}
    records.update(copy)
    records.update({"n": FILE})
    assert sorted(records) == ["a", "d", "n"]
    assert records.pop("n") == FILE
    with pytest.raises(KeyError):
        records["n"]
    with pytest.raises(TypeError):
        hash(records)


def test_unreadable_counts_the_entries_with_an_error_packed_or_not() -> None:
    entries = {
        "ok": FILE,
        "locked": FILE._replace(digest=None, error="permission denied"),
        "odd": EDGES[9]._replace(error="e"),  # kept as marshal data
        "odd-ok": EDGES[9],
    }
    assert unreadable(Records(entries)) == unreadable(entries) == 2
    assert unreadable(Records()) == 0


def test_records_alike_differ_at_most_in_ctime_and_inode() -> None:
    moved = FILE._replace(ctime_ns=FILE.ctime_ns + 5, ino=FILE.ino + 1)
    assert alike(pack(FILE), pack(moved))
    for other in (
        FILE._replace(mtime_ns=1), FILE._replace(size=6), FILE._replace(mode=0o600),
        FILE._replace(uid=1), FILE._replace(digest="cd" * 32), FILE._replace(xattrs="{}"),
        FILE._replace(type="fifo", digest=None), EDGES[9],
    ):  # fmt: skip
        assert not alike(pack(FILE), pack(other)), other
