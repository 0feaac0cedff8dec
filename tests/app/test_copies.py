"""Saved copies as use cases: the copy policy (no-copy globs, size cap, quota), copies recorded by
watch, accept and keep-copies, and pruning."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from fim_tray.app import copies
from fim_tray.app.copies import References
from fim_tray.app.copy_policy import CopySettings
from fim_tray.app.service import Service
from fim_tray.errors import ConfigError
from fim_tray.models import Entry, Folder
from fim_tray.store import config as config_store
from fim_tray.store.config import Config, from_json, to_json
from fim_tray.store.copies import CopyStore
from fim_tray.store.paths import folder_id
from tests.helpers import make_tree
from tests.store.test_copies import all_content, raw_store_bytes, sha


def set_copy_settings(service: Service, **extra: object) -> None:
    config = service.config()
    config_store.save(service.paths.config_file, config._replace(extra={**config.extra, **extra}))


@pytest.fixture
def store(tmp_path: Path) -> CopyStore:
    return CopyStore(tmp_path / "snapshots")


def test_default_no_copy_globs_catch_secrets() -> None:
    settings = CopySettings()
    for name in ("server.key", "cert.pem", "id_rsa", "id_ed25519.pub", ".env", ".env.local",
                 "vault.kdbx", "me.p12", "me.pfx", ".netrc", "deep/down/.env",
                 ".ssh/config", ".gnupg/pubring.kbx"):  # fmt: skip
        assert settings.secret(name) is not None, name
    for name in ("notes.txt", "environment.txt", "keys/readme.md", "monkey.png"):
        assert settings.secret(name) is None, name


@pytest.mark.parametrize(
    "name",
    [
        ".aws/credentials", "me/.aws/credentials", "home/ann/.AWS/Credentials",
        ".kube/config", "ann/.kube/config", ".docker/config.json", "x/.npmrc", ".pypirc",
        "putty/server.ppk", "office.ovpn", "firefox/abc.default/logins.json",
        "firefox/abc.default/key4.db", ".vault-token", "infra/terraform.tfstate",
        "infra/terraform.tfstate.backup", "SERVER.KEY", "Id_Rsa", "ID_RSA", ".ENV", "Server.PEM",
        "PRIVATE.KEY", "deploy/prod.env", "keys/me.asc", "site/.htpasswd",
        "etc/ssh/ssh_host_ed25519_key", "ann/.config/gcloud/application_default_credentials.json",
        # backups of secrets stay secrets
        ".kube/config.bak", ".docker/config.json.bak", "my.pem.bak", "server.key~old",
        ".pypirc.orig", ".ssh.bak/id", "ID_RSA.OLD", ".env~",
        # more credential files
        ".s3cfg", ".boto", ".azure/accessTokens.json", ".config/gh/hosts.yml", "credentials.json",
        "service-account.json", "wallet.dat", "etc/shadow", ".bash_history", ".zsh_history",
        ".m2/settings.xml", ".cargo/credentials.toml", ".password-store/mail.gpg",
    ],
)  # fmt: skip
def test_credentials_are_never_copied_at_any_depth_in_any_case(name: str) -> None:
    assert CopySettings().secret(name) is not None


@pytest.mark.parametrize(
    "name",
    ["aws/credentials.md", ".kube/config.d/readme", "docker/config.json", "npmrc.txt",
     "report.2024.txt", "notes.txt.bak", "settings.xml", "history.txt"],
)  # fmt: skip
def test_near_names_are_copied(name: str) -> None:
    assert CopySettings().secret(name) is None


def test_settings_from_config() -> None:
    config = from_json({"no_copy": ["*.secret", "private/"], "copy_max_file_bytes": 5,
                        "copy_quota_bytes": 100})  # fmt: skip
    settings = CopySettings.from_config(config)
    assert settings == CopySettings(("*.secret", "private/"), 5, 100)
    assert settings.secret("a/b.secret") == "*.secret"
    assert settings.secret("private/x.txt") == "private/"
    assert settings.secret(".env") is None  # the defaults are replaced, not added to
    assert to_json(config)["no_copy"] == ["*.secret", "private/"]  # kept on save


@pytest.mark.parametrize(
    "extra",
    [
        {"no_copy": "*.key"},
        {"no_copy": [1]},
        {"copy_max_file_bytes": "10"},
        {"copy_quota_bytes": -1},
        {"copy_quota_bytes": True},
    ],
)
def test_bad_settings_are_config_errors(extra: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        CopySettings.from_config(from_json(extra))


def test_keep_copies_in_config_json(tmp_path: Path) -> None:
    config = Config().with_folder("/w", algorithm=None, excludes=(), keep_copies=True)
    assert to_json(config)["folders"] == [
        {"path": "/w", "algorithm": "sha256", "excludes": [], "keep_copies": True}
    ]
    path = tmp_path / "config.json"
    config_store.save(path, config)
    assert config_store.load(path).folders[0].keep_copies is True
    old = from_json({"folders": [{"path": "/w", "excludes": [], "future": 1}]})
    assert old.folders[0].keep_copies is False
    with pytest.raises(ConfigError, match="keep_copies"):
        from_json({"folders": [{"path": "/w", "keep_copies": "yes"}]})


# -- recording copies: what gets stored --------------------------------------------------------


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    return make_tree(
        tmp_path / "docs",
        {
            "a.txt": "alpha\n",
            "same1.txt": "twin\n",
            "same2.txt": "twin\n",
            "bin.dat": bytes(range(256)) * 4,
            ".env": "API_TOKEN=hunter2-env-secret\n",
            "keys/id_rsa": "-----BEGIN OPENSSH PRIVATE KEY----- id-secret\n",
            "caf\udce9.txt": "latin-1 name\n",  # not valid UTF-8
        },
    )


def test_watch_with_copies_stores_each_content_once(service: Service, docs: Path) -> None:
    folder, result = service.watch(str(docs), keep_copies=True)
    assert result is not None and result.problems == ()
    assert folder.keep_copies and service.folder(str(docs)).keep_copies
    contents = all_content(service.store.copies)
    assert sorted(contents) == sorted(
        [b"alpha\n", b"twin\n", bytes(range(256)) * 4, b"latin-1 name\n"]
    )
    status = service.copies_status()
    [kept] = status.folders
    assert (kept.files, kept.kept, kept.secret, kept.too_big) == (7, 5, 2, 0)


def test_secrets_are_never_in_the_store(service: Service, docs: Path) -> None:
    service.watch(str(docs), keep_copies=True)
    (docs / ".env").write_text("API_TOKEN=changed-env-secret\n")
    service.check()
    service.accept(str(docs))
    for content in [*all_content(service.store.copies), raw_store_bytes(service.store.copies)]:
        assert b"env-secret" not in content
        assert b"id-secret" not in content


def test_watch_without_copies_stores_nothing(service: Service, docs: Path) -> None:
    service.watch(str(docs))
    assert service.store.copies.blobs() == []
    assert service.copies_status().folders == ()


def test_size_cap(service: Service, docs: Path) -> None:
    set_copy_settings(service, copy_max_file_bytes=100)
    (docs / "big.txt").write_text("b" * 101)
    (docs / "edge.txt").write_text("e" * 100)
    service.watch(str(docs), keep_copies=True)
    contents = all_content(service.store.copies)
    assert b"e" * 100 in contents
    assert b"b" * 101 not in contents
    assert service.copies_status().folders[0].too_big == 2  # big.txt and bin.dat (1 KiB)


def test_quota_skips_what_does_not_fit(service: Service, tmp_path: Path) -> None:
    root = make_tree(tmp_path / "q", {f"f{i}.bin": os.urandom(3000) for i in range(5)})
    set_copy_settings(service, copy_quota_bytes=10_000)
    service.watch(str(root), keep_copies=True)
    blobs = service.store.copies.blobs()
    assert len(blobs) == 3
    assert sum(b.size for b in blobs) <= 10_000


def test_a_file_changed_after_it_was_hashed_is_not_copied(
    store: CopyStore, tmp_path: Path
) -> None:
    root = make_tree(tmp_path / "w", {"a.txt": "now\n"})
    entries = {"a.txt": _file_entry(b"then\n")}
    report = copies.copy_files(
        store, _folder(root), "sha256", entries, CopySettings(), References()
    )
    assert report.stored == 0
    assert [p.message for p in report.problems] == ["no copy kept: it changed after it was hashed"]
    assert store.blobs() == []


def test_a_fifo_swapped_in_is_never_opened(store: CopyStore, tmp_path: Path) -> None:
    root = tmp_path / "w"
    root.mkdir()
    os.mkfifo(root / "pipe")
    entries = {"pipe": _file_entry(b"was a file\n")}
    done = threading.Event()
    outcome: list[copies.CopyReport] = []

    def run() -> None:
        outcome.append(
            copies.copy_files(store, _folder(root), "sha256", entries, CopySettings(), References())
        )
        done.set()

    thread = threading.Thread(target=run)
    thread.start()
    finished = done.wait(20)
    if not finished:  # unblock it so the test ends
        with open(root / "pipe", "wb"):
            pass
    thread.join()
    assert finished, "copying a FIFO blocked"
    assert outcome[0].stored == 0 and len(outcome[0].problems) == 1


def test_a_link_swapped_in_is_never_followed(store: CopyStore, tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"outside secret\n")
    root = tmp_path / "w"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").symlink_to(outside)
    (tmp_path / "other.txt").write_bytes(b"other secret\n")
    (root / "sub2").symlink_to(tmp_path)  # a folder on the way replaced by a link
    entries = {
        "a.txt": _file_entry(b"outside secret\n"),
        "sub2/other.txt": _file_entry(b"other secret\n"),
    }
    report = copies.copy_files(
        store, _folder(root), "sha256", entries, CopySettings(), References()
    )
    assert report.stored == 0
    assert [p.message for p in report.problems] == [
        "no copy kept: it was replaced by a link (not followed)",
        "no copy kept: sub2 is no longer a folder (a link or a file is in its place); it was "
        "not followed.",
    ]
    assert store.blobs() == []


def _file_entry(data: bytes) -> Entry:
    return Entry("file", len(data), 0, 0, 0, 0o644, 0, 0, digest=sha(data))


def _folder(root: Path) -> Folder:
    return Folder(str(root), folder_id(str(root)), keep_copies=True)


# -- keep-copies on / off, pruning -------------------------------------------------------------


def test_turning_copies_on_copies_what_still_matches(service: Service, docs: Path) -> None:
    service.watch(str(docs))
    (docs / "a.txt").write_text("alpha, changed since the baseline\n")
    folder, report = service.set_keep_copies(str(docs), True)
    assert folder.keep_copies and report is not None
    assert report.stored == 3  # twin once, bin.dat, the latin-1 name; a.txt changed: skipped
    assert [p.path for p in report.problems] == ["a.txt"]
    assert b"alpha, changed since the baseline\n" not in all_content(service.store.copies)

    folder, report = service.set_keep_copies(str(docs), False)
    assert not folder.keep_copies and report is None
    assert service.store.copies.blobs() == []
    assert not service.folder(str(docs)).keep_copies


def test_accept_stores_the_new_content_and_prunes_the_old(service: Service, docs: Path) -> None:
    service.watch(str(docs), keep_copies=True)
    (docs / "a.txt").write_text("alpha v2\n")
    service.accept(str(docs))  # no check first: nothing in the history needs v1
    contents = all_content(service.store.copies)
    assert b"alpha v2\n" in contents and b"alpha\n" not in contents


def test_copies_the_history_refers_to_are_kept(service: Service, docs: Path) -> None:
    service.watch(str(docs), keep_copies=True)
    (docs / "a.txt").write_text("alpha v2\n")
    service.check()  # the history now has a "modified" line naming v1
    service.accept(str(docs))
    contents = all_content(service.store.copies)
    assert b"alpha v2\n" in contents and b"alpha\n" in contents
    assert service.prune_copies().removed == 0


def test_unwatch_prunes_the_folder_copies(service: Service, docs: Path) -> None:
    service.watch(str(docs), keep_copies=True)
    assert service.store.copies.blobs()
    service.unwatch(str(docs))
    assert service.store.copies.blobs() == []


def test_prune_keeps_everything_when_a_baseline_cannot_be_read(
    service: Service, docs: Path
) -> None:
    folder, _ = service.watch(str(docs), keep_copies=True)
    count = len(service.store.copies.blobs())
    service.paths.baseline_file(folder.id).write_text("{}")
    report = service.prune_copies()
    assert report.removed == 0 and report.note is not None and "cannot be read" in report.note
    assert len(service.store.copies.blobs()) == count


def test_prune_enforces_the_quota_oldest_first(store: CopyStore) -> None:
    blobs = {}
    for age, name in enumerate(("old", "middle", "new")):
        data = os.urandom(1000) + name.encode()
        blobs[name] = sha(data)
        store.put(data, sha(data))
        os.utime(store.path(sha(data)), (1_000_000 + age, 1_000_000 + age))
    refs = References(
        baseline={"/f": {blobs["old"]}},  # the baseline needs the oldest: dropped last
        history={"/f": {blobs["middle"], blobs["new"]}},
    )
    report = copies.drop_unneeded(store, refs, {"/f": 2200})
    assert report.removed == 1
    assert {b.digest for b in store.blobs()} == {blobs["old"], blobs["new"]}
    copies.drop_unneeded(store, refs, {"/f": 1100})
    assert {b.digest for b in store.blobs()} == {blobs["old"]}
    copies.drop_unneeded(store, refs, {"/f": 10})
    assert store.blobs() == []


def test_prune_removes_unreferenced_and_stale_temporaries(store: CopyStore) -> None:
    keep, drop = b"keep", b"drop"
    store.put(keep, sha(keep))
    store.put(drop, sha(drop))
    stale = store.path(sha(keep)).parent / ".abc.tmp"
    stale.write_bytes(b"half")
    os.utime(stale, (1, 1))
    report = copies.drop_unneeded(store, References(baseline={"/f": {sha(keep)}}), {"/f": 10**9})
    assert report.removed == 1 and report.count == 1
    assert [b.digest for b in store.blobs()] == [sha(keep)]
    assert not stale.exists()


# -- a damaged copy is replaced, never trusted -------------------------------------------------


def test_keep_copies_on_and_prune_replace_a_truncated_copy(service: Service, docs: Path) -> None:
    service.watch(str(docs), keep_copies=True)
    path = service.store.copies.path(sha(b"alpha\n"))
    path.write_bytes(path.read_bytes()[:-2])
    [kept] = service.copies_status().folders
    assert kept.kept == 4  # the truncated copy is not counted as kept
    _folder, report = service.set_keep_copies(str(docs), True)
    assert report is not None and report.stored == 1
    assert service.store.copies.read(sha(b"alpha\n")) == b"alpha\n"

    path.write_bytes(path.read_bytes()[:-2])
    assert service.prune_copies().removed == 1
    assert not service.store.copies.has(sha(b"alpha\n"))


@pytest.mark.parametrize(
    ("folder", "rel"),
    [("/home/ann/.aws", "credentials"), ("/home/ann/.ssh", "github"), ("/home/ann/.kube", "config"),
     ("/home/ann/.gnupg", "private-keys-v1.d/x.key"), ("/srv/.SSH", "deploy")],
)  # fmt: skip
def test_watching_the_secrets_own_folder_copies_nothing_of_it(folder: str, rel: str) -> None:
    assert CopySettings().secret(rel, folder) is not None
    assert CopySettings().secret(rel, "/home/ann/notes") is None or rel.endswith(".key")
