"""RFC 5424 syslog: the header written by hand (Python's SysLogHandler writes none), one ECS JSON
object as the message (no BOM, so rsyslog's mmjsonparse reads it), sent over TCP with RFC 6587
octet counting, over TLS, or as UDP datagrams; every wait bounded by a timeout."""

from __future__ import annotations

import os
import socket
import stat
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from fim_tray import jsonio

if TYPE_CHECKING:  # ssl is imported for a TLS channel only: never on the path of a check
    import ssl

APP = "fim-tray"
FACILITY_USER = 1
NOTICE, WARNING = 5, 4
MAX_UDP = 65000  # bytes in one datagram; a bigger message goes over TCP only


class SyslogError(Exception):
    """A message could not be handed to the server; the text says why, for a person."""


def hostname_field(name: str) -> str:
    """A HOSTNAME field: printable ASCII without spaces, at most 255 characters; ``-`` if none."""
    clean = "".join(c for c in name if "!" <= c <= "~")[:255]
    return clean or "-"


def frame(event: dict[str, object], *, host: str, when: datetime, severity: int = NOTICE) -> bytes:
    """One RFC 5424 message: ``<PRI>1 TIMESTAMP HOSTNAME fim-tray PROCID change - MSG``."""
    pri = FACILITY_USER * 8 + severity
    stamp = when.astimezone().isoformat(timespec="microseconds")
    header = f"<{pri}>1 {stamp} {hostname_field(host)} {APP} {os.getpid()} change - "
    return header.encode("ascii") + jsonio.dumps(event)


def send(
    transport: str,
    host: str,
    port: int,
    messages: Sequence[bytes],
    *,
    timeout: float = 10.0,
    ca: str = "",
) -> None:
    """Hand ``messages`` to the server, in order; :class:`SyslogError` when any may not have
    arrived. Over TCP and TLS a message counts as arrived once the server has read everything
    sent and closed its end in turn, so a server that dies mid-burst makes the batch fail and
    be sent again, never lost."""
    if transport == "udp":
        _send_udp(host, port, messages, timeout)
        return
    context = tls_context(ca) if transport == "tls" else None
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except TimeoutError:
        raise SyslogError(f"no answer from {host}:{port} within {timeout:g} s") from None
    except OSError as exc:
        raise SyslogError(_why(exc, host, port)) from None
    try:
        if context is not None:
            import ssl

            try:
                sock = context.wrap_socket(sock, server_hostname=host)
            except ssl.SSLCertVerificationError as exc:
                raise SyslogError(
                    f"TLS with {host}:{port} failed: its certificate is not trusted "
                    f"({exc.verify_message}); name its CA with ?ca=/ABS/PATH.pem"
                ) from None
            except (ssl.SSLError, ssl.CertificateError) as exc:
                reason = getattr(exc, "reason", None) or exc
                raise SyslogError(f"TLS with {host}:{port} failed: {reason}") from None
        data = b"".join(str(len(m)).encode("ascii") + b" " + m for m in messages)
        sock.sendall(data)
        if transport == "tls":  # TLS's own close first: the server answers once it read all
            sock = sock.unwrap()  # type: ignore[attr-defined]
        sock.shutdown(socket.SHUT_WR)
        while sock.recv(4096):  # the server says nothing; it closes once it has read all
            pass
    except TimeoutError:
        why = f"{host}:{port} stopped answering (no reply within {timeout:g} s)"
        raise SyslogError(why) from None
    except OSError as exc:
        raise SyslogError(_why(exc, host, port)) from None
    finally:
        sock.close()


def tls_context(ca: str = "") -> ssl.SSLContext:
    """What TLS trusts: the CA certificates (PEM) in ``ca``, else the system's.
    :class:`SyslogError` naming the file when it cannot be read or holds no certificate."""
    import ssl

    if ca:
        try:
            mode = os.stat(ca).st_mode
        except FileNotFoundError:
            raise SyslogError(f"the CA file {ca} does not exist") from None
        except OSError as exc:
            raise SyslogError(f"cannot read the CA file {ca}: {_reason(exc)}") from None
        if stat.S_ISDIR(mode):
            raise SyslogError(f"the CA file {ca} is a folder: name a PEM file of certificates")
        if not stat.S_ISREG(mode):  # a device or a pipe: never read
            raise SyslogError(f"the CA file {ca} is not a regular file")
    try:
        return ssl.create_default_context(cafile=ca or None)
    except ssl.SSLError as exc:
        if not ca:
            raise SyslogError(f"cannot load the system's CA certificates: {exc}") from None
        raise SyslogError(f"the CA file {ca} holds no PEM certificate (-----BEGIN "
                          "CERTIFICATE-----)") from None  # fmt: skip
    except OSError as exc:
        where = f"the CA file {ca}" if ca else "the system's CA certificates"
        raise SyslogError(f"cannot read {where}: {_reason(exc)}") from None


def _reason(exc: OSError) -> str:
    return (exc.strerror or str(exc) or type(exc).__name__).lower()


def _send_udp(host: str, port: int, messages: Sequence[bytes], timeout: float) -> None:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as sock:
            sock.settimeout(timeout)
            for message in messages:
                sock.sendto(message[:MAX_UDP], address)
    except OSError as exc:
        raise SyslogError(_why(exc, host, port)) from None


def _why(exc: OSError, host: str, port: int) -> str:
    if isinstance(exc, socket.gaierror):
        return f"cannot find the host {host}"
    reason = (exc.strerror or str(exc) or type(exc).__name__).lower()
    return f"{host}:{port}: {reason}"
