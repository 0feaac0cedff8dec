"""Whole-folder checks in a short-lived child process, so the tray and the monitor stay small.

A check of a whole folder holds its baseline and its scan in memory at once (hundreds of MB for
a few hundred thousand files), and CPython keeps most of what it freed: a long-running process
that checks in-process stays that big. A child's memory goes back to the OS when it ends.

:func:`check_folder` (the parent's side) runs :func:`fim_tray.app.check.check_folder` in
``python -m fim_tray.app.isolated`` (:func:`main`, the child's side) on the same state folders:
the child records pending changes and the history itself, exactly as a check in the parent
would, and hands back the report. It imports the engine only (no GUI library), to start quickly.

The pipes, both ways, carry frames: a kind byte and an unsigned 64-bit number, then for some
kinds that many bytes. Parent to child (stdin): one request (pickled), then nothing; the end of
stdin (the parent closed it, or ended) asks the child to stop. Child to parent (stdout):
progress counts, then the pickled report or a cancel. The child's stderr (its log) goes to
the parent's log.
"""

from __future__ import annotations

import contextlib
import copyreg
import io
import os
import pickle
import queue
import struct
import sys
import threading
from collections import deque
from datetime import datetime
from types import MappingProxyType
from typing import IO, TYPE_CHECKING, Any, NoReturn

from fim_tray import jsonio, logs
from fim_tray.app import check
from fim_tray.errors import ScanCancelled
from fim_tray.models import Folder, FolderReport
from fim_tray.scan.record import Progress
from fim_tray.scan.throttle import Throttle
from fim_tray.store.config import Config
from fim_tray.store.state import Store

if TYPE_CHECKING:
    import subprocess

log = logs.getLogger(__name__)

MODULE = "fim_tray.app.isolated"
CHILD_COMMAND = "_check-folder"  # the same in a frozen build: see fim_tray.cli.main
POLL = 0.1  # seconds between looks at ``stop`` while the child works
# Seconds a child asked to stop has to end before it is killed. A scan stops within a fraction
# of a second; a child recording what it found (under the data lock, which it may wait for) is
# let finish, since a kill could cut a history line in half.
STOP_GRACE = 30.0
EXIT_WAIT = 30.0  # seconds a child that sent its report, or its last word, has to end
READ_CHUNK = 1 << 20  # a frame's bytes are read this many at a time, never all at once
LOG_LINES = 20  # the child's last log lines kept, to name what ended it

# A frame: its kind, and a count (progress) or the length of the bytes that follow.
_HEAD = struct.Struct(">cQ")
_REQUEST, _PROGRESS, _REPORT, _CANCELLED = b"Q", b"P", b"R", b"C"

# Python 3.10 has no -P: the module is run as -m would, with the working folder (sys.path[0] is
# "" for -c) taken off the import path first, as fim_tray.platform.launch does for the app.
_RUN_310 = (
    "import sys; del sys.path[0]; import runpy; "
    f"runpy.run_module({MODULE!r}, run_name='__main__', alter_sys=True)"
)


def _mapping(items: dict[str, Any]) -> MappingProxyType[str, Any]:
    return MappingProxyType(items)


# Reports and settings hold read-only mappings (MappingProxyType), which pickle cannot take
# as they are: each goes as the dict it shows, and comes back read-only.
_REDUCE = {**copyreg.dispatch_table, MappingProxyType: lambda m: (_mapping, (dict(m),))}


def _dumps(value: object) -> bytes:
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = _REDUCE
    pickler.dump(value)
    return buffer.getvalue()


class _Unusable(Exception):
    """The child's stdout held something that is no frame of ours."""


