"""Errors the engine raises: each carries a short title and a message a person can act on."""

from __future__ import annotations


class FimError(Exception):
    """Base of every error fim-tray shows to a person.

    ``title`` is a few words (for a notification or a dialog title); ``message`` says what
    happened and what to do, in one or two plain sentences.
    """

    title = "fim-tray error"

    def __init__(self, message: str, *, title: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if title is not None:
            self.title = title

    def __str__(self) -> str:
        return self.message


class ConfigError(FimError):
    """The configuration file cannot be read or holds something invalid."""

    title = "Configuration problem"


class NotWatchedError(FimError):
    """A path was named that is not a watched folder."""

    title = "Not a watched folder"


class FolderMissingError(FimError):
    """A watched folder is gone, is no longer a folder, or was unmounted."""

    title = "Watched folder missing"


class BaselineError(FimError):
    """A baseline is missing, truncated, not JSON, of another schema, or fails its HMAC."""

    title = "Baseline cannot be trusted"


class BaselineTamperedError(BaselineError):
    """A baseline parses but its HMAC does not match: it was changed outside fim-tray."""

    title = "Baseline was tampered with"


class StorageError(FimError):
    """State could not be written (disk full, read-only, permissions); the old state is intact."""

    title = "Could not save"


class LockedError(FimError):
    """Another fim-tray process holds the data-directory lock for too long."""

    title = "fim-tray is busy"


class ScanCancelled(FimError):
    """A scan was stopped on request (Quit, Pause, Ctrl-C) before it finished."""

    title = "Scan stopped"


class CopyError(FimError):
    """A copy is missing or cannot be used."""

    title = "No saved copy"


class CopyDamagedError(CopyError):
    """A copy's content no longer hashes to its digest: it is never restored. ``reason`` says
    what is wrong in a few words, for a caller's own sentence."""

    title = "Saved copy is damaged"

    def __init__(self, message: str, *, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason or message


class RestoreRefused(FimError):
    """A restore that would lose something or act on a file the person did not see."""

    title = "Not restored"


class DamagedUndo(FimError):
    """The history line of a restore is damaged (the history is not signed): no undo."""

    title = "Cannot undo"
