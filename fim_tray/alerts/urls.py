"""Channel URLs: what kind of channel a URL names, whether it is well formed, and the same URL
with its passwords and tokens masked, for every place a person or a log sees it."""

from __future__ import annotations

import hashlib
import os
import re
from typing import Literal, NamedTuple
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from fim_tray.errors import FimError

Kind = Literal["syslog", "jsonl", "people"]
SYSLOG_PORTS = {"tcp": 514, "udp": 514, "tls": 6514}
INSTALL = "pip install 'fim-tray[alerts]'"
MASK = "***"
# Query options that say how, not who: shown as they are. Every other value is masked.
_PLAIN_OPTIONS = frozenset(
    {"mode", "format", "cto", "rto", "priority", "smtp", "from", "to", "cc", "bcc", "name",
     "verify", "port", "tags", "reply", "overflow", "emojis", "image", "batch", "method", "ca"}
)  # fmt: skip
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*$")


class ChannelError(FimError):
    """A channel URL that cannot be used: unknown kind, malformed, or missing a library."""

    title = "Alert channel problem"


class Channel(NamedTuple):
    """One channel, as its URL says: ``kind`` syslog (``transport`` tcp, udp or tls, to
    ``host``:``port``), jsonl (a file at ``path``) or people (any apprise URL)."""

    url: str
    kind: Kind
    transport: str = ""
    host: str = ""
    port: int = 0
    path: str = ""
    ca: str = ""  # syslog+tls: the CA certificates (PEM) that vouch for the server, if not
    # the system's
    stored: str = ""  # the URL as an earlier version wrote it in the channels file, when
    # that is not ``url``: it keeps naming the channel's outbox

    @property
    def id(self) -> str:
        """A short stable name for the channel's files (its outbox), which hides its URL."""
        named = self.stored or self.url
        return hashlib.sha256(named.encode("utf-8", "surrogatepass")).hexdigest()[:16]

    @property
    def scheme(self) -> str:
        return self.url.partition("://")[0].lower()

    @property
    def masked(self) -> str:
        return mask(self.url)

    @property
    def name(self) -> str:
        """A few words for the tray's menu: ``Email``, ``Syslog 10.0.0.5:514``, ``ntfy``."""
        if self.kind == "syslog":
            return f"Syslog {self.host}:{self.port}"
        if self.kind == "jsonl":
            return f"File {os.path.basename(self.path)}"
        base = self.scheme.rstrip("s") if self.scheme in ("mailtos", "jsons") else self.scheme
        return _PEOPLE_NAMES.get(base, base)


_PEOPLE_NAMES = {
    "mailto": "Email", "json": "Webhook", "xml": "Webhook", "form": "Webhook", "ntfy": "ntfy",
    "ntfys": "ntfy", "tgram": "Telegram", "twilio": "SMS", "slack": "Slack", "matrix": "Matrix",
    "matrixs": "Matrix", "pover": "Pushover", "discord": "Discord",
}  # fmt: skip


def parse(url: str, *, look: bool = True) -> Channel:
    """The channel ``url`` names, its URL in one spelling for each destination (so a channel
    is not added twice): for syslog and JSON lines, the scheme and host in lower case, the
    port written out, no trailing slash, the path normalised; for the rest, the scheme in
    lower case. :class:`ChannelError` with a plain reason (never the URL's secrets) when it is
    malformed or of an unknown kind, or (``look``) names a file that cannot be used: a JSON
    lines file that is a folder or a device, a CA file that holds no certificate."""
    url = url.strip()
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or not _SCHEME.match(scheme) or any(c.isspace() or ord(c) < 32 for c in url):
        raise ChannelError(
            f"{mask(url)!r} is not a channel URL: it must look like scheme://... (such as "
            "syslog+tcp://siem.example.org:514, jsonl:///var/log/fim-tray/events.jsonl or "
            "mailtos://user:password@example.org?to=ann@example.org)."
        )
    if scheme.startswith("syslog+"):
        channel = _syslog(url, scheme)
    elif scheme == "jsonl":
        channel = _jsonl(url, rest)
    else:
        if not rest.strip("/"):
            raise ChannelError(f"{mask(url)!r} names no destination after {scheme}://.")
        return Channel(f"{scheme}://{rest}", "people")
    if look:
        _look(channel)
    return channel


