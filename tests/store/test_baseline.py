"""Tests of fim_tray.store.baseline: the signed format, every way to damage it, saving."""

from __future__ import annotations

import hashlib
import hmac
import json
import stat
from datetime import timedelta
from pathlib import Path

import pytest

from fim_tray.errors import BaselineError, BaselineTamperedError
from fim_tray.models import Entry
from fim_tray.store.baseline import Baseline, load, parse, save, serialize
from tests.helpers import WHEN, sample_baseline

KEY = bytes(range(32))
OTHER_KEY = bytes(32)


def _entries() -> dict[str, Entry]:
    return {
        "a.txt": Entry(
            "file",
            5,
            1_700_000_000_123_456_789,
            1_700_000_000_5,
            42,
            0o644,
            1000,
            100,
            digest="ab" * 32,
        ),
        "sub": Entry("dir", 0, 1, 2, 43, 0o755, 1000, 100),
        "caf\udce9/na\udcffme": Entry("file", 0, 3, 4, 44, 0o600, 0, 0, digest="cd" * 32),
        "link": Entry("symlink", 4, 5, 6, 45, 0o777, 1000, 100, target="../\udcfe\udc80x"),
        "plain-link": Entry("symlink", 3, 5, 6, 46, 0o777, 1000, 100, target="a.txt"),
        "locked": Entry("file", 9, 7, 8, 47, 0o000, 0, 0, error="permission denied"),
        "pipe": Entry("fifo", 0, 9, 10, 48, 0o644, 1000, 100),
    }


def _baseline(**extra: object) -> Baseline:
    return sample_baseline(_entries(), **extra)


def _signed(body: bytes, key: bytes = KEY, schema: int = 1) -> bytes:
    """A baseline file written by hand: the documented layout, signed with ``key``."""
    mac = hmac.new(key, body, hashlib.sha256).hexdigest()
    head = f'{{"format":"fim-tray-baseline","schema":{schema},"hmac":"{mac}","body":'
    return head.encode() + body + b"}\n"


def _body(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "path": "/w",
        "algorithm": "sha256",
        "created": WHEN.isoformat(),
        "updated": WHEN.isoformat(),
        "root_dev": None,
        "entries": [
            {
                "path": "a",
                "type": "file",
                "size": 1,
                "mtime_ns": 1,
                "ctime_ns": 1,
                "ino": 1,
                "mode": 420,
                "uid": 0,
                "gid": 0,
                "digest": "00" * 32,
            },
        ],
    }
    body.update(changes)
    return body


# -- the format -----------------------------------------------------------------------------------


def test_round_trip_keeps_everything() -> None:
    original = _baseline()
    copy = parse(serialize(original, KEY), KEY)
    assert copy == original
    assert copy.created.utcoffset() == timedelta(hours=2)


def test_round_trip_of_undecodable_names_and_targets() -> None:
    copy = parse(serialize(_baseline(), KEY), KEY)
    assert copy.folder == "/home/ann/Doc\udcffuments"
    assert copy.entries["caf\udce9/na\udcffme"].digest == "cd" * 32
    assert copy.entries["link"].target == "../\udcfe\udc80x"
    assert copy.entries["plain-link"].target == "a.txt"


def test_round_trip_keeps_unknown_body_keys() -> None:
    copy = parse(serialize(_baseline(note="kept", counts=[1, 2]), KEY), KEY)
    assert copy.extra == {"note": "kept", "counts": [1, 2]}


def test_round_trip_of_an_empty_folder_without_device() -> None:
    empty = Baseline("/w", "blake2b", {}, WHEN, WHEN, root_dev=None)
    assert parse(serialize(empty, KEY), KEY) == empty


def test_file_is_valid_utf8_json_in_the_documented_layout() -> None:
    data = serialize(_baseline(), KEY)
    doc = json.loads(data.decode("utf-8"))
    assert list(doc) == ["format", "schema", "hmac", "body"]
    assert (doc["format"], doc["schema"]) == ("fim-tray-baseline", 1)
    assert doc["body"]["path_b64"]  # the folder name is not UTF-8
    assert data.endswith(b"}\n")


def test_serialize_is_deterministic_and_sorted() -> None:
    first = serialize(_baseline(), KEY)
    reordered = _baseline()
    reordered = reordered._replace(entries=dict(reversed(list(reordered.entries.items()))))
    assert serialize(reordered, KEY) == first
    paths = [e.get("path") for e in json.loads(first)["body"]["entries"] if "path" in e]
    assert paths == sorted(paths)


def test_a_hand_signed_file_in_the_documented_layout_parses() -> None:
    parsed = parse(_signed(json.dumps(_body()).encode()), KEY)
    assert parsed.folder == "/w"
    assert parsed.entries["a"].digest == "00" * 32


# -- damage ---------------------------------------------------------------------------------------


def test_every_truncation_is_refused() -> None:
    data = serialize(_baseline(), KEY)
    for length in range(len(data)):
        with pytest.raises(BaselineError):
            parse(data[:length], KEY)


def test_every_single_byte_change_is_refused() -> None:
    data = serialize(_baseline(), KEY)
    for index in range(len(data)):
        damaged = data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]
        with pytest.raises(BaselineError):
            parse(damaged, KEY)


