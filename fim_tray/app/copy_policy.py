"""What gets a saved copy: the no-copy patterns (secrets are never copied), the size limit and the
per-folder quota, as config.json sets them."""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass
from functools import cached_property

from fim_tray.errors import ConfigError
from fim_tray.models import Entry, Folder
from fim_tray.store.config import Config

# Secrets never copied: private keys, key stores, password databases and credential files.
DEFAULT_NO_COPY: tuple[str, ...] = (
    "*.key",
    "*.pem",
    "id_*",  # ssh keys: id_rsa, id_ed25519, ...
    ".env",
    ".env.*",
    "*.kdbx",
    "*.p12",
    "*.pfx",
    "*.jks",
    "*.keystore",
    "*.gpg",
    ".netrc",
    ".pgpass",
    ".git-credentials",
    ".ssh",
    ".gnupg",
    ".aws/credentials",
    ".kube/config",
    ".docker/config.json",
    ".npmrc",
    ".pypirc",
    "*.ppk",  # PuTTY keys
    "*.ovpn",  # VPN profiles, often with their keys inline
    "logins.json",  # Firefox's saved passwords ...
    "key4.db",  # ... and the key that opens them
    ".vault-token",
    "*.tfstate",  # Terraform state: every secret of what it manages
    "*.tfstate.backup",
    "*.env",  # prod.env, staging.env
    "*.asc",  # armoured PGP keys
    ".htpasswd",
    "ssh_host_*_key",  # a server's host keys
    ".config/gcloud",  # Google Cloud's credentials and tokens
    ".azure",  # Azure CLI's tokens
    ".s3cfg",
    ".boto",
    ".config/gh/hosts.yml",  # GitHub CLI's token
    ".config/rclone/rclone.conf",
    ".terraform.d/credentials.tfrc.json",
    ".cargo/credentials*",
    ".gem/credentials",
    ".m2/settings.xml",  # Maven's server passwords
    ".password-store",
    "credentials.json",  # OAuth client secrets, by their usual name
    "service-account*.json",  # cloud service account keys
    "*.keychain",
    "*.keychain-db",
    "wallet.dat",
    "shadow",  # /etc/shadow and gshadow: password hashes
    "gshadow",
    "*_history",  # shell and REPL histories hold what was typed, passwords included
)

# A backup keeps what it backs up secret: ``my.pem.bak``, ``server.key~``, ``.pypirc.orig`` and
# ``.ssh.old/`` are matched as ``my.pem``, ``server.key``, ``.pypirc`` and ``.ssh``.
_BACKUP = re.compile(r"(?:\.(?:bak|orig|old|save|sav|backup|bck|copy|prev|\d+)|~[^/]*)$", re.I)


def _unbacked(name: str) -> str:
    """``name`` without its backup suffixes (as many as it has)."""
    while (bare := _BACKUP.sub("", name)) != name and bare:
        name = bare
    return name
DEFAULT_MAX_FILE_BYTES = 10_000_000  # 10 MB
DEFAULT_QUOTA_BYTES = 1_000_000_000  # 1 GB per watched folder


@dataclass(frozen=True)
class CopySettings:
    """``no_copy``, ``copy_max_file_bytes`` and ``copy_quota_bytes`` from config.json."""

    no_copy: tuple[str, ...] = DEFAULT_NO_COPY
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    quota_bytes: int = DEFAULT_QUOTA_BYTES

    @classmethod
    def from_config(cls, config: Config, source: str = "config.json") -> CopySettings:
        extra = config.extra
        no_copy = extra.get("no_copy", list(DEFAULT_NO_COPY))
        if not isinstance(no_copy, list) or not all(isinstance(p, str) for p in no_copy):
            raise ConfigError(f"{source}: no_copy must be a list of glob patterns.")
        sizes = []
        for key, default in (
            ("copy_max_file_bytes", DEFAULT_MAX_FILE_BYTES),
            ("copy_quota_bytes", DEFAULT_QUOTA_BYTES),
        ):
            value = extra.get(key, default)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"{source}: {key} must be a whole number of bytes.")
            sizes.append(value)
        return cls(tuple(no_copy), sizes[0], sizes[1])

    @cached_property
    def _compiled(self) -> list[tuple[str, re.Pattern[str], bool]]:
        # Case never matters (.SSH on a case-insensitive disk is the same folder), and a path
        # pattern matches at any depth (a watched home's .aws/credentials, or a user's inside
        # a watched /home): a secret copied by mistake is worse than a copy missed.
        compiled = []
        for pattern in self.no_copy:
            body = fnmatch.translate(pattern.strip("/"))
            is_path = "/" in pattern.strip("/")
            regex = re.compile("(?:.*/)?" + body if is_path else body, re.IGNORECASE)
            compiled.append((pattern, regex, is_path))
        return compiled

    def secret(self, rel: str, folder: str = "") -> str | None:
        """The no-copy pattern ``rel`` or one of its folders matches, or None. A pattern
        without ``/`` matches a name, one with ``/`` a path ending the path (at any depth);
        case is ignored. The watched ``folder``'s own path counts too: watching ``~/.ssh`` or
        ``~/.aws`` itself copies nothing of them."""
        above = folder.replace(os.sep, "/").strip("/")
        parts = [*(above.split("/") if above else []), *rel.split("/")]
        bare = [_unbacked(p) for p in parts]
        for index, name in enumerate(parts):
            subs = {"/".join(parts[: index + 1]), "/".join(bare[: index + 1])}
            for pattern, regex, is_path in self._compiled:
                if is_path and any(regex.match(sub) for sub in subs):
                    return pattern
                if not is_path and (regex.match(name) or regex.match(bare[index])):
                    return pattern
        return None

    def why_not(self, folder: Folder, rel: str, entry: Entry) -> str | None:
        """Why this entry has no copy by policy, in words; None when it should have one."""
        if not folder.keep_copies:
            return (
                "copies are off for this folder (turn them on with \"Keep copies to allow "
                "restore\" in the folder's tray menu, or `fim-tray keep-copies FOLDER on`; only "
                "content recorded afterwards is kept)"
            )
        pattern = self.secret(rel, folder.path)
        if pattern is not None:
            return f"it matches the no-copy pattern {pattern} (secrets are never copied)"
        if entry.size > self.max_file_bytes:
            return f"it is bigger than the {self.max_file_bytes / 1e6:g} MB limit for copies"
        return None
