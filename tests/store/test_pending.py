"""Tests of the signed pending file, of accepts that race, of a baseline put back, of a lost
install key and of ``accept --file`` names that name nothing."""

from __future__ import annotations

import json
import logging
import shutil
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fim_tray.app import accept as accepting
from fim_tray.app import check as checking
from fim_tray.app.service import Service
from fim_tray.errors import BaselineError, BaselineTamperedError, FimError, NotWatchedError
from fim_tray.models import Folder, ScanResult
from fim_tray.store import pending as pending_file
from fim_tray.store.paths import Paths
from tests.conftest import run_cli


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "watched"
    folder.mkdir()
    for name in ("f1.txt", "f2.txt", "planned.txt"):
        (folder / name).write_text(f"{name} original\n")
    return folder.resolve()


@pytest.fixture
def folder(service: Service, root: Path) -> Folder:
    return service.watch(str(root))[0]


def _paths(report: Any) -> list[str]:
    return sorted(c.path for c in report.changes)


# -- 1. two accepts at once ------------------------------------------------------------------------


def test_two_concurrent_accepts_both_stay_accepted(
    service: Service, folder: Folder, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (root / "f1.txt").write_text("f1 changed\n")
    (root / "f2.txt").write_text("f2 changed\n")
    # Two services, as two processes: both read the baseline and scan before either saves.
    both_scanned = threading.Barrier(2, timeout=10)
    errors: list[BaseException] = []
    real = checking.rescan

    def rescan(*args: Any, **kwargs: Any) -> ScanResult:
        result = real(*args, **kwargs)
        both_scanned.wait()
        return result

    monkeypatch.setattr(accepting, "rescan", rescan)

    def accept(name: str) -> None:
        other = Service(Paths.default(), lock_timeout=10)
        try:
            (report,) = other.accept(str(root), [name])
            assert _paths(report) == [name]
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=accept, args=(n,)) for n in ("f1.txt", "f2.txt")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert errors == []
    (report,) = service.check(str(root))
    assert report.error is None
    assert report.changes == ()  # neither accept was lost


# -- 2. the pending file is signed -----------------------------------------------------------------