def test_trailing_garbage_is_refused() -> None:
    with pytest.raises(BaselineError):
        parse(serialize(_baseline(), KEY) + b"\n", KEY)


@pytest.mark.parametrize("data", [b"", b"\x00\x01", b"\xff\xfe{", b"not json", b"{"])
def test_not_json_is_a_baseline_error_saying_so(data: bytes) -> None:
    with pytest.raises(BaselineError, match="not valid JSON"):
        parse(data, KEY)


@pytest.mark.parametrize("doc", [[], "x", 1, None, {}, {"format": "other", "schema": 1}])
def test_not_a_baseline(doc: object) -> None:
    with pytest.raises(BaselineError, match="not a fim-tray baseline") as caught:
        parse(json.dumps(doc).encode(), KEY)
    assert not isinstance(caught.value, BaselineTamperedError)


def test_another_schema_is_refused_by_version_not_as_tampering() -> None:
    with pytest.raises(BaselineError, match="schema version 2") as caught:
        parse(_signed(json.dumps(_body()).encode(), schema=2), KEY)
    assert not isinstance(caught.value, BaselineTamperedError)


def test_wrong_key_is_tampered() -> None:
    with pytest.raises(BaselineTamperedError, match="signature does not match"):
        parse(serialize(_baseline(), KEY), OTHER_KEY)


def test_edited_digest_is_tampered() -> None:
    data = serialize(_baseline(), KEY)
    edited = data.replace(b"ab" * 32, b"ba" * 32)
    assert edited != data
    with pytest.raises(BaselineTamperedError):
        parse(edited, KEY)


def test_re_signed_with_a_guessed_hmac_of_another_key_is_tampered() -> None:
    with pytest.raises(BaselineTamperedError):
        parse(_signed(json.dumps(_body()).encode(), key=OTHER_KEY), KEY)


def test_reformatted_json_is_tampered() -> None:
    doc = json.loads(serialize(_baseline(), KEY))
    pretty = json.dumps(doc, indent=2).encode() + b"\n"
    with pytest.raises(BaselineTamperedError):
        parse(pretty, KEY)


def test_hmac_field_missing_is_tampered() -> None:
    doc = json.loads(serialize(_baseline(), KEY))
    del doc["hmac"]
    with pytest.raises(BaselineTamperedError):
        parse(json.dumps(doc).encode(), KEY)


@pytest.mark.parametrize(
    "body",
    [
        _body(entries=None),
        _body(entries=["a string, not an entry"]),
        _body(entries=[[1, 2]]),
        _body(entries=[{"path": "a"}]),
        _body(entries=[{**_body()["entries"][0], "size": "big"}]),  # type: ignore[index]
        _body(entries=[{**_body()["entries"][0], "path": None}]),  # type: ignore[index]
        _body(entries=[{**_body()["entries"][0], "path": None, "path_b64": "!!"}]),  # type: ignore[index]
        _body(created="yesterday"),
        _body(algorithm=None) | {"created": None},
        {"path": "/w"},
        [],
        "body",
    ],
)
def test_signed_but_incomplete_is_a_baseline_error(body: object) -> None:
    with pytest.raises(BaselineError, match="signed but incomplete"):
        parse(_signed(json.dumps(body).encode()), KEY)


def test_the_message_names_the_source() -> None:
    with pytest.raises(BaselineError, match=r"The baseline /x/y\.json"):
        parse(b"{", KEY, source="The baseline /x/y.json")


# -- load and save --------------------------------------------------------------------------------


def test_load_missing_file(tmp_path: Path) -> None:
    with pytest.raises(BaselineError, match="missing"):
        load(tmp_path / "none.json", KEY)


def test_load_a_folder_instead_of_a_file(tmp_path: Path) -> None:
    with pytest.raises(BaselineError, match="cannot be read"):
        load(tmp_path, KEY)


def test_save_then_load(tmp_path: Path) -> None:
    path = tmp_path / "baselines" / "x.json"
    save(path, _baseline(), KEY)
    assert load(path, KEY) == _baseline()


def test_saved_files_are_private(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    save(path, _baseline(), KEY)
    save(path, _baseline(), KEY)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "x.json.bak").stat().st_mode) == 0o600


def test_save_keeps_the_previous_version_as_bak(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    first = _baseline()
    save(path, first, KEY)
    assert not (tmp_path / "x.json.bak").exists()
    second = _baseline()
    second = second._replace(entries={"only": second.entries["a.txt"]})
    save(path, second, KEY)
    assert load(path, KEY) == second
    assert load(tmp_path / "x.json.bak", KEY) == first
    third = _baseline()
    third = third._replace(entries={})
    save(path, third, KEY)
    assert load(tmp_path / "x.json.bak", KEY) == second
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json", "x.json.bak"]


def test_a_tampered_file_is_left_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    save(path, _baseline(), KEY)
    data = path.read_bytes().replace(b"ab" * 32, b"ba" * 32)
    path.write_bytes(data)
    with pytest.raises(BaselineTamperedError, match=str(path)):
        load(path, KEY)
    assert path.read_bytes() == data