def check_folder(
    store: Store,
    folder: Folder,
    config: Config | None = None,
    *,
    full: bool = False,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    throttle: Throttle | None = None,
    processes: bool = False,
) -> FolderReport:
    """:func:`fim_tray.app.check.check_folder` of the whole of ``folder``, in a child process.

    The same report, progress and :class:`ScanCancelled` on ``stop`` (the child is then asked
    to stop, and killed if it does not end within STOP_GRACE seconds). A child that ends
    without a report (a crash, the OOM killer) or says something unusable makes an error
    report, never an exception. One that cannot be started leaves the check to this process.

    ``throttle`` is passed as its rate: the child has a bucket of its own, which starts empty.
    Folders are checked one after another, so their reads still keep to the cap together;
    only the idle time a bucket could save up across two folders (a fraction of a second of
    reading) is lost.
    """
    config = config or store.config()

    def here() -> FolderReport:
        return check.check_folder(
            store, folder, config, full=full, progress=progress, stop=stop, throttle=throttle,
            processes=processes,
        )  # fmt: skip

    request = {
        "paths": store.paths,
        "lock_timeout": store.lock_timeout,
        "folder": folder,
        "config": config,
        "full": full,
        "rate": None if throttle is None else throttle.rate,
        "processes": processes,
        "debug": _log_level() <= logs.DEBUG,
    }
    try:
        child = _start()
    except OSError as exc:  # no process to be had (EMFILE, ENOMEM, EAGAIN): check here
        log.warning("cannot start a process to check %s (%s): checking it here", folder.path, exc)
        return here()
    log.debug("checking %s in process %d", folder.path, child.pid)
    return _follow(child, request, store, folder, store.clock(), progress, stop)


def _log_level() -> int:
    import logging  # the parent is the tray or the monitor: logging is in use already

    return logging.getLogger("fim_tray").getEffectiveLevel()


def _start() -> subprocess.Popen[bytes]:
    import subprocess

    from fim_tray.platform.launch import child_env, safe_cwd

    if getattr(sys, "frozen", False):  # no -m there: the executable runs main() as a command
        command = [sys.executable, CHILD_COMMAND]
    elif sys.version_info >= (3, 11):
        command = [sys.executable, "-P", "-m", MODULE]
    else:
        command = [sys.executable, "-c", _RUN_310]
    return subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=child_env(),
        cwd=safe_cwd(),
        # A group of its own: Ctrl-C at the monitor's terminal reaches the monitor only (which
        # then ends the child), and a kill reaches the workers a full re-hash may start too.
        start_new_session=sys.platform != "win32",
    )


class _Child:
    """The threads that read a child's stdout (frames, onto ``frames``) and stderr (logged)."""

    def __init__(self, proc: subprocess.Popen[bytes], folder: str) -> None:
        self.proc = proc
        self.folder = folder
        self.frames: queue.Queue[tuple[bytes, Any]] = queue.Queue()
        self.said: deque[str] = deque(maxlen=LOG_LINES)
        name = f"fim-tray-check-{proc.pid}"
        self.threads = [
            threading.Thread(target=self._read_frames, name=f"{name}-out", daemon=True),
            threading.Thread(target=self._read_log, name=f"{name}-err", daemon=True),
        ]
        for thread in self.threads:
            thread.start()

    def _read_frames(self) -> None:
        out = self.proc.stdout
        assert out is not None
        try:
            while True:
                head = _read_exactly(out, _HEAD.size)
                if not head:
                    self.frames.put((b"", None))  # the end: the child closed its stdout
                    return
                kind, number = _HEAD.unpack(head)
                if kind == _PROGRESS:
                    self.frames.put((kind, number))
                elif kind in (_REPORT, _CANCELLED):
                    data = _read_exactly(out, number)
                    if len(data) < number:
                        raise _Unusable(f"a message cut short ({len(data)} of {number} bytes)")
                    # Unpickled without a second thought: it is our own child, on a pipe of its
                    # own, running this installation's code; nobody else writes to it.
                    value = pickle.loads(data) if kind == _REPORT else data.decode()  # noqa: S301
                    if kind == _REPORT and not isinstance(value, FolderReport):
                        raise _Unusable(f"a {type(value).__name__} instead of a report")
                    self.frames.put((kind, value))
                    return
                else:
                    raise _Unusable(f"bytes that are no message of fim-tray's: {head[:16]!r}")
        except _Unusable as exc:
            self.frames.put((b"!", str(exc)))
        except Exception as exc:  # unpickling garbage can raise about anything
            self.frames.put((b"!", f"a message that cannot be read ({type(exc).__name__})"))

    def _read_log(self) -> None:
        err = self.proc.stderr
        assert err is not None
        for raw in err:
            line = raw.decode(errors="backslashreplace").rstrip()
            if not line:
                continue
            self.said.append(line)
            # The child logs as the command line does ("fim-tray: LEVEL: message"); anything
            # else (a traceback, a library's print) is worth a warning.
            level, text = 30, line
            parts = line.split(": ", 2)
            if len(parts) == 3 and parts[0] == "fim-tray" and parts[1] in _LEVELS:
                level, text = _LEVELS[parts[1]], parts[2]
            _log_at(level, "the check of %s: %s", self.folder, text)

    def join(self) -> None:
        for thread in self.threads:
            # Not forever: a worker of the child's, still running, may hold its pipes open.
            thread.join(EXIT_WAIT)


_LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}


def _log_at(level: int, msg: str, *args: object) -> None:
    import logging

    logging.getLogger(__name__).log(level, msg, *args)


def _read_exactly(stream: IO[bytes], size: int) -> bytes:
    """``size`` bytes, or fewer at the end of ``stream``; read in chunks, so that a length
    made of garbage never allocates more than what really arrives."""
    parts = []
    left = size
    while left > 0:
        chunk = stream.read(min(left, READ_CHUNK))
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def _follow(
    proc: subprocess.Popen[bytes],
    request: dict[str, object],
    store: Store,
    folder: Folder,
    now: datetime,
    progress: Progress | None,
    stop: threading.Event | None,
) -> FolderReport:
    child = _Child(proc, folder.path)
    try:
        assert proc.stdin is not None
        try:
            data = _dumps(request)
            proc.stdin.write(_HEAD.pack(_REQUEST, len(data)))
            proc.stdin.write(data)
            proc.stdin.flush()
        except OSError:  # it ended already: what it said is read below
            log.debug("the check of %s ended before its request was sent", folder.path)
        stopping: float | None = None  # when the child was asked to stop
        while True:
            if stop is not None and stop.is_set() and stopping is None:
                _close_stdin(proc)  # the child stops as a scan in this process would
                stopping = _monotonic()
            if stopping is not None and _monotonic() - stopping > STOP_GRACE:
                _kill(proc)
                raise ScanCancelled(_cancelled(folder))
            try:
                kind, value = child.frames.get(timeout=POLL)
            except queue.Empty:
                continue
            if kind == _PROGRESS:
                if progress is not None:
                    progress(value)
            elif kind == _REPORT:
                # A report that arrives after a stop is a check that finished (and recorded
                # its findings, as one in this process does whatever stop says by then): kept.
                report: FolderReport = value
                return report
            elif kind == _CANCELLED:
                raise ScanCancelled(value)
            elif stopping is not None:  # ended, or said nonsense, while stopping: a cancel
                raise ScanCancelled(_cancelled(folder))
            elif kind == b"!":
                _kill(proc)
                return _failed(store, folder, now, f"sent {value}")
            else:  # its stdout closed with no report: it ended
                return _failed(store, folder, now, _how_it_ended(proc, child))
    finally:
        _end(proc)
        child.join()


def _monotonic() -> float:
    import time

    return time.monotonic()


def _cancelled(folder: Folder) -> str:
    return f"The scan of {folder.path} was stopped before it finished."


def _how_it_ended(proc: subprocess.Popen[bytes], child: _Child) -> str:
    import signal
    import subprocess

    try:
        code = proc.wait(EXIT_WAIT)
    except subprocess.TimeoutExpired:
        _kill(proc)
        return "closed its output but did not end"
    child.join()  # its last words, for the message
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        why = " (out of memory, or stopped by another program)" if name == "SIGKILL" else ""
        return f"was killed by {name}{why}"
    last = next((line for line in reversed(child.said) if not line.startswith(" ")), None)
    return f"ended with exit status {code}" + (f" ({last})" if last else "")


