"""Benchmark of fim-tray against reference tools: builds the corpora, times whole processes,
reports medians, throughput, peak memory and fim-tray-to-reference ratios.

Run it with the project's interpreter, e.g. ``.venv/bin/python bench/bench.py --quick``.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import math
import os
import platform
import random
import re
import shlex
import shutil
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SEED = 20240601
CORPUS_FORMAT = 1
MIB = 1 << 20
SMALL_MIN, SMALL_MAX = 100, 64 * 1024  # file sizes of the small corpus, log-uniform
FOLDERS_PER_FILE = 2800 / 50000
DEFAULT_CORPUS_DIR = Path(__file__).resolve().parent / ".corpus"

WALK_CODE = """\
import os, sys
stack, files = [sys.argv[1]], 0
while stack:
    with os.scandir(stack.pop()) as listing:
        for entry in listing:
            entry.stat(follow_symlinks=False)
            if entry.is_dir(follow_symlinks=False):
                stack.append(entry.path)
            else:
                files += 1
print(files)
"""


class BenchError(Exception):
    """A problem that ends the benchmark with a clear message."""


@dataclass
class Corpus:
    name: str
    path: Path
    params: dict[str, int]
    files: int = 0
    folders: int = 0
    bytes: int = 0


@dataclass
class Measurement:
    key: str  # short name used in ratios: "add", "openssl", "aide --init", ...
    reads_content: bool  # False for runs that only list and stat: no MiB/s for them
    is_fim: bool = False
    label: str = ""
    seconds: list[float] = field(default_factory=list)
    rss_kib: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.label = self.label or (f"fim-tray {self.key}" if self.is_fim else self.key)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


# --- corpora ------------------------------------------------------------------------------


def _manifest_path(corpus: Corpus) -> Path:
    return corpus.path.with_name(corpus.path.name + ".manifest.json")


def _write_manifest(corpus: Corpus, complete: bool) -> None:
    data = {
        "format": CORPUS_FORMAT,
        "seed": SEED,
        "kind": corpus.name,
        "params": corpus.params,
        "files": corpus.files,
        "folders": corpus.folders,
        "bytes": corpus.bytes,
        "complete": complete,
    }
    _manifest_path(corpus).write_text(json.dumps(data, indent=1) + "\n")


def _reuse(corpus: Corpus) -> bool:
    """True when a complete corpus with the same parameters is already on disk."""
    try:
        data = json.loads(_manifest_path(corpus).read_text())
    except (OSError, ValueError):
        return False
    wanted = {"format": CORPUS_FORMAT, "seed": SEED, "params": corpus.params}
    same = all(data.get(key) == value for key, value in wanted.items())
    if not (same and data.get("complete") and corpus.path.is_dir()):
        return False
    corpus.files, corpus.folders, corpus.bytes = data["files"], data["folders"], data["bytes"]
    return True


def _build_small(corpus: Corpus, rng: random.Random) -> None:
    folders = [corpus.path]
    for i in range(corpus.params["folders"]):
        folder = folders[rng.randrange(len(folders))] / f"d{i:04d}"
        folder.mkdir()
        folders.append(folder)
    low, high = math.log(SMALL_MIN), math.log(SMALL_MAX)
    for i in range(corpus.params["files"]):
        size = int(math.exp(rng.uniform(low, high)))
        (folders[rng.randrange(len(folders))] / f"f{i:05d}.bin").write_bytes(rng.randbytes(size))
        corpus.bytes += size
    corpus.files, corpus.folders = corpus.params["files"], corpus.params["folders"]


def _build_large(corpus: Corpus, rng: random.Random) -> None:
    for i in range(corpus.params["files"]):
        with open(corpus.path / f"big{i:03d}.bin", "wb") as out:
            for _ in range(corpus.params["mib"]):
                out.write(rng.randbytes(MIB))
    corpus.files = corpus.params["files"]
    corpus.bytes = corpus.files * corpus.params["mib"] * MIB


def prepare(corpus: Corpus) -> None:
    """Build the corpus unless an identical one exists; a partial one is rebuilt."""
    if _reuse(corpus):
        print(f"corpus {corpus.name}: reusing {corpus.path}")
        return
    if corpus.path.exists():
        if not _manifest_path(corpus).exists():
            raise BenchError(f"{corpus.path} exists but is not a benchmark corpus; move it away")
        shutil.rmtree(corpus.path)
    print(f"corpus {corpus.name}: building {corpus.path} ...", flush=True)
    started = time.monotonic()
    corpus.path.mkdir(parents=True)
    _write_manifest(corpus, complete=False)
    rng = random.Random(f"{SEED}-{corpus.name}")
    (_build_small if corpus.name == "small" else _build_large)(corpus, rng)
    _write_manifest(corpus, complete=True)
    print(f"corpus {corpus.name}: built in {time.monotonic() - started:.1f} s")


def warm(corpus: Corpus) -> tuple[int, int]:
    """Read every file once so that timings see a warm page cache; returns (files, bytes)."""
    files = size = 0
    buf = bytearray(MIB)
    for folder, _dirs, names in os.walk(corpus.path):
        for name in names:
            with open(os.path.join(folder, name), "rb", buffering=0) as stream:
                while n := stream.readinto(buf):
                    size += n
            files += 1
    return files, size


# --- child processes ----------------------------------------------------------------------


# A child's ru_maxrss starts at its parent's peak RSS (the kernel carries it over at exec), so
# a child of this interpreter would never show less than ~20 MiB. `sh` starts each command in the
# background and exits at once: the command is forked from that small shell, re-parented to this
# process (a child subreaper) and reaped here with wait4, which reports its own peak.
LAUNCH = 'err=$1; shift; "$@" </dev/null >/dev/null 2>"$err" & echo $!'
PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise BenchError(f"prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(ctypes.get_errno())}")


def run_child(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, int]:
    """Run one process to its end; returns (wall seconds, its own peak RSS in KiB).

    The rusage from ``os.wait4`` covers this child and the children it waited for (a shell
    pipeline reports its largest member), never a running maximum over earlier children.
    """
    with tempfile.NamedTemporaryFile(prefix="fim-bench-") as errors:
        started = time.perf_counter()
        launched = subprocess.run(
            ["sh", "-c", LAUNCH, "sh", errors.name, *argv],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            check=True,
        )
        pid = int(launched.stdout)
        try:
            _pid, status, usage = os.wait4(pid, 0)
        except BaseException:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise
        elapsed = time.perf_counter() - started
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            tail = errors.read()[-3000:].decode(errors="replace")
            raise BenchError(f"`{shlex.join(argv)}` exited with {code}:\n{tail}")
    return elapsed, usage.ru_maxrss


def output_of(argv: list[str]) -> str:
    """Both output streams of a short command, or '' when it cannot run."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return (done.stdout + done.stderr).strip()