def _look(channel: Channel) -> None:
    """:class:`ChannelError` when the file a channel writes, or its CA file, cannot be used."""
    if channel.ca:
        from fim_tray.alerts.syslog import SyslogError, tls_context

        try:
            tls_context(channel.ca)
        except SyslogError as exc:
            raise ChannelError(f"{exc}.") from None
    if channel.kind == "jsonl":
        from pathlib import Path

        from fim_tray.alerts.jsonl import problem

        why = problem(Path(channel.path))
        if why is not None:
            raise ChannelError(f"{why}.")


def _syslog(url: str, scheme: str) -> Channel:
    transport = scheme.partition("+")[2]
    if transport not in SYSLOG_PORTS:
        raise ChannelError(
            f"unknown syslog transport {scheme}://: use syslog+tcp://, syslog+udp:// or "
            "syslog+tls://"
        )
    try:
        parts = urlsplit(url)
        port = SYSLOG_PORTS[transport] if parts.port is None else parts.port
        if not 0 < port < 65536:
            raise ValueError(port)
    except ValueError:
        raise ChannelError(
            f"{mask(url)!r} has no valid port: write {scheme}://HOST:PORT (a port 1-65535)."
        ) from None
    host = parts.hostname or ""
    if not host or parts.username or parts.password:
        raise ChannelError(f"{mask(url)!r} names no host: write {scheme}://HOST:PORT.")
    if len(host) > 253 or not host.isprintable() or "%" in host:  # no name is longer (DNS)
        raise ChannelError(f"{mask(url)[:80]!r}...: that is not a host name (at most 253 "
                           "characters, letters, digits, dots and dashes).")  # fmt: skip
    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    ca = options.pop("ca", "") if transport == "tls" else ""
    if parts.path.strip("/") or options or parts.fragment:
        more = " (and ?ca=/ABS/PATH.pem for TLS)" if transport == "tls" else ""
        raise ChannelError(
            f"{mask(url)!r}: a syslog URL is {scheme}://HOST:PORT{more} and no more."
        )
    if ca and not os.path.isabs(ca):
        raise ChannelError(f"{mask(url)!r}: ?ca= takes the absolute path of a PEM file.")
    ca = os.path.normpath(ca) if ca else ""
    shown = f"[{host}]" if ":" in host else host  # an IPv6 address
    canonical = f"{scheme}://{shown}:{port}" + (f"?ca={quote(ca, safe='/')}" if ca else "")
    return Channel(canonical, "syslog", transport, host, port, ca=ca)


def _jsonl(url: str, rest: str) -> Channel:
    if not rest.startswith("/"):
        raise ChannelError(
            f"{mask(url)!r}: a JSON lines file is named by its absolute path, with three "
            "slashes: jsonl:///var/log/fim-tray/events.jsonl"
        )
    path = unquote(rest.partition("?")[0])
    if path.endswith("/") or not os.path.basename(path):
        raise ChannelError(f"{mask(url)!r} names a folder, not a file.")
    if not path.isprintable() or len(path) > 4096:  # %00, %0A: a name no file should have
        raise ChannelError(f"{mask(url)[:80]!r}: the path holds a control character (such as "
                           "%00 or %0A) or is too long; name a plain file.")  # fmt: skip
    path = os.path.normpath(path)
    if os.name == "nt":  # a drive's path: kept as written
        return Channel(f"jsonl://{rest}", "jsonl", path=path)
    path = "/" + path.lstrip("/")  # normpath keeps a leading "//"
    written = "".join(quote(c) if c in "%?# " else c for c in path)
    return Channel(f"jsonl://{written}", "jsonl", path=path)


