"""Real servers on loopback for the alert tests: a private rsyslogd (RFC 5424 over TCP and UDP,
the JSON message parsed), an aiosmtpd SMTP server and an HTTP server for webhooks. Each is
started by a test and stopped after it; none needs the network beyond loopback."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

RSYSLOG_CONF = """\
global(workDirectory="{work}")
module(load="imtcp")
module(load="imudp")
module(load="mmjsonparse")
module(load="mmpstrucdata")
input(type="imtcp" address="127.0.0.1" port="{port}" ruleset="fim")
input(type="imudp" address="127.0.0.1" port="{port}" ruleset="fim")
template(name="whole" type="string" string="%jsonmesg%\\n")
ruleset(name="fim") {{
  action(type="mmpstrucdata")
  action(type="mmjsonparse" cookie="")
  action(type="omfile" file="{out}" template="whole")
}}
"""


def free_port() -> int:
    """A port free for both TCP and UDP on 127.0.0.1 just now."""
    for _ in range(50):
        with socket.socket() as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            try:
                udp.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port")


def wait_for(what: Callable[[], bool], timeout: float = 10.0, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if what():
            return True
        time.sleep(step)
    return what()


def rsyslogd_path() -> str | None:
    return shutil.which("rsyslogd") or next(
        (p for p in ("/usr/sbin/rsyslogd", "/sbin/rsyslogd") if os.access(p, os.X_OK)), None
    )


class Rsyslog:
    """A private ``rsyslogd -n`` on 127.0.0.1:``port``, writing each message it gets, as JSON
    (``%jsonmesg%``, the ECS message parsed into ``$!``), to ``out``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.out = folder / "out.jsonl"
        (folder / "work").mkdir(parents=True, exist_ok=True)
        self.conf = folder / "rsyslog.conf"
        self.conf.write_text(
            RSYSLOG_CONF.format(work=folder / "work", port=self.port, out=self.out)
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Rsyslog:
        binary = rsyslogd_path()
        assert binary is not None
        self.proc = subprocess.Popen(
            [binary, "-n", "-f", str(self.conf), "-i", str(self.folder / "rsyslog.pid")],
            stdout=subprocess.DEVNULL,
            stderr=open(self.folder / "rsyslog.err", "ab"),  # noqa: SIM115
        )
        if not wait_for(self._listening, 10.0):
            self.stop()
            raise RuntimeError("rsyslogd did not start: " + self.errors())
        return self

    def _listening(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    def errors(self) -> str:
        path = self.folder / "rsyslog.err"
        return path.read_text(errors="replace") if path.exists() else ""

    def messages(self) -> list[dict[str, Any]]:
        """Every message received so far, as rsyslog parsed it."""
        if not self.out.exists():
            return []
        return [json.loads(line) for line in self.out.read_text().splitlines() if line.strip()]


class Mailbox:
    """An aiosmtpd SMTP server on 127.0.0.1 keeping each message it receives."""

    def __init__(self, port: int | None = None) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[bytes] = []
        outer = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                outer.messages.append(bytes(envelope.content))
                return "250 OK"

        self.port = port or free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def start(self) -> Mailbox:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def parsed(self) -> list[Any]:
        import email
        from email import policy

        return [email.message_from_bytes(m, policy=policy.default) for m in self.messages]


class Webhooks:
    """An HTTP server on 127.0.0.1 keeping each request's path and body."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, bytes, dict[str, str]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                size = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(size)
                outer.requests.append((self.path, body, dict(self.headers.items())))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(
            target=self.server.serve_forever, name="test-webhooks", daemon=True
        )

    def start(self) -> Webhooks:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


RSYSLOG_TLS_CONF = """\
global(workDirectory="{work}" DefaultNetstreamDriver="gtls"
       DefaultNetstreamDriverCAFile="{ca}" DefaultNetstreamDriverCertFile="{cert}"
       DefaultNetstreamDriverKeyFile="{key}")
module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="anon")
module(load="mmjsonparse")
input(type="imtcp" address="127.0.0.1" port="{port}" ruleset="fim")
template(name="whole" type="string" string="%jsonmesg%\\n")
ruleset(name="fim") {{
  action(type="mmjsonparse" cookie="")
  action(type="omfile" file="{out}" template="whole")
}}
"""


def make_certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A test CA and a server certificate for 127.0.0.1 signed by it: (ca, cert, key)."""
    folder.mkdir(parents=True, exist_ok=True)
    ca, ca_key = folder / "ca.pem", folder / "ca.key"
    cert, key, csr = folder / "server.pem", folder / "server.key", folder / "server.csr"
    ext = folder / "ext.cnf"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca),
        "-days", "2", "-subj", "/CN=fim-tray test CA")  # fmt: skip
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
        "-subj", "/CN=localhost")  # fmt: skip
    run("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
        "-CAcreateserial", "-out", str(cert), "-days", "2", "-extfile", str(ext))  # fmt: skip
    return ca, cert, key


class RsyslogTLS(Rsyslog):
    """The same private rsyslogd, taking syslog over TLS only (rsyslog's gtls driver)."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.ca, cert, key = make_certificates(folder / "certs")
        conf = RSYSLOG_TLS_CONF.format(
            work=folder / "work", port=self.port, out=self.out, ca=self.ca, cert=cert, key=key
        )
        self.conf.write_text(conf)
