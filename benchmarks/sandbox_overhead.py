"""Sandbox cost: median wall time per run vs a bare subprocess, and isolated runs/s.

    python -m benchmarks.sandbox_overhead [--runs 200]

Interleaves the variants (noisy machines), reports medians, appends to results/sandbox.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

from atropos_envs.sandbox import get_sandbox

PROGRAMS = {"true": ["/usr/bin/true"], "python -c pass": ["/usr/bin/python3", "-I", "-c", "pass"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    sandbox = get_sandbox("bubblewrap")
    rows = []
    for label, command in PROGRAMS.items():
        bare, isolated = [], []
        for _ in range(args.runs):  # interleaved, so drift hits both alike
            t = time.perf_counter()
            subprocess.run(command, check=True)
            bare.append(time.perf_counter() - t)
            t = time.perf_counter()
            assert sandbox.run(command).ok
            isolated.append(time.perf_counter() - t)
        b, s = statistics.median(bare), statistics.median(isolated)
        rows.append((label, b * 1000, s * 1000, (s - b) * 1000))
    workers = os.cpu_count() or 2
    n = args.runs
    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        assert all(r.ok for r in pool.map(lambda _: sandbox.run(PROGRAMS["python -c pass"]), range(n)))
    rate = n / (time.perf_counter() - started)
    print(f"{'program':<16}{'bare ms':>10}{'sandbox ms':>12}{'overhead ms':>13}")
    for label, b, s, o in rows:
        print(f"{label:<16}{b:>10.1f}{s:>12.1f}{o:>13.1f}")
    print(f"isolated 'python -c pass' runs/s with {workers} workers on {os.cpu_count()} cores: {rate:.1f}")
    results = Path(__file__).resolve().parent / "results" / "sandbox.md"
    if not results.exists():
        results.write_text(
            "| date | machine | backend | program | bare ms (median) | sandbox ms (median) | overhead ms | "
            "runs/s |\n|---|---|---|---|---|---|---|---|\n"
        )
    with results.open("a") as f:
        for label, b, s, o in rows:
            rate_cell = f"{rate:.1f}" if label == "python -c pass" else ""
            f.write(
                f"| {datetime.now(timezone.utc):%Y-%m-%d} | {platform.machine()}, {os.cpu_count()} cores | "
                f"{sandbox.name} | {label} | {b:.1f} | {s:.1f} | {o:.1f} | {rate_cell} |\n"
            )


if __name__ == "__main__":
    main()