def compile_package() -> None:
    """Compile fim-tray's modules once, as a package install does, so no timed run pays for
    compiling them (PYTHONDONTWRITEBYTECODE would otherwise make every run recompile)."""
    import compileall

    import fim_tray

    compileall.compile_dir(str(Path(fim_tray.__file__).parent), quiet=1)


def find_fim_tray() -> str:
    beside = Path(sys.executable).parent / "fim-tray"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("fim-tray")
    if found is None:
        raise BenchError(
            f"fim-tray not found next to {sys.executable} nor on PATH; install it "
            "(`pip install -e .` in the venv) and run this with that interpreter"
        )
    return found


def ensure_aide(install: bool) -> str | None:
    found = shutil.which("aide")
    if found is not None or not install:
        return found
    if os.geteuid() != 0:
        raise BenchError("--install-aide needs root (it runs apt-get)")
    print("installing aide with apt-get ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (
        ["apt-get", "-o", "DPkg::Lock::Timeout=600", "update"],
        ["apt-get", "-o", "DPkg::Lock::Timeout=600", "install", "-y", "aide"],
    ):
        if subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, check=False).returncode:
            raise BenchError(f"`{shlex.join(argv)}` failed")
    return shutil.which("aide")


# --- suites: one round of related measurements, each in its own temporary folder -------------

Suite = Callable[[Path], list[tuple[float, int]]]
FIM_KEYS = ("add", "check", "check --full")


def fim_suite(fim: str, corpus: Path) -> Suite:
    def run(tmp: Path) -> list[tuple[float, int]]:
        env = {**os.environ, "FIM_TRAY_HOME": str(tmp / "home")}
        steps = (["add", str(corpus)], ["check"], ["check", "--full"])  # as in FIM_KEYS
        return [run_child([fim, *args], env) for args in steps]

    return run


def command_suite(argv: list[str]) -> Suite:
    return lambda _tmp: [run_child(argv)]


def find_xargs(corpus: Path, command: str) -> list[str]:
    return ["sh", "-c", f'find "$1" -type f -print0 | xargs -0 {command}', "sh", str(corpus)]


