"""syslog+tls:// against a real rsyslog with its TLS driver: delivered when the server's
certificate is vouched for (the system's CAs, or ?ca=), refused plainly when it is not."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.alerts.conftest import need
from tests.alerts.servers import RsyslogTLS, rsyslogd_path, wait_for
from tests.conftest import run_cli

GTLS = [Path(p) for p in ("/usr/lib/x86_64-linux-gnu/rsyslog", "/usr/lib/aarch64-linux-gnu/rsyslog",
                          "/usr/lib/rsyslog", "/usr/lib64/rsyslog")]  # fmt: skip


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[RsyslogTLS]:
    need(rsyslogd_path() is not None, "rsyslogd (the rsyslog package)")
    need(any((d / "lmnsd_gtls.so").exists() for d in GTLS), "rsyslog's TLS driver (rsyslog-gnutls)")
    need(shutil.which("openssl") is not None, "openssl")
    server = RsyslogTLS(tmp_path / "rsyslog-tls")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_syslog_over_tls_reaches_a_server_the_ca_vouches_for(
    tls_server: RsyslogTLS, home: Path
) -> None:
    url = f"syslog+tls://127.0.0.1:{tls_server.port}?ca={tls_server.ca}"
    assert run_cli("alert", "add", url, home=home).returncode == 0
    done = run_cli("alert", "test", home=home)
    assert done.returncode == 0, done.stderr
    assert wait_for(lambda: bool(tls_server.messages()), 10)
    [message] = tls_server.messages()
    assert message["app-name"] == "fim-tray"
    assert message["$!"]["event"]["action"] == "test"


def test_an_unknown_certificate_is_a_plain_refusal(tls_server: RsyslogTLS, home: Path) -> None:
    url = f"syslog+tls://127.0.0.1:{tls_server.port}"
    assert run_cli("alert", "add", url, home=home).returncode == 0
    done = run_cli("alert", "test", home=home)
    assert done.returncode == 2
    assert "its certificate is not trusted" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert tls_server.messages() == []


def test_a_ca_file_that_cannot_be_used_is_named_when_sending(tmp_path: Path) -> None:
    from fim_tray.alerts.syslog import SyslogError, send

    (tmp_path / "plain.pem").write_text("no certificate here\n")
    for ca, why in ((str(tmp_path), "is a folder"), (f"{tmp_path}/plain.pem", "no PEM"),
                    (f"{tmp_path}/gone.pem", "does not exist")):  # fmt: skip
        with pytest.raises(SyslogError) as caught:
            send("tls", "127.0.0.1", 9, [b"x"], timeout=2, ca=ca)
        assert str(caught.value).startswith(f"the CA file {ca} ") and why in str(caught.value)


def test_the_systems_certificates_that_cannot_be_read_are_said_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import ssl

    from fim_tray.alerts.syslog import SyslogError, tls_context

    def broken(**_: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(ssl, "create_default_context", broken)
    with pytest.raises(SyslogError, match=r"^cannot read the system's CA certificates: perm"):
        tls_context()
