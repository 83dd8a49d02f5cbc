"""Our GRPO trainer vs TRL's GRPOTrainer: wall time per step and peak memory, same work.

    python -m benchmarks.trainer_vs_trl [--steps 5] [--server URL]

Same model (SmolLM2-135M-Instruct, full-parameter, fp32), same batch (2 Format-v0 prompts
x 4 completions x at most 64 new tokens), one optimizer step per batch. TRL generates with
transformers in the training process (its vLLM modes need CUDA); ours samples from a vLLM
server and pushes the new weights to it after each step (in-place reload). Each trainer
runs in its own process; peak RSS is that process's (the vLLM server's own RSS is given
apart). The first step is warm-up and not counted. Appends to results/trainer_vs_trl.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "trainer_vs_trl.md"
TASKS, GROUP, MAX_TOKENS = 2, 4, 64


def run_trl(steps: int) -> dict:
    import gymnasium as gym
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    import atropos_envs  # noqa: F401
    from trainers.models import ensure_default_model
    from trainers.trl_adapter import EnvReward, env_dataset

    env = gym.make("atropos_envs/Format-v0").unwrapped
    stamps: list[float] = []

    class Clock(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            stamps.append(time.perf_counter()) if not stamps else None

        def on_step_end(self, args, state, control, **kwargs):
            stamps.append(time.perf_counter())

    with tempfile.TemporaryDirectory() as tmp:
        args = GRPOConfig(
            output_dir=tmp,
            max_steps=steps,
            per_device_train_batch_size=TASKS * GROUP,
            num_generations=GROUP,
            max_completion_length=MAX_TOKENS,
            learning_rate=1e-6,
            logging_steps=1,
            save_strategy="no",
            report_to="none",
            bf16=False,
            use_cpu=True,
            seed=0,
        )
        trainer = GRPOTrainer(
            model=str(ensure_default_model()),
            reward_funcs=[EnvReward(env)],
            train_dataset=env_dataset(env, TASKS * steps),
            args=args,
            callbacks=[Clock()],
        )
        trainer.train()
    return {"step_s": [b - a for a, b in zip(stamps, stamps[1:])]}


def run_ours(steps: int, url: str) -> dict:
    import gymnasium as gym

    import atropos_envs  # noqa: F401
    from trainers.grpo import GRPOConfig, GRPOTrainer
    from trainers.models import ensure_default_model

    env = gym.make("atropos_envs/Format-v0").unwrapped
    config = GRPOConfig(
        steps=steps,
        tasks_per_step=TASKS,
        group_size=GROUP,
        max_tokens=MAX_TOKENS,
        lora_rank=0,
        learning_rate=1e-6,
        uniform_groups="keep",
        report_to=[],
        checkpoint_every=10_000,
        micro_batch=TASKS * GROUP,
    )
    with tempfile.TemporaryDirectory() as tmp:
        trainer = GRPOTrainer(config, env, ensure_default_model(), [url], Path(tmp))
        started = [time.perf_counter()]
        step_s: list[float] = []

        def clock(metrics):
            now = time.perf_counter()
            step_s.append(now - started[0])
            started[0] = now

        rows = []
        trainer.train(on_step=lambda m: (clock(m), rows.append(m)))
    # the last step also writes the final checkpoint, which TRL (save_strategy=no) does not do
    return {
        "step_s": step_s[:-1],
        "sync_s": [r["sync_s"] for r in rows],
        "generation_s": [r["generation_s"] for r in rows],
    }


def _worker(kind: str, steps: int, url: str) -> None:
    result = run_trl(steps) if kind == "trl" else run_ours(steps, url)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps(result))


def _spawn(kind: str, steps: int, url: str) -> dict:
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.trainer_vs_trl",
        "--worker",
        kind,
        "--steps",
        str(steps),
        "--server",
        url,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    if out.returncode or not lines:
        raise RuntimeError(f"{kind} failed:\n{out.stderr[-3000:]}")
    return json.loads(lines[-1][7:])


def _server_rss_mb(pid: int) -> float:
    """Resident memory of the server's whole process group (API server, engine, workers)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if os.getpgid(int(entry.name)) == os.getpgid(pid):
                    for line in (entry / "status").read_text().splitlines():
                        if line.startswith("VmRSS:"):
                            total += int(line.split()[1])
    return total / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--server", default="")
    parser.add_argument("--worker", choices=["trl", "ours"], default=None)
    args = parser.parse_args()
    if args.worker:
        _worker(args.worker, args.steps, args.server)
        return
    with contextlib.ExitStack() as stack:
        url, server_rss = args.server, float("nan")
        server = None
        if not url:
            from trainers.models import resolve_model
            from trainers.server import ServerConfig, VLLMServer

            path = resolve_model(None)
            server = stack.enter_context(
                VLLMServer(ServerConfig(model=path, served_name=path.name, dev_mode=True))
            )
            url = server.url
        ours = _spawn("ours", args.steps, url)
        if server is not None:
            server_rss = _server_rss_mb(server.process.pid)
    trl = _spawn("trl", args.steps, "")
    ours_step, trl_step = statistics.median(ours["step_s"][1:]), statistics.median(trl["step_s"][1:])
    line = (
        f"| {datetime.now(timezone.utc):%Y-%m-%d} | {platform.machine()}, {os.cpu_count()} cores, CPU | "
        f"{args.steps - 1} | {ours_step:.1f} (generation {statistics.median(ours['generation_s'][1:]):.1f}, "
        f"weight sync {statistics.median(ours['sync_s']):.2f}) | {trl_step:.1f} | {ours_step / trl_step:.2f} "
        f"| {ours['peak_rss_mb']:.0f} (+ server {server_rss:.0f}) | {trl['peak_rss_mb']:.0f} |"
    )
    print(line)
    if not RESULTS.exists():
        RESULTS.write_text(
            "# GRPO step: ours vs TRL's GRPOTrainer\n\nWritten by `python -m benchmarks.trainer_vs_trl`. "
            f"SmolLM2-135M, full-parameter fp32, {TASKS} prompts x {GROUP} completions x <= {MAX_TOKENS} "
            "tokens, median step after a warm-up step.\n\n| date | machine | steps | ours s/step | TRL "
            "s/step | ratio | ours peak RSS MB | TRL peak RSS MB |\n|---|---|---|---|---|---|---|---|\n"
        )
    with RESULTS.open("a") as f:
        f.write(line + "\n")


if __name__ == "__main__":
    main()