def test_a_planted_signature_does_not_hide_a_change(
    service: Service, folder: Folder, root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (root / "planned.txt").write_text("the attacker's content\n")
    (report,) = service.check(str(root))
    signature = report.changes[0].signature()
    pending = service.paths.pending_file(folder.id)
    # What the attacker writes after planning the change, before making it: an unsigned file
    # (as fim-tray wrote before signing) that already lists the change, and a future full check.
    pending.write_text(
        json.dumps(
            {
                "checked": datetime.now().astimezone().isoformat(),
                "full_checked": (datetime.now().astimezone() + timedelta(days=365)).isoformat(),
                "signatures": [signature],
                "paths": {signature: {"path": "planned.txt"}},
            }
        )
    )
    assert service.last_full_check(folder) is None  # the future date is not believed
    with caplog.at_level(logging.WARNING, logger="fim_tray.store.pending"):
        (report,) = service.check(str(root))
    assert [c.path for c in report.new] == ["planned.txt"]  # reported, and logged, as new
    assert [e.path for e in service.history()].count("planned.txt") == 2
    warnings = [r for r in caplog.records if "fails its signature" in r.getMessage()]
    assert len(warnings) == 1  # once, however often the file was read


def test_an_edited_signed_pending_file_is_ignored(
    service: Service, folder: Folder, root: Path
) -> None:
    (root / "f1.txt").write_text("changed\n")
    (report,) = service.check(str(root))
    assert [c.path for c in report.new] == ["f1.txt"]
    path = service.paths.pending_file(folder.id)
    path.write_bytes(path.read_bytes().replace(b'"signatures":[', b'"signatures":["0",'))
    (report,) = service.check(str(root))
    assert [c.path for c in report.new] == ["f1.txt"]
    (report,) = service.check(str(root))  # rewritten, signed: pending again
    assert report.new == ()


def test_a_pending_file_of_another_folder_is_ignored(
    service: Service, folder: Folder, root: Path, tmp_path: Path
) -> None:
    (root / "f1.txt").write_text("changed\n")
    service.check(str(root))
    other_root = tmp_path / "other"
    other_root.mkdir()
    other, _ = service.watch(str(other_root))
    shutil.copyfile(service.paths.pending_file(folder.id), service.paths.pending_file(other.id))
    assert service.store.pending(other).read() == {}
    assert service.store.pending(folder).signatures() != set()


def test_keep_signatures_keeps_the_file_signed(
    service: Service, folder: Folder, root: Path
) -> None:
    (root / "f1.txt").write_text("changed\n")
    (root / "f2.txt").write_text("changed\n")
    (report,) = service.check(str(root))
    by_path = {c.path: c.signature() for c in report.changes}
    store = service.store.pending(folder)
    store.keep_signatures({by_path["f2.txt"]})
    assert store.signatures() == {by_path["f2.txt"]}
    assert store.changes() == {by_path["f2.txt"]: "f2.txt"}
    (report,) = service.check(str(root))
    assert [c.path for c in report.new] == ["f1.txt"]


def test_parse_refuses_another_key() -> None:
    data = pending_file.serialize({"signatures": []}, b"k" * 32, "id")
    assert pending_file.parse(data, b"k" * 32, "id") == {"signatures": []}
    assert pending_file.parse(data, b"x" * 32, "id") is None
    assert pending_file.parse(data, b"k" * 32, "other") is None


# -- 3. an older baseline put back -----------------------------------------------------------------


def test_an_older_baseline_put_back_is_refused(
    service: Service, folder: Folder, root: Path
) -> None:
    (root / "f1.txt").write_text("changed\n")
    service.accept(str(root))
    base = service.paths.baseline_file(folder.id)
    shutil.copyfile(base.with_name(base.name + ".bak"), base)  # the older copy, validly signed
    (report,) = service.check(str(root))
    assert report.error is not None
    assert "is older than the last one written (generation 1 < 2)" in report.error
    assert "`fim-tray remove` then `fim-tray add`" in report.error
    with pytest.raises(BaselineTamperedError, match="older copy"):
        service.accept(str(root))
    with pytest.raises(BaselineTamperedError):
        Service(Paths.default()).store.load_baseline(folder)  # another process: no cache of it


def test_the_baseline_just_written_is_accepted_everywhere(
    service: Service, folder: Folder, root: Path
) -> None:
    (root / "f1.txt").write_text("changed\n")
    service.accept_changes(str(root), {c.key() for c in service.check()[0].changes})
    (root / "f2.txt").write_text("changed\n")
    service.accept(str(root), ["f2.txt"])
    (report,) = Service(Paths.default()).check(str(root))
    assert report.error is None and report.changes == ()


def test_a_missing_pending_file_is_not_an_error(
    service: Service, folder: Folder, root: Path
) -> None:
    service.paths.pending_file(folder.id).unlink()  # as an install older than the record
    (report,) = service.check(str(root))
    assert report.error is None and report.changes == ()


# -- 4. a lost install key -------------------------------------------------------------------------


def test_a_lost_key_is_not_replaced_while_baselines_exist(
    service: Service, folder: Folder, root: Path
) -> None:
    service.paths.key_file.unlink()
    fresh = Service(Paths.default())
    with pytest.raises(BaselineError, match=r"install key .* is missing") as caught:
        fresh.store.load_baseline(folder)
    assert "restore it from a backup" in caught.value.message
    assert not isinstance(caught.value, BaselineTamperedError)
    assert not service.paths.key_file.exists()
    (report,) = fresh.check(str(root))
    assert report.error is not None and "is missing" in report.error


def test_a_key_is_made_when_there_is_no_baseline(service: Service, root: Path) -> None:
    assert not service.paths.key_file.exists()
    service.watch(str(root))
    assert service.paths.key_file.exists()
    (report,) = service.check(str(root))
    assert report.error is None


# -- 5. accept --file that names nothing -----------------------------------------------------------


def test_accept_of_a_name_that_names_nothing_is_an_error(
    service: Service, folder: Folder, root: Path
) -> None:
    (root / "f1.txt").write_text("changed\n")
    with pytest.raises(FimError, match=r"no change to accept at typo\.txt"):
        service.accept(str(root), ["typo.txt"])
    with pytest.raises(NotWatchedError):
        service.accept(str(root), ["../etc/passwd"])
    (report,) = service.accept(str(root), ["f2.txt"])  # there, unchanged: nothing to accept
    assert report.changes == ()
    (root / "planned.txt").unlink()
    (report,) = service.accept(str(root), ["planned.txt"])  # gone: its removal is accepted
    assert _paths(report) == ["planned.txt"]


def test_cli_accept_of_a_typo_exits_2(home: Path, root: Path) -> None:
    assert run_cli("add", root, home=home).returncode == 0
    (root / "f1.txt").write_text("changed\n")
    typo = run_cli("accept", root, "--file", "typo", home=home)
    assert typo.returncode == 2
    assert "no change to accept at typo" in typo.stderr + typo.stdout
    escape = run_cli("accept", root, "--file", "../etc/passwd", home=home, cwd=root)
    assert escape.returncode == 2
