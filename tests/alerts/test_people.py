"""Messages for people through apprise to a real SMTP server (aiosmtpd): held in the outbox
while the server is down, then sent in order, the hourly limit's overflow as one digest."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from fim_tray.app.alerting import Alerting
from fim_tray.models import Change, Entry, Folder, FolderReport
from fim_tray.store.paths import Paths
from tests.alerts.servers import Mailbox, free_port, wait_for

ENTRY = Entry("file", 3, 0, 0, 7, 0o644, 0, 0, "ab" * 32)


def report(name: str) -> FolderReport:
    changes = (Change("added", name, None, ENTRY),)
    when = datetime(2026, 12, 7, 10, 0, tzinfo=timezone.utc)
    return FolderReport(Folder("/home/ann/Documents", "id"), when, changes=changes, new=changes)


@pytest.mark.usefixtures("apprise_installed")
def test_email_waits_for_a_server_that_is_down_then_goes_in_order_with_a_digest(
    tmp_path: Path,
) -> None:
    port = free_port()
    paths = Paths(tmp_path / "data", tmp_path / "config")
    alerts = Alerting(paths, per_hour=2, clock=lambda: 0.0, retry=(0.1, 0.3), timeout=3)
    alerts.add(f"mailto://127.0.0.1:{port}?from=fim@localhost&to=ann@localhost&mode=insecure")
    alerts.start()
    mailbox: Mailbox | None = None
    try:
        for index in range(4):
            alerts.on_report(report(f"f{index}.txt"))
        assert wait_for(lambda: any(s.reason for s in alerts.states()), 10)
        [state] = alerts.states()
        assert state.waiting == 4 and state.failing_since is not None
        assert "connection refused" in (state.reason or "")
        mailbox = Mailbox(port).start()  # the server is back
        assert wait_for(lambda: len(mailbox.messages) >= 2, 20)
        mails = mailbox.parsed()
        assert len(mails) == 2  # the limit: 2 an hour; the second folds the other three
        assert "f0.txt" in mails[0]["subject"]
        assert mails[1]["subject"] == "fim-tray: 3 alerts (digest)"
        body = mails[1].get_body(("plain",)).get_content()
        assert body.index("f1.txt") < body.index("f2.txt") < body.index("f3.txt")
        [state] = alerts.states()
        assert state.waiting == 0 and state.failing_since is None and state.last_sent is not None
    finally:
        alerts.close()
        if mailbox is not None:
            mailbox.stop()