def aide_suite(aide: str, corpus: Path, workers: int) -> Suite:
    def run(tmp: Path) -> list[tuple[float, int]]:
        config = tmp / "aide.conf"
        # sha256 only, for the files and for AIDE's own database; the selection is a regular
        # expression matched as a prefix, so it is closed off to exclude `corpus.manifest.json`.
        config.write_text(
            f"database_in=file:{tmp}/aide.db\n"
            f"database_out=file:{tmp}/aide.db.new\n"
            "database_attrs=sha256\ngzip_dbout=no\nreport_url=stdout\n"
            f"{re.escape(str(corpus))}(/|$) sha256\n"
        )
        extra = [f"--workers={workers}"] if workers > 1 else []
        init = run_child([aide, f"--config={config}", "--init", *extra])
        (tmp / "aide.db.new").rename(tmp / "aide.db")
        return [init, run_child([aide, f"--config={config}", "--check", *extra])]

    return run


def measure(
    corpus: Corpus, fim: str, aide: str | None, aide_workers: bool, repeat: int
) -> list[Measurement]:
    walk = [sys.executable, "-c", WALK_CODE, str(corpus.path)]
    suites: list[tuple[Suite, list[Measurement]]] = [
        (
            fim_suite(fim, corpus.path),
            [Measurement(key, key != "check", is_fim=True) for key in FIM_KEYS],
        ),
        (
            command_suite(find_xargs(corpus.path, "sha256sum")),
            [Measurement("sha256sum", True, label="find | xargs sha256sum")],
        ),
        (
            command_suite(find_xargs(corpus.path, "openssl dgst -sha256")),
            [Measurement("openssl", True, label="find | xargs openssl dgst")],
        ),
        (command_suite(walk), [Measurement("scandir walk", False, label="python scandir+stat")]),
    ]
    getfattr = shutil.which("getfattr")
    if getfattr is not None:  # what reading every extended attribute costs, as attr's tool does
        dump = [getfattr, "-R", "-P", "--absolute-names", "-d", "-m", "-", str(corpus.path)]
        xattrs = Measurement("getfattr -R", False, label="getfattr -R -d -m - (xattrs)")
        suites.append((command_suite(dump), [xattrs]))
    for workers in (1, 2) if aide_workers else (1,):
        tag = f" -W {workers}" if workers > 1 else ""
        steps = [Measurement(f"aide --init{tag}", True), Measurement(f"aide --check{tag}", True)]
        if aide is not None:
            suites.append((aide_suite(aide, corpus.path, workers), steps))
    for round_no in range(1, repeat + 1):
        print(f"corpus {corpus.name}: round {round_no}/{repeat}", flush=True)
        for suite, measurements in suites:  # rounds interleave the tools, spreading any drift
            with tempfile.TemporaryDirectory(prefix="fim-bench-") as tmp:
                for measurement, (seconds, rss) in zip(measurements, suite(Path(tmp)), strict=True):
                    measurement.seconds.append(seconds)
                    measurement.rss_kib.append(rss)
    return [m for _suite, ms in suites for m in ms]


def measure_big_file(
    corpus_dir: Path, fim: str, gib: int, repeat: int
) -> tuple[Measurement, Measurement]:
    """Peak memory of `fim-tray add` on one sparse file of ``gib`` GiB against an empty folder:
    the difference is what hashing a huge file costs (constant, if chunks are reused)."""
    empty_run = Measurement("add, empty folder", True, is_fim=True)
    big_run = Measurement(f"add, one {gib} GiB sparse file", True, is_fim=True)
    corpus_dir.mkdir(parents=True, exist_ok=True)
    # Beside the corpora rather than in /tmp, which may be a small tmpfs; sparse, it takes no
    # space, and its holes read as zeros without touching the disk.
    with tempfile.TemporaryDirectory(prefix="fim-bench-big-", dir=corpus_dir) as tmp:
        empty, big = Path(tmp) / "empty", Path(tmp) / "big"
        empty.mkdir()
        big.mkdir()
        with open(big / "sparse.img", "wb") as out:
            out.truncate(gib << 30)
        for round_no in range(1, repeat + 1):
            print(f"big file: round {round_no}/{repeat}", flush=True)
            for measurement, folder in ((empty_run, empty), (big_run, big)):
                env = {**os.environ, "FIM_TRAY_HOME": str(Path(tmp) / f"home-{round_no}")}
                shutil.rmtree(env["FIM_TRAY_HOME"], ignore_errors=True)
                seconds, rss = run_child([fim, "add", str(folder)], env)
                measurement.seconds.append(seconds)
                measurement.rss_kib.append(rss)
    return empty_run, big_run


