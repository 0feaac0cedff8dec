"""Tests of fim_tray.store.paths: the state layout, folder ids, and names that are not UTF-8."""

from __future__ import annotations

import base64
import os
import sys
from pathlib import Path

import pytest

from fim_tray.store.names import decode_name, encode_name
from fim_tray.store.paths import HOME_ENV, Paths, folder_id


def test_home_env_layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(HOME_ENV, str(tmp_path))
    paths = Paths.default()
    assert paths.data_dir == tmp_path / "data"
    assert paths.config_dir == tmp_path / "config"
    assert paths.baselines_dir == tmp_path / "data" / "baselines"
    assert paths.events_file == tmp_path / "data" / "events.jsonl"
    assert paths.lock_file == tmp_path / "data" / "lock"
    assert paths.config_file == tmp_path / "config" / "config.json"
    assert paths.key_file == tmp_path / "config" / "install.key"
    assert paths.baseline_file("abc") == tmp_path / "data" / "baselines" / "abc.json"
    assert paths.pending_file("abc") == tmp_path / "data" / "baselines" / "abc.pending.json"


def test_the_key_is_kept_outside_the_data_folder(home: Path) -> None:
    paths = Paths.default()
    assert paths.data_dir not in paths.key_file.parents


def test_home_with_tilde_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv(HOME_ENV, "~/fim")
    assert Paths.default().config_dir == tmp_path / "fim" / "config"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG folders are Linux's")
def test_without_home_env_platformdirs_decides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(HOME_ENV, "")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "conf"))
    paths = Paths.default()
    assert paths.data_dir == tmp_path / "share" / "fim-tray"
    assert paths.config_dir == tmp_path / "conf" / "fim-tray"


def test_folder_id_is_stable_across_versions() -> None:
    # Baseline file names derive from it: a change would orphan every existing baseline.
    assert folder_id("/home/ann/Documents") == "840ccdb0fe498b27"
    assert folder_id("/srv/caf\udce9") == "37e7427b69fd24ee"


def test_folder_id_shape_and_difference() -> None:
    ids = {folder_id(p) for p in ["/a", "/a/", "/b", "/A", "/a\udcff"]}
    assert len(ids) == 5
    assert all(len(i) == 16 and int(i, 16) >= 0 for i in ids)


@pytest.mark.parametrize("name", ["", "a.txt", "dir/日本語 ✓.txt", "a\nb", "x\\y"])
def test_utf8_names_stay_plain_text(name: str) -> None:
    assert encode_name(name) == {"path": name}
    assert decode_name(dict(encode_name(name))) == name


@pytest.mark.parametrize("raw", [b"caf\xe9", b"\xff", b"a\x80b/c\xfe", b"\xed\xa0\x80", b"ok/\xc3"])
def test_undecodable_names_round_trip_through_base64(raw: bytes) -> None:
    name = os.fsdecode(raw)
    encoded = encode_name(name)
    assert list(encoded) == ["path_b64"]
    assert base64.b64decode(encoded["path_b64"]) == raw
    assert decode_name(dict(encoded)) == name
    assert os.fsencode(decode_name(dict(encoded))) == raw


def test_known_base64_form() -> None:
    assert encode_name("caf\udce9") == {"path_b64": "Y2Fm6Q=="}
    assert decode_name({"path_b64": "Y2Fm6Q=="}) == "caf\udce9"


def test_plain_path_wins_over_base64() -> None:
    assert decode_name({"path": "a", "path_b64": "Yg=="}) == "a"


@pytest.mark.parametrize(
    "obj",
    [{}, {"path": 5}, {"path": None}, {"path_b64": 5}, {"path_b64": "!!"}, {"path_b64": "Y2Fm6Q"}],
)
def test_unusable_names_are_value_errors(obj: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        decode_name(obj)


def test_a_relative_state_folder_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from fim_tray.errors import FimError
    from fim_tray.store.paths import Paths

    monkeypatch.setenv("FIM_TRAY_HOME", "state")
    with pytest.raises(FimError, match="must be an absolute path"):
        Paths.default()
    monkeypatch.setenv("FIM_TRAY_HOME", "~/state")  # the home folder is absolute enough
    assert Paths.default().data_dir.is_absolute()
