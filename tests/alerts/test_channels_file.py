"""The channels file: private to its owner, and read as a previous version wrote it."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from fim_tray.alerts import channels

SECRET = "Hunter2Secret"


@pytest.mark.skipif(os.name == "nt", reason="POSIX permissions")
def test_a_file_opened_up_by_hand_is_made_private_again_and_said_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "alerts.json"
    url = f"mailtos://ann:{SECRET}@mail.example.org?to=bob@example.org"
    path.write_text(json.dumps({"version": 1, "channels": [url]}))
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING):
        assert [c.url for c in channels.load(path)] == [url]
        assert path.stat().st_mode & 0o777 == 0o600
        path.chmod(0o640)
        channels.load(path)
    told = [r.getMessage() for r in caplog.records if "readable by others" in r.getMessage()]
    assert len(told) == 1 and str(path) in told[0] and "0644" in told[0]
    assert SECRET not in caplog.text
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_url_an_earlier_version_wrote_keeps_its_outbox(tmp_path: Path) -> None:
    import hashlib

    path = tmp_path / "alerts.json"
    old = ["syslog+tcp://127.0.0.1", "syslog+tcp://10.0.0.5:514", "JSONL:///tmp/./a.jsonl"]
    path.write_text(json.dumps({"version": 1, "channels": old}))
    loaded = channels.load(path)
    assert [c.url for c in loaded] == [
        "syslog+tcp://127.0.0.1:514", "syslog+tcp://10.0.0.5:514", "jsonl:///tmp/a.jsonl",
    ]  # fmt: skip
    ids = [hashlib.sha256(url.encode()).hexdigest()[:16] for url in old]
    assert [c.id for c in loaded] == ids
    channels.save(path, loaded)  # as the file was: each outbox keeps its name
    assert json.loads(path.read_text())["channels"] == old
    assert [c.id for c in channels.load(path)] == ids
