"""Fixtures of the use-case tests: a small folder of text, binary, secret and odd-named files."""

from __future__ import annotations

from pathlib import Path

import pytest

from fim_tray.app.service import Service
from tests.helpers import make_tree

NAME = "caf\udce9.txt"  # not valid UTF-8 on disk


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    return make_tree(
        tmp_path / "docs",
        {
            "notes.txt": "one\ntwo\nthree\n",
            "image.bin": bytes(range(256)) * 8,
            "sub/deep/c.txt": "charlie\n",
            ".env": "TOKEN=secret\n",
            NAME: "latin\n",
        },
    )


@pytest.fixture
def kept(service: Service, docs: Path) -> Path:
    (docs / "link").symlink_to("notes.txt")
    service.watch(str(docs), keep_copies=True)
    return docs