def print_big_file(empty_run: Measurement, big_run: Measurement, gib: int, repeat: int) -> float:
    """Prints the table; returns the extra peak RSS in MiB."""
    print(f"\nbig file: one {gib} GiB sparse file vs an empty folder (median of {repeat})")
    print(f"{'':40}{'seconds':>9}{'MiB/s':>9}{'RSS MiB':>9}")
    for m, size in ((empty_run, 0), (big_run, gib << 30)):
        rate = f"{size / MIB / m.median:,.0f}" if size else "-"
        print(f"{'fim-tray ' + m.key:40}{m.median:>9.3f}{rate:>9}{max(m.rss_kib) / 1024:>9.1f}")
    extra = (max(big_run.rss_kib) - max(empty_run.rss_kib)) / 1024
    print(f"extra peak RSS for the {gib} GiB file: {extra:.1f} MiB")
    return extra


# --- report -------------------------------------------------------------------------------


def ratios(measurements: list[Measurement]) -> dict[str, float]:
    fims = [m for m in measurements if m.is_fim]
    return {
        f"{f.key} / {r.key}": f.median / r.median
        for r in measurements
        if not r.is_fim
        for f in fims
    }


def summary(corpus: Corpus, measurements: list[Measurement]) -> dict[str, Any]:
    rows = {}
    for m in measurements:
        rows[m.label] = {
            "seconds": m.seconds,
            "median_s": m.median,
            "files_per_s": corpus.files / m.median,
            "mib_per_s": corpus.bytes / MIB / m.median if m.reads_content else None,
            "peak_rss_mib": max(m.rss_kib) / 1024,
            "rss_mib": [k / 1024 for k in m.rss_kib],
        }
    return {
        "path": str(corpus.path),
        "params": corpus.params,
        "files": corpus.files,
        "folders": corpus.folders,
        "mib": corpus.bytes / MIB,
        "measurements": rows,
        "ratios": ratios(measurements),
    }


def print_table(corpus: Corpus, measurements: list[Measurement], repeat: int) -> None:
    fims = [m for m in measurements if m.is_fim]
    print(
        f"\n{corpus.name}: {corpus.files:,} files in {corpus.folders:,} folders, "
        f"{corpus.bytes / MIB:,.1f} MiB (median of {repeat})"
    )
    head = "".join(f"{f.key.split()[-1].lstrip('-') + '/x':>9}" for f in fims)
    print(f"{'':28}{'seconds':>9}{'spread':>8}{'files/s':>10}{'MiB/s':>9}{'RSS MiB':>9}{head}")
    for m in measurements:
        spread = (max(m.seconds) - min(m.seconds)) / m.median * 100
        rate = f"{corpus.bytes / MIB / m.median:,.0f}" if m.reads_content else "-"
        cells = "" if m.is_fim else "".join(f"{f.median / m.median:>8.2f}x" for f in fims)
        print(
            f"{m.label:28}{m.median:>9.3f}{spread:>7.0f}%{corpus.files / m.median:>10,.0f}"
            f"{rate:>9}{max(m.rss_kib) / 1024:>9.1f}{cells}"
        )


def machine_facts(fim: str, aide: str | None, aide_workers: bool) -> dict[str, Any]:
    cpu = flags = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            cpu = cpu or (value.strip() if key.strip() == "model name" else "")
            flags = flags or (value if key.strip() == "flags" else "")
    except OSError:
        pass
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": cpu,
        "sha_ni": "sha_ni" in flags.split(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "python_openssl": ssl.OPENSSL_VERSION,
        "openssl": output_of(["openssl", "version"]),
        "sha256sum": (output_of(["sha256sum", "--version"]).splitlines() or [""])[0],
        "fim_tray": output_of([fim, "--version"]),
        "aide": output_of([aide, "--version"]).splitlines()[0] if aide else None,
        "aide_workers": aide_workers if aide else None,
    }


