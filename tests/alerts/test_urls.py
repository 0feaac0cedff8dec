"""Channel URLs: kinds, plain errors for bad ones, and no secret ever shown."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fim_tray.alerts.urls import MASK, ChannelError, mask, parse, scrub, secrets_in


def test_each_kind_of_channel_is_told_apart() -> None:
    tcp = parse("syslog+tcp://siem.example.org:1514")
    assert (tcp.kind, tcp.transport, tcp.port) == ("syslog", "tcp", 1514)
    assert tcp.host == "siem.example.org"
    assert parse("syslog+udp://10.0.0.5").port == 514
    assert parse("syslog+tls://10.0.0.5").port == 6514
    assert parse("jsonl:///var/log/fim/events.jsonl").path == "/var/log/fim/events.jsonl"
    assert parse("mailtos://ann:pw@example.org").kind == "people"
    assert parse("mailtos://ann:pw@example.org").name == "Email"
    assert parse("twilio://AC1:tok@15551234567/15557654321").name == "SMS"


@pytest.mark.parametrize(
    "url",
    [
        "not a url", "syslog+tcp://:514", "syslog+tcp://host:99999", "syslog+tcp://host:x",
        "syslog+smoke://host:514", "syslog+tcp://host:514/path", "jsonl://relative/path",
        "jsonl:///var/log/", "mailto://", "sys log://x", "syslog+tcp://u:p@host:514",
        "jsonl:///tmp/x%00y", "jsonl:///tmp/a%0Ab.jsonl", "syslog+tcp://" + "a" * 300 + ":514",
    ],
)  # fmt: skip
def test_a_malformed_url_is_a_plain_error(url: str) -> None:
    with pytest.raises(ChannelError) as caught:
        parse(url)
    assert "Traceback" not in caught.value.message


SECRET_URLS = [
    ("mailtos://ann:Hunter2Secret@mail.example.org?to=bob@example.org", "Hunter2Secret"),
    ("tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PAL/-1001234", "AAHdqTcvCH1vGWJxfSeofSAs0K5PAL"),
    ("twilio://AC0123456789abcdef:authtok3n9999@15551234567/15557654321", "authtok3n9999"),
    ("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#general", "TIiajkdnlazkcOXrIdevi7FQ"),
    ("ntfy://ntfy.sh/secret-topic-7f3a9b2c1d?token=tk_abcdef123456", "tk_abcdef123456"),
    ("json://user:p4ssw0rd@hooks.example.org/fim", "p4ssw0rd"),
    ("pover://u4xz9k2mq8w7e6r5t4y3u2i1o0p9/a7sd8f9g0h1j2k3l4", "a7sd8f9g0h1j2k3l4"),
]  # fmt: skip


@pytest.mark.parametrize(("url", "secret"), SECRET_URLS)
def test_passwords_and_tokens_are_masked(url: str, secret: str) -> None:
    shown = mask(url)
    assert secret not in shown
    assert "***" in shown
    assert url.partition("://")[0] in shown
    assert secret in secrets_in(url)
    assert secret not in scrub(f"failed to reach {url} with {secret}", url)


def test_what_says_where_stays_readable() -> None:
    assert mask("syslog+tcp://siem.example.org:514") == "syslog+tcp://siem.example.org:514"
    assert mask("mailtos://ann:pw@example.org?to=bob@example.org") == (
        "mailtos://ann:***@example.org?to=bob@example.org"
    )
    assert mask("jsonl:///var/log/fim.jsonl") == "jsonl:///var/log/fim.jsonl"


@pytest.mark.parametrize(
    "url",
    [
        "json://127.0.0.1/x?token%3DS3cr3tPW", "json://127.0.0.1/x?to%3Dme%26token%3DS3cr3tPW",
        "json://127.0.0.1/x?to=me;token=S3cr3tPW", "json://127.0.0.1/x?%2BX-Api-Key=S3cr3tPW",
        "json://127.0.0.1/x?S3cr3tPW1234567890", "json://127.0.0.1/x?TOKEN=S3cr3tPW",
    ],
)  # fmt: skip
def test_an_encoded_separator_lets_no_secret_through(url: str) -> None:
    shown = mask(url)
    assert "S3cr3tPW" not in shown and "***" in shown
    assert "S3cr3tPW" not in scrub(f"could not reach {url}", url)
    word = "S3cr3tPW1234567890" if "1234" in url else "S3cr3tPW"
    assert "S3cr3tPW" not in scrub(f"the server refused the key {word}", url)


def test_a_header_keeps_its_plus_when_masked() -> None:
    assert mask("json://127.0.0.1:8080/x?+X-Api-Key=abc") == "json://127.0.0.1:8080/x?+X-Api-Key=***"
    assert mask("json://h.example.org/x?-secret=abc&:p=q&mode=post") == (
        "json://h.example.org/x?-secret=***&:p=***&mode=post"
    )


@pytest.mark.parametrize(
    "url",
    [
        "syslog+tcp://127.0.0.1:514", "syslog+tcp://127.0.0.1", "SYSLOG+TCP://127.0.0.1:514",
        "syslog+tcp://127.0.0.1:514/", "syslog+tcp://127.0.0.1:0514", "Syslog+Tcp://127.0.0.1:514?",
    ],
)  # fmt: skip
def test_each_spelling_of_a_syslog_server_is_one_url(url: str) -> None:
    assert parse(url).url == "syslog+tcp://127.0.0.1:514"


def test_urls_are_canonical_where_the_spelling_does_not_matter() -> None:
    assert parse("syslog+udp://SIEM.Example.ORG").url == "syslog+udp://siem.example.org:514"
    assert parse("syslog+tls://[::1]").url == "syslog+tls://[::1]:6514"
    tls = parse("syslog+tls://h.example.org:6514/?ca=/etc/ssl/../ssl/ca.pem", look=False)
    assert tls.url == "syslog+tls://h.example.org:6514?ca=/etc/ssl/ca.pem"
    assert tls.ca == "/etc/ssl/ca.pem"
    for url in ("jsonl:///var/log/./fim/events.jsonl", "jsonl:////var//log/fim/x/../events.jsonl",
                "JSONL:///var/log/fim/%65vents.jsonl"):  # fmt: skip
        assert parse(url).url == "jsonl:///var/log/fim/events.jsonl"
    spaced = parse("jsonl:///tmp/my%20logs/a%3Fb%23c%25.jsonl")
    assert spaced.path == "/tmp/my logs/a?b#c%.jsonl"
    assert parse(spaced.url) == spaced
    assert parse("NTFY://ntfy.sh/topic").url == "ntfy://ntfy.sh/topic"


@pytest.mark.parametrize("port", ["0", "00", "70000"])
def test_a_port_out_of_range_is_refused(port: str) -> None:
    with pytest.raises(ChannelError, match="1-65535"):
        parse(f"syslog+tcp://127.0.0.1:{port}")


def test_a_file_that_cannot_be_used_is_refused_naming_it(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("not a certificate\n")
    os.symlink(tmp_path / "plain", tmp_path / "link")
    refused = {
        f"jsonl://{tmp_path}": "is a folder",
        "jsonl:///dev/null": "not a regular file",
        f"jsonl://{tmp_path}/link": "symbolic link",
        f"jsonl://{tmp_path}/plain/x.jsonl": "is not a folder",
        "syslog+tls://127.0.0.1:6514?ca=/nonexistent.pem": "CA file /nonexistent.pem does not",
        f"syslog+tls://127.0.0.1:6514?ca={tmp_path}": f"CA file {tmp_path} is a folder",
        f"syslog+tls://127.0.0.1:6514?ca={tmp_path}/plain": "holds no PEM certificate",
        "syslog+tls://127.0.0.1:6514?ca=/dev/zero": "/dev/zero is not a regular file",
    }
    for url, why in refused.items():
        with pytest.raises(ChannelError, match=why) as caught:
            parse(url)
        assert "127.0.0.1" not in caught.value.message and "\n" not in caught.value.message
        assert parse(url, look=False).url  # a channel already kept is sent to, and told then
    made = parse(f"jsonl://{tmp_path}/new/folder/a.jsonl")  # made when first written
    assert made.path == f"{tmp_path}/new/folder/a.jsonl"


def test_a_secret_a_library_quotes_in_another_case_is_masked() -> None:
    url = "ntfy://127.0.0.1/topic?auth=S3cr3tPW"
    said = scrub("An invalid ntfy Authentication type (s3cr3tpw) was specified", url)
    assert "s3cr3tpw" not in said.lower() and MASK in said


def test_a_key_given_as_the_user_and_a_fragment_never_show_in_a_message() -> None:
    key, token, room = "uQiRzpo4DXghDmr9QzzfQu27cmVRsG", "azGDORePK8gMaC0QOYAMyEEuzJnyUi", "Room42x"
    for url in (f"pover://{key}@{token}/", f"matrix://user:secret1@host/#{room}"):
        said = scrub(f"could not send to {url}: refused", url)
        assert key not in said and token not in said and room not in said and "secret1" not in said
