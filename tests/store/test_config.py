"""Unit tests of fim_tray.store.config: defaults, saving and loading, and every invalid setting."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest

from fim_tray.errors import ConfigError
from fim_tray.models import Folder
from fim_tray.scan.excludes import DEFAULT_EXCLUDES
from fim_tray.store.config import (
    DEFAULT_INTERVAL,
    MAX_INTERVAL,
    MIN_INTERVAL,
    Config,
    from_json,
    load,
    save,
    to_json,
)
from fim_tray.store.paths import folder_id


def _write(path: Path, obj: Any) -> Path:
    path.write_text(json.dumps(obj))
    return path


def test_defaults_when_the_file_is_missing(tmp_path: Path) -> None:
    config = load(tmp_path / "config.json")
    assert config == Config()
    assert config.folders == ()
    assert config.interval == DEFAULT_INTERVAL == 60.0
    assert config.algorithm == "sha256"
    assert config.excludes == DEFAULT_EXCLUDES
    assert not (tmp_path / "config.json").exists()


def test_defaults_for_an_empty_object(tmp_path: Path) -> None:
    assert load(_write(tmp_path / "c.json", {})) == Config()


def test_round_trip(tmp_path: Path) -> None:
    config = (
        Config(interval=5.5, excludes=("*.tmp",), algorithm="blake2b")
        .with_folder("/home/ann/Documents", algorithm=None, excludes=("build/",))
        .with_folder("/srv/caf\udce9", algorithm="sha256", excludes=())
    )
    path = tmp_path / "config" / "config.json"
    save(path, config)
    again = load(path)
    assert again == config
    assert again.folders[0] == Folder(
        "/home/ann/Documents", folder_id("/home/ann/Documents"), "blake2b", ("build/",)
    )
    assert again.folders[1].path == "/srv/caf\udce9"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_saved_file_is_readable_json_with_a_backup(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    save(path, Config(interval=10))
    save(path, Config(interval=20))
    assert json.loads(path.read_text())["interval"] == 20
    assert json.loads((tmp_path / "config.json.bak").read_text())["interval"] == 10
    assert path.read_text().endswith("}\n")


def test_unknown_keys_are_preserved(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.json", {"interval": 30, "start_at_login": True, "theme": {"x": 1}})
    config = load(path)
    assert config.extra == {"start_at_login": True, "theme": {"x": 1}}
    save(path, config.with_folder("/w", algorithm=None, excludes=()))
    saved = json.loads(path.read_text())
    assert saved["start_at_login"] is True
    assert saved["theme"] == {"x": 1}
    assert saved["interval"] == 30


def test_to_json_shape() -> None:
    obj = to_json(Config().with_folder("/w", algorithm=None, excludes=("a",)))
    assert obj["schema"] == 1
    assert obj["folders"] == [{"path": "/w", "algorithm": "sha256", "excludes": ["a"]}]


def test_folder_without_algorithm_takes_the_global_one() -> None:
    config = from_json({"algorithm": "blake2b", "folders": [{"path": "/w"}]})
    assert config.folders[0].algorithm == "blake2b"
    assert config.folders[0].excludes == ()
    assert config.folders[0].id == folder_id("/w")


def test_interval_as_integer_is_accepted() -> None:
    assert from_json({"interval": 5}).interval == 5.0


def test_interval_minimum() -> None:
    assert from_json({"interval": MIN_INTERVAL}).interval == MIN_INTERVAL
    with pytest.raises(ConfigError, match="interval must be at least 1 seconds"):
        from_json({"interval": 0.5})
    with pytest.raises(ConfigError, match="interval"):
        from_json({"interval": -10})


def test_interval_maximum() -> None:
    assert from_json({"interval": MAX_INTERVAL}).interval == MAX_INTERVAL
    with pytest.raises(ConfigError, match="interval must be at most"):
        from_json({"interval": 1e12})  # more than threading's waits accept


@pytest.mark.parametrize(
    ("obj", "setting"),
    [
        ({"interval": "soon"}, "interval"),
        ({"interval": None}, "interval"),
        ({"interval": [1]}, "interval"),
        ({"interval": "nan"}, "interval"),
        ({"interval": "inf"}, "interval"),
        ({"interval": 1e400}, "interval"),
        ({"algorithm": "md5"}, "algorithm"),
        ({"algorithm": None}, "algorithm"),
        ({"excludes": "*.tmp"}, "excludes"),
        ({"excludes": [1, 2]}, "excludes"),
        ({"folders": 5}, "folders"),
        ({"folders": "abc"}, "folders"),
        ({"folders": [5]}, "folders"),
        ({"folders": [{"excludes": []}]}, "folders"),
        ({"folders": [{"path_b64": "!!"}]}, "folders"),
        ({"folders": [{"path": "/w", "algorithm": "md5"}]}, "algorithm"),
        ({"folders": [{"path": "/w", "excludes": "x"}]}, "excludes"),
    ],
)
def test_invalid_setting_is_a_config_error_naming_it(obj: dict[str, Any], setting: str) -> None:
    with pytest.raises(ConfigError) as caught:
        from_json(obj, source="/c/config.json")
    assert setting in caught.value.message
    assert "/c/config.json" in caught.value.message


@pytest.mark.parametrize("obj", [[], "x", 1, None])
def test_not_an_object(obj: object) -> None:
    with pytest.raises(ConfigError, match="JSON object"):
        from_json(obj)


def test_other_schema_is_refused() -> None:
    with pytest.raises(ConfigError, match="schema 2"):
        from_json({"schema": 2})


def test_not_json_is_a_config_error_and_the_file_is_left(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text('{"interval": ')
    with pytest.raises(ConfigError, match="not valid JSON"):
        load(path)
    assert path.read_text() == '{"interval": '


def test_unreadable_path_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Cannot read"):
        load(tmp_path)  # a folder, not a file


def test_find_with_and_without_folder() -> None:
    config = (
        Config()
        .with_folder("/a", algorithm=None, excludes=())
        .with_folder("/b", algorithm="blake2b", excludes=())
    )
    found = config.find("/b")
    assert found is not None and found.algorithm == "blake2b"
    assert config.find("/c") is None
    assert config.find("/a/") is None  # paths are stored resolved: no guessing here
    assert [f.path for f in config.without_folder("/a").folders] == ["/b"]


def test_excludes_for_a_folder_add_to_the_global_ones() -> None:
    config = Config(excludes=("*.tmp",)).with_folder("/w", algorithm=None, excludes=("x/",))
    assert config.excludes_for(config.folders[0]) == ("*.tmp", "x/")