# --- main ---------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add = parser.add_argument
    add("--corpus-dir", type=Path, default=DEFAULT_CORPUS_DIR, help="default: bench/.corpus")
    add("--small-files", type=int, help="files in the small corpus (default 50000)")
    add("--small-folders", type=int, help="folders in it (default: 2800 per 50000 files)")
    add("--large-files", type=int, help="files in the large corpus (default 20)")
    add("--large-mib", type=int, help="MiB per large file (default 50)")
    add("--repeat", type=int, help="runs per measurement; the median is reported (default 3)")
    add("--quick", action="store_true", help="preset: 2000 small files, 2 x 20 MiB, 1 run")
    add("--only", choices=["small", "large", "big-file"], help="run one step only")
    add(
        "--big-file",
        action="store_true",
        help="also measure the peak memory of `add` on one sparse file (see --big-file-gib)",
    )
    add("--big-file-gib", type=int, default=4, metavar="N", help="its size (default 4 GiB)")
    add("--install-aide", action="store_true", help="apt-get install aide when it is missing")
    add("--json", type=Path, metavar="FILE", help="also write every figure to FILE as JSON")
    args = parser.parse_args(argv)
    preset = (2000, 2, 20, 1) if args.quick else (50000, 20, 50, 3)
    for name, value in zip(
        ("small_files", "large_files", "large_mib", "repeat"), preset, strict=True
    ):
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.small_folders is None:
        args.small_folders = max(1, round(args.small_files * FOLDERS_PER_FILE))
    if min(args.small_files, args.small_folders, args.large_files, args.large_mib, args.repeat) < 1:
        parser.error("counts and sizes must be at least 1")
    if args.big_file_gib < 1:
        parser.error("--big-file-gib must be at least 1")
    args.big_file = args.big_file or args.only == "big-file"
    return args


def run(args: argparse.Namespace) -> None:
    become_subreaper()
    fim = find_fim_tray()
    compile_package()
    aide = ensure_aide(args.install_aide)
    aide_workers = aide is not None and "--workers" in output_of([aide, "--help"])
    facts = machine_facts(fim, aide, aide_workers)
    print(
        f"nproc {facts['nproc']}, {facts['cpu']} (SHA-NI: {'yes' if facts['sha_ni'] else 'no'})"
        f", Linux {facts['kernel']}\npython {facts['python']} ({facts['python_openssl']})"
        f"\nopenssl CLI: {facts['openssl']}\nfim-tray: {facts['fim_tray']} ({fim})"
    )
    if aide is None:
        print("aide: not installed, skipped (--install-aide installs it)")
    else:
        print(
            f"aide: {facts['aide']}; workers (-W): "
            f"{'supported, measured with 1 and 2' if aide_workers else 'not supported'}"
        )
    corpus_dir = args.corpus_dir.resolve()
    corpora = [
        Corpus(
            "small",
            corpus_dir / f"small-{args.small_files}f-{args.small_folders}d",
            {"files": args.small_files, "folders": args.small_folders},
        ),
        Corpus(
            "large",
            corpus_dir / f"large-{args.large_files}x{args.large_mib}MiB",
            {"files": args.large_files, "mib": args.large_mib},
        ),
    ]
    results: dict[str, Any] = {"machine": facts, "repeat": args.repeat, "corpora": {}}
    for corpus in corpora:
        if args.only not in (None, corpus.name):
            continue
        prepare(corpus)
        if warm(corpus) != (corpus.files, corpus.bytes):  # changed by hand since it was built
            print(f"corpus {corpus.name}: contents differ from its manifest, rebuilding")
            _write_manifest(corpus, complete=False)
            corpus.files = corpus.folders = corpus.bytes = 0
            prepare(corpus)
            warm(corpus)
        measurements = measure(corpus, fim, aide, aide_workers, args.repeat)
        print_table(corpus, measurements, args.repeat)
        results["corpora"][corpus.name] = summary(corpus, measurements)
    if args.big_file:
        empty_run, big_run = measure_big_file(corpus_dir, fim, args.big_file_gib, args.repeat)
        extra = print_big_file(empty_run, big_run, args.big_file_gib, args.repeat)
        results["big_file"] = {
            "gib": args.big_file_gib,
            "seconds": {"empty": empty_run.seconds, "big": big_run.seconds},
            "rss_mib": {
                "empty": [k / 1024 for k in empty_run.rss_kib],
                "big": [k / 1024 for k in big_run.rss_kib],
            },
            "extra_peak_rss_mib": extra,
        }
    print(
        "\nseconds: median wall time of the whole process; spread: (max - min) / median;"
        " MiB/s only for runs that read every file;\nRSS: the process's own peak (a pipeline's"
        " largest member); X/x: fim-tray X time / this row's time (< 1: fim-tray is faster)"
    )
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        print(f"figures written to {args.json}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda _signo, _frame: sys.exit(143))
    try:
        run(args)
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nbench: interrupted; temporary folders removed", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
