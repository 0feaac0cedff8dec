"""Tests of bench/scale.py's pure helpers: the tree plan and builder, the tables and ratios,
and the peak-memory sampler (no AIDE, no fim-tray run)."""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import scale

MIB_KIB = 1024


def test_the_plan_is_the_same_for_a_seed_and_differs_for_another() -> None:
    first = list(scale.file_plan(1000, "a"))
    assert first == list(scale.file_plan(1000, "a"))
    assert first != list(scale.file_plan(1000, "b"))
    assert len({path for path, _data in first}) == 1000
    assert all(scale.SIZE_MIN <= len(data) <= scale.SIZE_MAX for _path, data in first)


def test_folders_hold_about_200_files_and_nest_at_most_3_deep() -> None:
    folders = scale.folder_layout(100_000, random.Random(1))
    assert len(folders) == 500
    depths = {folder.count("/") + 1 for folder in folders}
    assert depths == {1, 2, 3}
    assert sum(1 for folder in folders if "/" not in folder) == 500 // scale.TOP_SHARE


def test_a_built_tree_matches_its_plan_and_is_reused(tmp_path: Path) -> None:
    tree = scale.tree_for(tmp_path, 600)
    assert scale.prepare(tree) is None
    files = sorted(p.relative_to(tree.path).as_posix() for p in tree.path.rglob("*.dat"))
    planned = list(scale.file_plan(600, f"{scale.SEED}-600"))
    assert files == sorted(path for path, _data in planned)
    assert scale.warm(tree) == (600, sum(len(data) for _path, data in planned))
    again = scale.tree_for(tmp_path, 600)
    assert scale._reuse(again)
    assert (again.folders, again.bytes) == (tree.folders, tree.bytes)


def test_ratios_and_per_file_figures_are_formatted() -> None:
    assert scale.ratio(1.0, 4.0) == "0.25x"
    assert scale.ratio(None, 4.0) == "-"
    assert scale.ratio(1.0, 0.0) == "-"
    assert scale.per_file_us(2.0, 1_000_000) == "2.0"
    assert scale.per_file_bytes(1024, 1000) == "1,049"
    row = scale.Row(50_000, "add", [5.0], [100 * MIB_KIB], [10.0], [50 * MIB_KIB])
    table = scale.commands_table([row]).splitlines()
    assert table[0].startswith("| files | operation")
    cells = [cell.strip() for cell in table[2].strip("|").split("|")]
    assert cells == [
        "50,000", "add vs aide --init", "5.00", "10.00", "0.50x", "100.0", "200.0",
        "100.0", "50.0", "2.00x", "2,097", "1,049",
    ]  # fmt: skip


def test_results_load_back_and_say_their_runs(tmp_path: Path) -> None:
    rows = [
        scale.Row(50_000, "add", [1.0, 2.0, 3.0], [10, 20, 30]),
        scale.Row(1_000_000, "add", [9.0], [90]),
    ]
    results = tmp_path / "scale.json"
    results.write_text(json.dumps(scale.results_json(rows, {}, {"nproc": 2})))
    assert scale.load_rows(results) == rows
    assert scale.runs_text(rows) == (
        "3 runs (median time, largest peak) at 50,000 files, 1 run at 1,000,000 files"
    )
    assert scale.runs_text(rows[1:]) == "1 run per size"


def test_the_sampler_sees_a_process_and_its_child_apart() -> None:
    # A parent that touches 60 MiB and a child of it that touches 120 MiB; both wait for stdin.
    child = "import sys; b = b'x' * (120 << 20); print('up', flush=True); sys.stdin.read()"
    code = textwrap.dedent(f"""\
        import subprocess, sys
        b = b'y' * (60 << 20)
        kid = subprocess.Popen([sys.executable, '-c', {child!r}], stdout=subprocess.PIPE)
        kid.stdout.readline()
        print('up', flush=True)
        sys.stdin.read()
    """)
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdin is not None
    try:
        with scale.Sampler(proc.pid, every=0.01) as sampler:
            assert proc.stdout.readline() == "up\n"
            sampler.sample()
    finally:
        proc.stdin.close()
        proc.wait(30)
    assert 60 * MIB_KIB <= sampler.own_kib < 110 * MIB_KIB
    assert 120 * MIB_KIB <= sampler.children_kib < 170 * MIB_KIB
    assert len(sampler.children_seen) == 1


@pytest.mark.parametrize("text", ["", "0", "x", "10,-1"])
def test_bad_sizes_are_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=r"file counts|not a list"):
        scale.parse_sizes(text)


def test_sizes_are_sorted_and_deduplicated() -> None:
    assert scale.parse_sizes("200_000,50000,50000") == [50_000, 200_000]