def _failed(store: Store, folder: Folder, now: datetime, what: str) -> FolderReport:
    message = f"the process that checked it {what}, without a report; the next check looks again"
    log.warning("checking %s: %s", folder.path, message)
    store.save_pending_error(folder, message, now)
    return FolderReport(folder, now, error=message)


def _close_stdin(proc: subprocess.Popen[bytes]) -> None:
    if proc.stdin is not None:
        with contextlib.suppress(OSError):  # already gone: nothing to tell it
            proc.stdin.close()


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    if sys.platform != "win32":
        import signal

        with contextlib.suppress(OSError):  # its workers too (see _start), if it has a group
            os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(OSError):  # ended meanwhile
        proc.kill()


def _end(proc: subprocess.Popen[bytes]) -> None:
    """The child ended, killed if it must be, and its pipes closed (its exit status read)."""
    import subprocess

    _close_stdin(proc)
    try:
        proc.wait(STOP_GRACE)
    except subprocess.TimeoutExpired:
        _kill(proc)
        proc.wait()
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


# -- the child -------------------------------------------------------------------------------------


def main() -> NoReturn:
    """The child: read one request on stdin, check, send the report on stdout, end."""
    # The frames get a descriptor of their own; whatever else writes to stdout (a stray print)
    # goes to stderr, the parent's log, and never among them.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    code = 1
    try:
        code = _serve(sys.stdin.buffer, out)
    except BaseException:  # said on stderr (the parent logs it and names it in the report)
        import traceback

        traceback.print_exc()
    finally:
        for stream in (out, sys.stderr, sys.stdout):
            with contextlib.suppress(Exception):  # the parent is gone: nobody to tell
                stream.flush()
        # No clean-up of the baseline and scan (hundreds of thousands of objects, seconds of
        # freeing): the OS takes the memory back at once.
        os._exit(code)


def _serve(inp: IO[bytes], out: IO[bytes]) -> int:
    head = _read_exactly(inp, _HEAD.size)
    if not head:  # stopped before it was asked anything: nothing to do, nothing to say
        return 0
    kind, size = _HEAD.unpack(head)
    if kind != _REQUEST:
        raise ValueError(f"not a request: {kind!r}")
    request = pickle.loads(_read_exactly(inp, size))  # noqa: S301 (our parent's, see above)
    logs.configure(request["debug"], now=False)

    stop = threading.Event()

    def watch_parent() -> None:
        # The end of stdin: the parent asked to stop, or ended itself. Either way the check
        # stops as one in the parent would, instead of running on for nobody.
        while inp.read(4096):
            pass
        stop.set()

    threading.Thread(target=watch_parent, name="fim-tray-parent", daemon=True).start()
    lock = threading.Lock()

    def progress(files: int) -> None:
        with lock:
            out.write(_HEAD.pack(_PROGRESS, files))
            out.flush()

    rate = request["rate"]
    store = Store(request["paths"], lock_timeout=request["lock_timeout"])
    try:
        with jsonio.gc_paused():  # as `fim-tray check` runs: see NO_GC_COMMANDS in fim_tray.cli
            report = check.check_folder(
                store,
                request["folder"],
                request["config"],
                full=request["full"],
                progress=progress,
                stop=stop,
                throttle=None if rate is None else Throttle(rate),
                processes=request["processes"],
            )
    except ScanCancelled as exc:
        _send(out, lock, _CANCELLED, exc.message.encode())
        return 0
    _send(out, lock, _REPORT, _dumps(report))
    return 0


def _send(out: IO[bytes], lock: threading.Lock, kind: bytes, data: bytes) -> None:
    with lock:
        out.write(_HEAD.pack(kind, len(data)))
        out.write(data)
        out.flush()


if __name__ == "__main__":
    # Run as fim_tray.app.isolated, not as __main__: what it pickles names its functions
    # (see _mapping) by the module the parent knows them by.
    from fim_tray.app.isolated import main as serve

    serve()