def mask(url: str) -> str:
    """``url`` with every password, token and key replaced by ``***``: the user's name, the
    host, the port and the options that say how stay readable."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return MASK if len(url) > 12 else url
    if scheme.lower() == "jsonl":
        return url
    rest, _, fragment = rest.partition("#")
    rest, qmark, query = rest.partition("?")
    netloc, slash, path = rest.partition("/")
    userinfo, at, hostport = netloc.rpartition("@")
    if at:
        user, colon, _password = userinfo.partition(":")
        if not scheme.lower().startswith(("mailto", "syslog")):  # pover://KEY@TOKEN: no host
            hostport = _mask_word(hostport)
        netloc = f"{_mask_word(user)}{':' + MASK if colon else ''}@{hostport}"
    elif ":" in netloc and not netloc.rpartition(":")[2].isdigit():
        netloc = f"{netloc.partition(':')[0]}:{MASK}"  # a bot's id:token (tgram://, ...)
    else:
        netloc = _mask_word(netloc)
    scheme_low = scheme.lower()
    # A path holds the secret of most services (a webhook's token, an ntfy topic): every
    # segment is masked but a short word of a webhook's plain path ("hooks", "api").
    segments = [
        s if (scheme_low in _PATH_PLAIN and len(s) < 8 and not _mixed(s)) or not s else MASK
        for s in path.split("/")
    ]
    text = f"{scheme}://{netloc}{slash}{'/'.join(segments)}"
    if qmark:
        text += "?" + "&".join(shown for shown, _ in _query(query))
    return text + ("#" + MASK if fragment else "")


def _query(query: str) -> list[tuple[str, str]]:
    """Each part of a query (split as apprise splits it, at ``&`` and ``;``), as :func:`mask`
    shows it, with what it hides ("" when nothing). A key is shown as written (``+X-Api-Key``
    keeps its ``+``); a key that is no plain word once decoded (``token%3DS3cr3t`` holds an
    ``=``, a separator, anything else) is hidden whole, with its value."""
    parts = []
    for part in re.split("[&;]", query):
        if not part:
            continue
        raw_key, eq, raw_value = part.partition("=")
        key = unquote(raw_key)
        if not _KEY.match(key):
            parts.append((MASK, part))
        elif key.lower() in _PLAIN_OPTIONS:
            parts.append((part, ""))
        elif eq:
            parts.append((f"{raw_key}={MASK}", raw_value))
        else:  # a bare word: hidden when it looks like a token
            parts.append((MASK, part) if _mask_word(key) == MASK else (part, ""))
    return parts


_KEY = re.compile(r"[+:-]?[A-Za-z0-9_.-]{1,64}\Z")
_PATH_PLAIN = frozenset({"json", "jsons", "xml", "xmls", "form", "forms"})  # a webhook's path


def _mask_word(word: str) -> str:
    """A word that looks like a token (long, with digits and letters mixed) masked; a host
    name or an address (with dots) and a port stay."""
    host, colon, port = word.rpartition(":")
    if colon and port.isdigit():
        return f"{_mask_word(host)}:{port}"
    if "." in word:
        return word
    if len(word) >= 16 or (len(word) >= 8 and _mixed(word)):
        return MASK
    return word


def _mixed(word: str) -> bool:
    return any(c.isdigit() for c in word) and any(c.isalpha() for c in word)


def secrets_in(url: str) -> list[str]:
    """Every part of ``url`` that :func:`mask` hides, longest first: what a message that might
    quote the URL (a library's error) must never show."""
    found: set[str] = set()
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() == "jsonl":
        return []
    rest, _, fragment = rest.partition("#")
    if fragment:  # mask() hides it whole (a room, a channel)
        found.add(fragment)
    rest, _, query = rest.partition("?")
    netloc, _, path = rest.partition("/")
    userinfo, at, hostport = netloc.rpartition("@")
    if at and ":" in userinfo:
        found.add(userinfo.partition(":")[2])
    if at and _mask_word(userinfo.partition(":")[0]) == MASK:  # a key as the user (Pushover)
        found.add(userinfo.partition(":")[0])
    elif not at and ":" in netloc and not netloc.rpartition(":")[2].isdigit():
        found.add(netloc.partition(":")[2])
    words = [*path.split("/"), hostport if at else netloc]
    found.update(w for w in words if _mask_word(w) == MASK)
    for _, secret in _query(query):
        if secret:  # and each piece of a part hidden whole (token%3DS3cr3t: S3cr3t)
            found.update([secret, *re.split("[=&;]", unquote(secret))])
    expanded = {s for s in found if len(s) >= 3} | {unquote(s) for s in found if len(s) >= 3}
    return sorted(expanded, key=len, reverse=True)


def scrub(text: str, url: str) -> str:
    """``text`` with every secret of ``url`` in it masked (a library's error may quote it, and
    in any case: apprise lower-cases what it quotes)."""
    for secret in secrets_in(url):
        text = re.sub(re.escape(secret), MASK, text, flags=re.IGNORECASE)
    return text
