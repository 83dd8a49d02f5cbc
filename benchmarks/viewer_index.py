"""The viewer on a large sample file: index build, filtered/sorted pages, text search, one sample.

    python -m benchmarks.viewer_index [--samples 100000]

The file repeats real env episodes (Format and multi-turn ToolUse, scored by the envs; the
records of tests/trainers/viewer_data.py) with distinct task ids, sample indices and rewards.
Times are single runs on a shared machine; appends to results/viewer.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from tests.trainers.viewer_data import write_samples
from trainers.machine import cpu_summary
from trainers.viewer import Index, Query


def build(path: Path, samples: int) -> None:
    seed_file = path.with_name("seed.jsonl")
    write_samples(seed_file, format_tasks=20, tool_tasks=10)
    pool = [json.loads(line) for line in seed_file.read_text().splitlines()]
    rng = random.Random(0)
    with open(path, "w", encoding="utf-8") as f:
        for i in range(samples):
            record = pool[i % len(pool)]
            meta = {**record["metadata"], "task_id": str(i // 8), "sample_index": i % 8}
            meta["reward"] = round(rng.random(), 3)
            meta["kept"] = meta["reward"] > 0.9
            f.write(json.dumps({**record, "metadata": meta}, ensure_ascii=False) + "\n")


def timed(label: str, call, rows: list) -> object:
    started = time.perf_counter()
    result = call()
    rows.append((label, (time.perf_counter() - started) * 1000))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "samples.jsonl"
        build(path, args.samples)
        size_mb = path.stat().st_size / 2**20
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        rows: list = []
        index = timed("index the file", lambda: Index([path]), rows)
        rss_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
        timed("first page (50)", lambda: index.page(Query(), 0, 50), rows)
        timed(
            "filter component correct >= 1",
            lambda: index.page(Query(component="correct", cmin=1), 0, 50),
            rows,
        )
        timed(
            "sort by reward, descending",
            lambda: index.page(Query(sort="reward", descending=True), 0, 50),
            rows,
        )
        timed(
            "next page of that (cached)",
            lambda: index.page(Query(sort="reward", descending=True), 50, 50),
            rows,
        )
        timed("text search 'list_orders'", lambda: index.page(Query(q="list_orders"), 0, 50), rows)
        timed("open one sample", lambda: index.record(args.samples // 2), rows)
    machine, load = cpu_summary(), os.getloadavg()[0]  # other jobs on the machine slow every number
    print(
        f"{args.samples} samples, {size_mb:.0f} MB, index RSS +{rss_mb:.0f} MB on {machine}, load {load:.1f}"
    )
    for label, ms in rows:
        print(f"{label:<34}{ms:>10.1f} ms")
    results = Path(__file__).resolve().parent / "results" / "viewer.md"
    if not results.exists():
        results.write_text(
            "# atropos-envs view on a large file (benchmarks/viewer_index.py)\n\n"
            "| date | machine | load avg | samples | file MB | index RSS MB | operation | ms |\n"
            "|---|---|---|---|---|---|---|---|\n"
        )
    date = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    with results.open("a") as f:
        for label, ms in rows:
            cells = [
                date,
                machine,
                f"{load:.1f}",
                args.samples,
                f"{size_mb:.0f}",
                f"{rss_mb:.0f}",
                label,
                f"{ms:.1f}",
            ]
            f.write("| " + " | ".join(map(str, cells)) + " |\n")


if __name__ == "__main__":
    main()
