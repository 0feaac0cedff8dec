"""Scale benchmark of fim-tray against AIDE: builds home-folder-like trees of 50,000 to
1,000,000 small files and reports, per size, the wall time and peak memory of each operation
per file, fim-tray-to-AIDE ratios, the monitor's start-up and one file event, as a markdown
table, a JSON file and a log-log plot.

Run it with the project's interpreter, e.g. ``.venv/bin/python bench/scale.py --quick``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import random
import re
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench import (
    BenchError,
    become_subreaper,
    compile_package,
    find_fim_tray,
    machine_facts,
    output_of,
    run_child,
)

SEED = 20261207
TREE_FORMAT = 1
HERE = Path(__file__).resolve().parent
DEFAULT_CORPUS_DIR = HERE / ".corpus"
DEFAULT_RESULTS = HERE / "results" / "scale.json"
DEFAULT_PLOT = HERE.parent / "docs" / "scale.png"
DEFAULT_SIZES = (50_000, 200_000, 1_000_000)
QUICK_SIZES = (2_000, 10_000)
FILES_PER_FOLDER = 200
SIZE_MIN, SIZE_MAX = 100, 4096  # file sizes, log-uniform
TOP_SHARE = 25  # one folder in this many sits at the top; the others nest 2 or 3 deep
AIDE_WORKERS = 2
AIDE_ATTRS = "p+i+n+u+g+s+m+c+sha256"
SAMPLE_EVERY = 0.05  # seconds between looks at the monitor's process tree
READY_TIMEOUT = 3600.0
EVENT_TIMEOUT = 60.0
SETTLE = 2.0  # seconds of idle before the file event
# Room asked for before building a tree: a data block and an inode per file, plus slack; and
# memory for the page cache of the tree and both tools' state (a guess of 8 KiB per file).
DISK_PER_FILE = 4096 + 512
MEMORY_PER_FILE = 8 * 1024
MARGIN = 1 << 30

COMMANDS = ("add", "check", "check --full")  # fim-tray's, each against an AIDE run
AIDE_FOR = {"add": "aide --init", "check": "aide --check", "check --full": "aide --check"}
OPERATIONS = ("add", "check", "check --full", "monitor start", "file event")

PEAK_NOTE = (
    "peak RSS of a command: ru_maxrss from os.wait4, the largest peak of the process and of the "
    "descendants it waited for (fim-tray's worker processes, if any)"
)
MONITOR_NOTE = (
    "monitor start: from launch to the line of its first check (it reports a marker file added "
    "after the baseline); monitor peak: its VmHWM then; children: the largest VmHWM of any "
    f"process under it, sampled every {SAMPLE_EVERY * 1000:.0f} ms"
)
EVENT_NOTE = (
    "file event: one file rewritten while the monitor idles; latency: from the write to the "
    "line reporting it; extra peak: the monitor's VmHWM after the line minus its VmRSS before "
    "the write (VmHWM is reset to VmRSS just before, through /proc/PID/clear_refs)"
)


# --- trees --------------------------------------------------------------------------------


@dataclass
class Tree:
    files: int
    path: Path
    folders: int = 0
    bytes: int = 0

    @property
    def manifest(self) -> Path:
        return self.path.with_name(self.path.name + ".manifest.json")

    def params(self) -> dict[str, int]:
        return {
            "format": TREE_FORMAT,
            "seed": SEED,
            "files": self.files,
            "per_folder": FILES_PER_FOLDER,
            "size_min": SIZE_MIN,
            "size_max": SIZE_MAX,
        }


def tree_for(corpus_dir: Path, files: int) -> Tree:
    return Tree(files, corpus_dir / f"home-{files}f")


def folder_layout(files: int, rng: random.Random) -> list[str]:
    """Relative folder paths of a tree of ``files`` files: ~FILES_PER_FOLDER files a folder,
    a few at the top and the rest nested under them, 2 or 3 levels deep."""
    count = max(1, round(files / FILES_PER_FOLDER))
    top = max(1, count // TOP_SHARE)
    folders = [f"d{i:03d}" for i in range(top)]
    parents = list(folders)  # folders that may hold another (not yet 3 deep)
    for i in range(top, count):
        parent = parents[rng.randrange(len(parents))]
        folder = f"{parent}/s{i:05d}"
        folders.append(folder)
        if folder.count("/") < 2:
            parents.append(folder)
    return folders


def file_plan(files: int, seed: str) -> Iterator[tuple[str, bytes]]:
    """(relative path, contents) of every file of the tree, always the same for a seed."""
    rng = random.Random(seed)
    folders = folder_layout(files, rng)
    low, high = math.log(SIZE_MIN), math.log(SIZE_MAX)
    for i in range(files):
        folder = folders[rng.randrange(len(folders))]
        size = int(math.exp(rng.uniform(low, high)))
        yield f"{folder}/f{i:07d}.dat", rng.randbytes(size)


def _reuse(tree: Tree) -> bool:
    try:
        data = json.loads(tree.manifest.read_text())
    except (OSError, ValueError):
        return False
    if data.get("params") != tree.params() or not data.get("complete") or not tree.path.is_dir():
        return False
    tree.folders, tree.bytes = data["folders"], data["bytes"]
    return True


def _write_manifest(tree: Tree, complete: bool) -> None:
    data = {
        "params": tree.params(),
        "folders": tree.folders,
        "bytes": tree.bytes,
        "complete": complete,
    }
    tree.manifest.write_text(json.dumps(data, indent=1) + "\n")


def build(tree: Tree) -> None:
    """Write the tree from its plan (a partial one left by an interrupted build is replaced)."""
    if tree.path.exists():
        if not tree.manifest.exists():
            raise BenchError(f"{tree.path} exists but is not a benchmark tree; move it away")
        shutil.rmtree(tree.path)
    tree.path.mkdir(parents=True)
    _write_manifest(tree, complete=False)
    made: set[str] = set()
    tree.bytes = 0
    for relative, data in file_plan(tree.files, f"{SEED}-{tree.files}"):
        folder = relative.rpartition("/")[0]
        if folder not in made:
            (tree.path / folder).mkdir(parents=True, exist_ok=True)
            made.update(_ancestors(folder))
        with open(tree.path / relative, "wb") as out:
            out.write(data)
        tree.bytes += len(data)
    tree.folders = len(made)
    _write_manifest(tree, complete=True)


def _ancestors(folder: str) -> list[str]:
    parts = folder.split("/")
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def room_for(tree: Tree) -> str | None:
    """Why the tree cannot be built or measured here (disk, inodes, memory), or None."""
    space = os.statvfs(tree.path.parent)
    free = space.f_bavail * space.f_frsize
    need = tree.files * DISK_PER_FILE + MARGIN
    if free < need:
        return f"not enough disk: {need / (1 << 30):.1f} GiB needed, {free / (1 << 30):.1f} free"
    if space.f_favail and space.f_favail < tree.files * 1.1:
        return f"not enough inodes: {tree.files:,} needed, {space.f_favail:,} free"
    return room_for_measuring(tree)


def memory_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def prepare(tree: Tree) -> str | None:
    """Reuse or build the tree; returns why it was skipped, or None when it is ready."""
    tree.path.parent.mkdir(parents=True, exist_ok=True)
    if _reuse(tree):
        print(f"{tree.files:,} files: reusing {tree.path}", flush=True)
        return None
    why = room_for(tree)
    if why is not None:
        return why
    print(f"{tree.files:,} files: building {tree.path} ...", flush=True)
    started = time.monotonic()
    build(tree)
    print(f"{tree.files:,} files: built in {time.monotonic() - started:.0f} s", flush=True)
    return None


def warm(tree: Tree) -> tuple[int, int]:
    """Read every file once so that every tool meets a warm page cache; (files, bytes)."""
    files = size = 0
    for folder, _dirs, names in os.walk(tree.path):
        for name in names:
            with open(os.path.join(folder, name), "rb", buffering=0) as stream:
                size += len(stream.read())
            files += 1
    return files, size


# --- memory of running processes ----------------------------------------------------------


def status_kib(pid: int, key: str) -> int | None:
    """A ``/proc/PID/status`` figure in KiB (VmHWM, VmRSS), or None once the process is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    match = re.search(rf"^{key}:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) if match else None


def descendants(pid: int) -> list[int]:
    """Every process under ``pid`` now, from each thread's ``children`` list, recursively."""
    found: list[int] = []
    stack = [pid]
    while stack:
        parent = stack.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                text = Path(f"/proc/{parent}/task/{task}/children").read_text()
            except OSError:
                continue
            for child in map(int, text.split()):
                if child not in found:
                    found.append(child)
                    stack.append(child)
    return found


def reset_peak(pid: int) -> bool:
    """Set the process's VmHWM back to its VmRSS (Linux 4.0+); False when refused."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class Sampler:
    """Every SAMPLE_EVERY seconds on a thread of its own: the peak (VmHWM, KiB) of a process
    and, separately, the largest peak of any process under it."""

    def __init__(self, pid: int, every: float = SAMPLE_EVERY) -> None:
        self.pid = pid
        self.every = every
        self.own_kib = 0
        self.children_kib = 0
        self.children_seen: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def sample(self) -> None:
        own = status_kib(self.pid, "VmHWM")
        if own is not None:
            self.own_kib = max(self.own_kib, own)
        for child in descendants(self.pid):
            peak = status_kib(child, "VmHWM")
            if peak is not None:
                self.children_seen.add(child)
                self.children_kib = max(self.children_kib, peak)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.every)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


# --- measurements -------------------------------------------------------------------------


@dataclass
class Row:
    """One operation at one size: seconds and peak RSS (KiB) of each run, per tool."""

    files: int
    operation: str
    fim_s: list[float] = field(default_factory=list)
    fim_kib: list[int] = field(default_factory=list)
    aide_s: list[float] = field(default_factory=list)
    aide_kib: list[int] = field(default_factory=list)
    children_kib: list[int] = field(default_factory=list)  # monitor start: its processes'
    notes: list[str] = field(default_factory=list)


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def peak(values: Sequence[int]) -> int | None:
    return max(values) if values else None


def peak_mib(values: Sequence[int]) -> float:
    """The largest of KiB figures in MiB, NaN (a gap in a plot) when there are none."""
    return max(values) / 1024 if values else math.nan


def aide_config(tmp: Path, tree: Path) -> Path:
    config = tmp / "aide.conf"
    # The selection is a regular expression matched as a prefix: closed off so that the
    # tree's manifest beside it stays out.
    config.write_text(
        f"database_in=file:{tmp}/aide.db\n"
        f"database_out=file:{tmp}/aide.db.new\n"
        "database_attrs=sha256\ngzip_dbout=no\nreport_url=stdout\n"
        f"FIM = {AIDE_ATTRS}\n"
        f"{re.escape(str(tree))}(/|$) FIM\n"
    )
    return config


def measure_commands(
    tree: Tree, fim: str, aide: str | None, tmp: Path, rows: dict[str, Row]
) -> Path:
    """fim-tray's add, check and check --full, then AIDE's --init and --check; returns the
    fim-tray state folder, kept for the monitor."""
    home = tmp / "home"
    shutil.rmtree(home, ignore_errors=True)
    env = {**os.environ, "FIM_TRAY_HOME": str(home)}
    for operation in COMMANDS:
        args = ["add", str(tree.path)] if operation == "add" else operation.split()
        print(f"  fim-tray {operation} ...", flush=True)
        seconds, kib = run_child([fim, *args], env)
        rows[operation].fim_s.append(seconds)
        rows[operation].fim_kib.append(kib)
    if aide is None:
        return home
    config = aide_config(tmp, tree.path)
    base = [aide, f"--config={config}", f"--workers={AIDE_WORKERS}"]
    print("  aide --init ...", flush=True)
    init = run_child([*base, "--init"])
    (tmp / "aide.db.new").replace(tmp / "aide.db")
    print("  aide --check ...", flush=True)
    check = run_child([*base, "--check"])  # AIDE re-hashes every file at every check
    for operation in COMMANDS:
        seconds, kib = init if operation == "add" else check
        rows[operation].aide_s.append(seconds)
        rows[operation].aide_kib.append(kib)
    return home


class MonitorRun:
    """A running ``fim-tray monitor --json`` and its output, line by line."""

    def __init__(self, fim: str, home: Path) -> None:
        env = {**os.environ, "FIM_TRAY_HOME": str(home)}
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            [fim, "monitor", "--json"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert self.proc.stdout is not None
        self.out = self.proc.stdout
        self._buffer = b""

    def wait_for(self, needle: str, timeout: float) -> float | None:
        """perf_counter time at which a line holding ``needle`` came, or None."""
        deadline = time.perf_counter() + timeout
        while True:
            while b"\n" in self._buffer:
                line, _, self._buffer = self._buffer.partition(b"\n")
                if needle.encode() in line:
                    return time.perf_counter()
            left = deadline - time.perf_counter()
            if left <= 0 or self.proc.poll() is not None:
                return None
            ready, _, _ = select.select([self.out], [], [], left)
            if ready:
                chunk = os.read(self.out.fileno(), 65536)
                if not chunk:
                    return None
                self._buffer += chunk

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()


def pick_file(tree: Tree) -> Path:
    """The first file of the tree's plan: the same one each run."""
    relative, _data = next(file_plan(tree.files, f"{SEED}-{tree.files}"))
    return tree.path / relative


def measure_monitor(tree: Tree, fim: str, home: Path, rows: dict[str, Row]) -> None:
    """Start-up to the first check's line, then one file event, then stop."""
    marker = tree.path / f"scale-marker-{os.getpid()}.txt"
    target = pick_file(tree)
    original = target.read_bytes()
    times = target.stat()
    start, event = rows["monitor start"], rows["file event"]
    marker.write_bytes(b"added after the baseline, so that the first check reports something\n")
    monitor = MonitorRun(fim, home)
    try:
        with Sampler(monitor.proc.pid) as sampler:
            print("  fim-tray monitor: start-up ...", flush=True)
            ready = monitor.wait_for(marker.name, READY_TIMEOUT)
            if ready is None:
                raise BenchError("fim-tray monitor ended or never reported its first check")
            sampler.sample()
            start.fim_s.append(ready - monitor.started)
            start.fim_kib.append(sampler.own_kib)
            start.children_kib.append(sampler.children_kib)
            time.sleep(SETTLE)  # idle: anything left from start-up is over
            pid = monitor.proc.pid
            reset = reset_peak(pid)
            before = status_kib(pid, "VmRSS" if reset else "VmHWM") or 0
            print("  fim-tray monitor: one file event ...", flush=True)
            written = time.perf_counter()
            target.write_bytes(os.urandom(len(original)))
            seen = monitor.wait_for(target.name, EVENT_TIMEOUT)
            if seen is None:
                raise BenchError(f"the monitor did not report {target} in {EVENT_TIMEOUT:.0f} s")
            after = status_kib(pid, "VmHWM") or 0
            event.fim_s.append(seen - written)
            event.fim_kib.append(max(0, after - before))
            if not reset:
                event.notes.append("VmHWM could not be reset: growth of the start-up peak")
    finally:
        monitor.stop()
        marker.unlink(missing_ok=True)
        target.write_bytes(original)  # the cached tree stays as it was built
        os.utime(target, ns=(times.st_atime_ns, times.st_mtime_ns))


def measure_size(tree: Tree, fim: str, aide: str | None, repeat: int, rows: dict[str, Row]) -> None:
    for round_no in range(1, repeat + 1):
        print(f"{tree.files:,} files: run {round_no}/{repeat}", flush=True)
        with tempfile.TemporaryDirectory(prefix="fim-scale-") as tmp:
            home = measure_commands(tree, fim, aide, Path(tmp), rows)
            measure_monitor(tree, fim, home, rows)


# --- reports ------------------------------------------------------------------------------


def per_file_us(seconds: float | None, files: int) -> str:
    return "-" if seconds is None else f"{seconds / files * 1e6:,.1f}"


def per_file_bytes(kib: int | None, files: int) -> str:
    return "-" if kib is None else f"{kib * 1024 / files:,.0f}"


def mib(kib: int | None) -> str:
    return "-" if kib is None else f"{kib / 1024:,.1f}"


def secs(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:,.2f}"


def ratio(ours: float | None, theirs: float | None) -> str:
    """fim-tray / AIDE, as ``0.42x``; '-' when either is missing or AIDE's is zero."""
    if ours is None or not theirs:
        return "-"
    return f"{ours / theirs:.2f}x"


def markdown_table(head: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |"]
    lines.append("|" + "|".join("---" if i < 2 else "---:" for i in range(len(head))) + "|")
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines)


def commands_table(rows: Sequence[Row]) -> str:
    head = [
        "files", "operation (fim-tray vs AIDE)", "fim-tray s", "AIDE s", "time ratio",
        "fim-tray µs/file", "AIDE µs/file", "fim-tray peak MiB", "AIDE peak MiB",
        "memory ratio", "fim-tray B/file", "AIDE B/file",
    ]  # fmt: skip
    body = []
    for row in rows:
        if row.operation not in COMMANDS:
            continue
        fs, as_ = median(row.fim_s), median(row.aide_s)
        fk, ak = peak(row.fim_kib), peak(row.aide_kib)
        body.append([
            f"{row.files:,}", f"{row.operation} vs {AIDE_FOR[row.operation]}",
            secs(fs), secs(as_), ratio(fs, as_),
            per_file_us(fs, row.files), per_file_us(as_, row.files),
            mib(fk), mib(ak), ratio(fk, ak),
            per_file_bytes(fk, row.files), per_file_bytes(ak, row.files),
        ])  # fmt: skip
    return markdown_table(head, body)


def monitor_table(rows: Sequence[Row]) -> str:
    head = [
        "files",
        "start-up s",
        "µs/file",
        "monitor peak MiB",
        "B/file",
        "children peak MiB",
        "event latency s",
        "event extra peak MiB",
    ]
    by_size: dict[int, dict[str, Row]] = {}
    for row in rows:
        by_size.setdefault(row.files, {})[row.operation] = row
    body = []
    for files, ops in sorted(by_size.items()):
        start, event = ops.get("monitor start"), ops.get("file event")
        if start is None or event is None or not start.fim_s:
            continue
        children = peak(start.children_kib)
        body.append([
            f"{files:,}", secs(median(start.fim_s)), per_file_us(median(start.fim_s), files),
            mib(peak(start.fim_kib)), per_file_bytes(peak(start.fim_kib), files),
            mib(children) if children else "none",
            secs(median(event.fim_s)), mib(peak(event.fim_kib)),
        ])  # fmt: skip
    return markdown_table(head, body)


def runs_by_size(rows: Sequence[Row]) -> dict[int, int]:
    return {row.files: len(row.fim_s) for row in rows if row.operation == "add"}


def runs_text(rows: Sequence[Row]) -> str:
    """How many runs stand behind the figures, e.g. "1 run" or "3 runs (median time, largest
    peak) at 50,000 files, 1 run at 1,000,000"."""
    runs = runs_by_size(rows)

    def say(n: int) -> str:
        return "1 run" if n == 1 else f"{n} runs (median time, largest peak)"

    if len(set(runs.values())) <= 1:
        return say(next(iter(runs.values()), 1)) + " per size"
    return ", ".join(f"{say(n)} at {files:,} files" for files, n in sorted(runs.items()))


def report(rows: Sequence[Row], facts: dict[str, Any]) -> str:
    machine = f"{facts.get('nproc')} cores, {facts.get('cpu') or 'unknown CPU'}"
    return "\n\n".join([
        f"Machine: {machine}; {runs_text(rows)}; warm cache (every file read once before).",
        commands_table(rows),
        monitor_table(rows),
        "Ratios are fim-tray / AIDE (below 1: fim-tray is faster or smaller). AIDE runs with "
        f"-W {AIDE_WORKERS} and {AIDE_ATTRS}; its --check always re-hashes, so it stands against "
        "both of fim-tray's checks. Seconds are wall time of the whole process. "
        f"{PEAK_NOTE[0].upper()}{PEAK_NOTE[1:]}. {MONITOR_NOTE[0].upper()}{MONITOR_NOTE[1:]}. "
        f"{EVENT_NOTE[0].upper()}{EVENT_NOTE[1:]}.",
    ])  # fmt: skip


def results_json(
    rows: Sequence[Row], skipped: dict[int, str], facts: dict[str, Any]
) -> dict[str, Any]:
    return {
        "machine": facts,
        "runs": {str(files): n for files, n in runs_by_size(rows).items()},
        "cache": "warm",
        "aide": {"workers": AIDE_WORKERS, "attributes": AIDE_ATTRS},
        "definitions": {"peak_rss": PEAK_NOTE, "monitor": MONITOR_NOTE, "event": EVENT_NOTE},
        "skipped": {str(size): why for size, why in skipped.items()},
        "rows": [asdict(row) for row in rows],
    }


def load_rows(path: Path) -> list[Row]:
    """The rows of a results file written by this script."""
    try:
        data = json.loads(path.read_text())
        return [Row(**row) for row in data["rows"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BenchError(f"{path}: not a results file of this script ({exc})") from None


def plot(rows: Sequence[Row], path: Path) -> None:
    """Two log-log panels, time and peak memory against files, a line per tool and operation."""
    try:
        matplotlib = importlib.import_module("matplotlib")
    except ImportError:
        raise BenchError(
            "the plot needs matplotlib: pip install -e '.[bench]' (or pass --no-plot)"
        ) from None
    matplotlib.use("Agg")
    plt = importlib.import_module("matplotlib.pyplot")
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 5), constrained_layout=True)
    colors = {op: f"C{i}" for i, op in enumerate(OPERATIONS)}
    aide_labels = {"add": "aide --init", "check --full": "aide --check (vs both checks)"}
    for operation in OPERATIONS:
        mine = sorted((r.files, r) for r in rows if r.operation == operation and r.fim_s)
        if not mine:
            continue
        xs = [files for files, _row in mine]
        label = f"fim-tray {operation}" + (" (latency)" if operation == "file event" else "")
        kw: dict[str, Any] = {"color": colors[operation], "marker": "o"}
        left.plot(xs, [median(r.fim_s) for _f, r in mine], label=label, **kw)
        memory = [peak_mib(r.fim_kib) for _f, r in mine]
        if operation == "file event":  # an increase, and 0 is off a log scale: a gap there
            memory = [m if m > 0 else math.nan for m in memory]
            label = "fim-tray file event (extra peak)"
        right.plot(xs, memory, label=label, **kw)
        if operation == "monitor start" and any(r.children_kib and max(r.children_kib)
                                                 for _f, r in mine):  # fmt: skip
            right.plot(xs, [peak_mib(r.children_kib) for _f, r in mine],
                       label="fim-tray monitor children", color=colors[operation],
                       marker="^", linestyle=":")  # fmt: skip
        if operation in aide_labels and all(r.aide_s for _f, r in mine):
            kw = {"color": colors[operation], "marker": "s", "linestyle": "--"}
            name = aide_labels[operation]
            left.plot(xs, [median(r.aide_s) for _f, r in mine], label=name, **kw)
            right.plot(xs, [peak_mib(r.aide_kib) for _f, r in mine], label=name, **kw)
    for axes, title, unit in ((left, "wall time", "seconds"), (right, "peak RSS", "MiB")):
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.set_xlabel("files")
        axes.set_ylabel(unit)
        axes.set_title(title)
        axes.grid(True, which="both", alpha=0.3)
        axes.legend(fontsize="small")
        axes.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _p: f"{v:g}"))
    figure.suptitle("fim-tray and AIDE on home-folder-like trees (warm cache)")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)


