"""Detection latency and idle cost of ``fim-tray monitor``: how soon a write is reported, and
how much CPU watching costs while nothing changes, beside a monitor that polls every 5 s.

Run with the project's interpreter: ``.venv/bin/python bench/detect.py`` (uses the 50,000-file
corpus that ``bench/bench.py`` builds in ``bench/.corpus/``; ``--files N`` makes a small
one of its own instead).
"""

from __future__ import annotations

import argparse
import os
import random
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CORPUS = Path(__file__).resolve().parent / ".corpus" / "small-50000f-2800d"


def fim_tray() -> str:
    beside = Path(sys.executable).with_name("fim-tray")
    found = str(beside) if beside.exists() else shutil.which("fim-tray")
    if not found:
        raise SystemExit("fim-tray is not installed next to this Python or on PATH")
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def small_corpus(root: Path, files: int) -> Path:
    rng = random.Random(7)
    for i in range(files):
        folder = root / f"d{i % max(1, files // 20):03d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{i}.txt").write_bytes(rng.randbytes(rng.randint(100, 4096)))
    return root


class Monitor:
    """A running ``fim-tray monitor --json`` over ``folder`` with its own state folder."""

    def __init__(self, folder: Path, home: Path, interval: float | None) -> None:
        env = {**os.environ, "FIM_TRAY_HOME": str(home)}
        subprocess.run([fim_tray(), "add", str(folder)], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        args = [
            fim_tray(),
            "monitor",
            "--json",
            *(["--interval", str(interval)] if interval else []),
        ]
        self.proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)  # fmt: skip
        assert self.proc.stdout is not None
        self.out = self.proc.stdout

    def wait_line(self, timeout: float) -> str | None:
        ready, _, _ = select.select([self.out], [], [], timeout)
        return self.out.readline() if ready else None

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def latency(monitor: Monitor, folder: Path, trials: int) -> list[float]:
    """Seconds from a write to its JSON line, for ``trials`` writes to random existing files."""
    files = [p for p in folder.rglob("*") if p.is_file()]
    rng = random.Random(11)
    results = []
    time.sleep(2)  # let the monitor finish its first check and set up its watches
    while monitor.wait_line(0.5) is not None:  # drain anything from start-up
        pass
    for _ in range(trials):
        target = rng.choice(files)
        started = time.monotonic()
        target.write_bytes(os.urandom(64))
        line = monitor.wait_line(10)
        results.append(time.monotonic() - started if line else float("inf"))
        time.sleep(0.3)
        while monitor.wait_line(0.2) is not None:
            pass
    return results


def idle_cpu(monitor: Monitor, seconds: float) -> float:
    """CPU seconds the monitor used per minute while nothing changed."""
    time.sleep(3)
    before = cpu_seconds(monitor.proc.pid)
    time.sleep(seconds)
    return (cpu_seconds(monitor.proc.pid) - before) * 60 / seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, help="make a corpus of N files instead")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="fim-detect-"))
    try:
        if args.files:
            source = small_corpus(work / "corpus", args.files)
        elif CORPUS.is_dir():
            source = work / "corpus"  # a copy: the writes below must not change the shared one
            shutil.copytree(CORPUS, source)
        else:
            raise SystemExit("no corpus: run bench/bench.py once, or pass --files N")
        count = sum(1 for p in source.rglob("*") if p.is_file())
        print(f"corpus: {count:,} files")
        rows: list[tuple[str, list[float], float]] = []
        for label, interval in (("fim-tray monitor (events)", None), ("polling every 5 s", 5.0)):
            monitor = Monitor(source, work / f"home-{len(rows)}", interval)
            try:
                lat = latency(monitor, source, args.trials) if interval is None else []
                cpu = idle_cpu(monitor, args.idle_seconds)
            finally:
                monitor.stop()
            rows.append((label, lat, cpu))
        events_cpu = rows[0][2]
        for label, lat, cpu in rows:
            if lat:
                print(f"{label}: detection median {statistics.median(lat):.2f} s, "
                      f"worst {max(lat):.2f} s over {len(lat)} writes")  # fmt: skip
            print(f"{label}: idle {cpu:.3f} CPU-s per minute")
        polling_cpu = rows[1][2]
        if events_cpu > 0:
            print(f"polling every 5 s / events: {polling_cpu / events_cpu:.0f}x the idle CPU")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
