"""The engine's and the command line's loggers, which import :mod:`logging` at their first
message: that module and what it brings (traceback, linecache, tokenize, string) are a tenth of
a no-change ``fim-tray check`` of a few files, which logs nothing.

Everything else is :mod:`logging`'s own: each :class:`Logger` hands its messages to
``logging.getLogger(name)``, so handlers, levels and pytest's ``caplog`` see them as usual.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import logging

FORMAT = "fim-tray: %(levelname)s: %(message)s"
DEBUG, WARNING = 10, 30  # logging.DEBUG and logging.WARNING, without importing it

_pending_level: int | None = None  # what configure() asked for, until logging is imported
_level = WARNING  # the least level the command line shows


def configure(debug: bool, *, now: bool) -> None:
    """The command line's logging: WARNING and up (DEBUG with ``debug``) on stderr as
    "fim-tray: LEVEL: message". ``now`` sets it up at once, for commands whose libraries log
    through :mod:`logging` themselves (the tray, the monitor); else at the first message."""
    global _pending_level, _level
    _level = DEBUG if debug else WARNING
    _pending_level = _level
    if now or debug or "logging" in sys.modules:
        _logging()


def _logging() -> Any:
    global _pending_level
    import logging

    if _pending_level is not None:
        level, _pending_level = _pending_level, None
        logging.basicConfig(level=level, format=FORMAT)
        _log_thread_errors()
    return logging


def _log_thread_errors() -> None:
    """A library's thread that ends with an error (a file-event reader on a folder too deep for
    it, say) is logged as one line, with its traceback only under --debug, never dumped raw on
    the terminal; the monitor notices what stopped and carries on by polling."""
    import threading

    def hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread is not None else "a thread"
        message = "%s ended with an error: %s: %s"
        details = (args.exc_type, args.exc_value, args.exc_traceback)
        sys.modules["logging"].getLogger("fim_tray").error(
            message, name, args.exc_type.__name__, args.exc_value,
            exc_info=details if _level <= DEBUG else None,
        )  # fmt: skip

    threading.excepthook = hook


def flush() -> None:
    """Flush every log handler, as at the interpreter's exit (when logging was used at all)."""
    if "logging" in sys.modules:
        sys.modules["logging"].shutdown()


class Logger:
    """Stands for ``logging.getLogger(name)`` and imports :mod:`logging` at its first message."""

    __slots__ = ("_logger", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._logger: logging.Logger | None = None

    def _real(self) -> logging.Logger:
        if self._logger is None:
            self._logger = _logging().getLogger(self.name)
        return self._logger

    def debug(self, msg: str, *args: object, **kwargs: Any) -> None:
        # Before logging is imported no handler can exist, and the command line's own shows
        # WARNING and up unless --debug: a debug message then goes nowhere, so it is dropped
        # here without importing logging for it.
        if _level > DEBUG and "logging" not in sys.modules:
            return
        self._real().debug(msg, *args, stacklevel=2, **kwargs)

    def info(self, msg: str, *args: object, **kwargs: Any) -> None:
        self._real().info(msg, *args, stacklevel=2, **kwargs)

    def warning(self, msg: str, *args: object, **kwargs: Any) -> None:
        self._real().warning(msg, *args, stacklevel=2, **kwargs)

    def error(self, msg: str, *args: object, **kwargs: Any) -> None:
        self._real().error(msg, *args, stacklevel=2, **kwargs)

    def exception(self, msg: str, *args: object, **kwargs: Any) -> None:
        self._real().exception(msg, *args, stacklevel=2, **kwargs)


def getLogger(name: str) -> Logger:
    return Logger(name)