# --- main ---------------------------------------------------------------------------------


def parse_sizes(text: str) -> list[int]:
    try:
        sizes = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of file counts: {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("file counts must be at least 1")
    return sorted(set(sizes))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add = parser.add_argument
    add("--sizes", type=parse_sizes, help="file counts, e.g. 50000,200000 (default: 50k,200k,1M)")
    add("--quick", action="store_true", help=f"preset: sizes {QUICK_SIZES}, for a smoke test")
    add("--repeat", type=int, default=1, help="runs per size (default 1)")
    add("--corpus-dir", type=Path, default=DEFAULT_CORPUS_DIR, help="default: bench/.corpus")
    add("--json", type=Path, default=DEFAULT_RESULTS, help="default: bench/results/scale.json")
    add("--plot", type=Path, default=DEFAULT_PLOT, help="default: docs/scale.png")
    add("--no-plot", action="store_true", help="skip the plot (no matplotlib needed)")
    add("--no-aide", action="store_true", help="measure fim-tray only")
    add(
        "--replot",
        type=Path,
        metavar="FILE",
        help="print the tables and draw the plot of an earlier results file, measuring nothing",
    )
    add(
        "--keep",
        type=Path,
        metavar="FILE",
        help="add the figures of an earlier results file for sizes not asked for this time",
    )
    args = parser.parse_args(argv)
    if args.sizes is None:
        args.sizes = list(QUICK_SIZES if args.quick else DEFAULT_SIZES)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def replot(args: argparse.Namespace) -> None:
    """The tables and the plot of an earlier results file; nothing is measured."""
    try:
        data = json.loads(args.replot.read_text())
    except (OSError, ValueError) as exc:
        raise BenchError(f"{args.replot}: {exc}") from None
    rows = load_rows(args.replot)
    print(report(rows, data.get("machine", {})))
    if not args.no_plot and rows:
        plot(rows, args.plot)
        print(f"plot written to {args.plot}")


def run(args: argparse.Namespace) -> None:
    if args.replot is not None:
        replot(args)
        return
    become_subreaper()
    fim = find_fim_tray()
    compile_package()
    aide = None if args.no_aide else shutil.which("aide")
    if aide is None and not args.no_aide:
        raise BenchError("aide not found on PATH (install it, or pass --no-aide)")
    if aide is not None and "--workers" not in output_of([aide, "--help"]):
        raise BenchError(f"{aide} has no --workers option (AIDE 0.17 or later is needed)")
    facts = machine_facts(fim, aide, aide is not None)
    facts["commit"] = output_of(["git", "-C", str(HERE.parent), "describe", "--always", "--dirty"])
    print(f"nproc {facts['nproc']}, {facts['cpu']}; fim-tray {facts['fim_tray']}; {facts['aide']}")
    corpus_dir = args.corpus_dir.resolve()
    rows: list[Row] = []
    skipped: dict[int, str] = {}
    for files in args.sizes:
        tree = tree_for(corpus_dir, files)
        why = prepare(tree)
        if why is None and (mem := room_for_measuring(tree)) is not None:
            why = mem
        if why is not None:
            skipped[files] = why
            print(f"{files:,} files: SKIPPED, {why}", flush=True)
            continue
        print(f"{files:,} files: warming the page cache ...", flush=True)
        if warm(tree) != (tree.files, tree.bytes):
            raise BenchError(f"{tree.path} differs from its manifest: delete it to rebuild it")
        size_rows = {op: Row(files, op) for op in OPERATIONS}
        measure_size(tree, fim, aide, args.repeat, size_rows)
        rows += size_rows.values()
        print("\n" + commands_table(rows) + "\n\n" + monitor_table(rows) + "\n", flush=True)
    if args.keep is not None:  # sizes measured earlier, not this time
        measured = {row.files for row in rows} | set(skipped)
        rows += [row for row in load_rows(args.keep) if row.files not in measured]
        rows.sort(key=lambda row: (row.files, OPERATIONS.index(row.operation)))
    text = report(rows, facts)
    for row in rows:
        for note in dict.fromkeys(row.notes):
            text += f"\n\nNote, {row.files:,} files, {row.operation}: {note}."
    for files, why in skipped.items():
        text += f"\n\nSkipped {files:,} files: {why}."
    print("\n" + text)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    data = results_json(rows, skipped, facts)
    args.json.write_text(json.dumps(data, indent=1) + "\n")
    print(f"\nfigures written to {args.json}")
    if not args.no_plot and rows:
        plot(rows, args.plot)
        print(f"plot written to {args.plot}")


def room_for_measuring(tree: Tree) -> str | None:
    """An existing tree still needs the memory to measure it."""
    available = memory_available()
    need = tree.files * MEMORY_PER_FILE + MARGIN
    if available is not None and available < need:
        return (
            f"not enough memory: {need / (1 << 30):.1f} GiB wanted, "
            f"{available / (1 << 30):.1f} available"
        )
    return None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda _signo, _frame: sys.exit(143))
    try:
        run(args)
    except BenchError as exc:
        print(f"scale: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nscale: interrupted; temporary folders removed", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
