"""Rejection sampling with the embedded SmolLM2 on ReasoningGym-v0 (a few generators) and
ToolReasoning-v0 (python in the sandbox mid-reasoning), through a real vLLM server.

    flock /tmp/atropos-vllm.lock python -m benchmarks.new_envs_sampling [--server URL] [--tasks 8]

Writes ``benchmarks/results/new_envs_sampling.md`` (one row per env setting, and the machine's
CPU).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
from pathlib import Path

from atropos_envs.envs.reasoning_gym import ReasoningGymEnv
from atropos_envs.envs.tool_reasoning import STOP_SEQUENCES, ToolReasoningEnv
from trainers.client import RolloutClient, SamplingParams
from trainers.machine import cpu_summary
from trainers.rejection_sampling import SamplingJob, run_job

RESULTS = Path(__file__).parent / "results" / "new_envs_sampling.md"
CALL_PREFIX = '<think>I compute it with Python.\n<tool_call>{"name": "python", "arguments": {"code": "print('


def rows(tasks: int) -> list[tuple[str, object, SamplingJob]]:
    out = []
    for name in ("chain_sum", "basic_arithmetic", "letter_counting"):
        job = SamplingJob(
            env_id="atropos_envs/ReasoningGym-v0",
            env_kwargs={"dataset": name, "level": 0},
            num_tasks=tasks,
            samples_per_task=8,
            sampling=SamplingParams(max_tokens=128),
            assistant_prefix="<think>",
            model="smollm2",
        )
        out.append(
            (f"ReasoningGym-v0 ({name}, level 0, `<think>` prefill)", ReasoningGymEnv(**job.env_kwargs), job)
        )
    for kinds, prefix, label in ((["big_sum", "big_product"], CALL_PREFIX, "a python call prefilled"),):
        job = SamplingJob(
            env_id="atropos_envs/ToolReasoning-v0",
            env_kwargs={"kinds": kinds},
            num_tasks=tasks,
            samples_per_task=8,
            sampling=SamplingParams(max_tokens=96, stop=STOP_SEQUENCES),
            assistant_prefix=prefix,
            model="smollm2",
        )
        env = ToolReasoningEnv(kinds=kinds)
        out.append((f"ToolReasoning-v0 ({', '.join(kinds)}; {label}; stop at `</tool_call>`)", env, job))
    return out


async def run(url: str, tasks: int, workdir: Path) -> list[str]:
    lines = []
    async with RolloutClient([url]) as client:
        for i, (label, env, job) in enumerate(rows(tasks)):
            out = workdir / f"row{i}.jsonl"
            started = time.monotonic()
            summary = await run_job(job, env, client, out)
            wall = time.monotonic() - started
            o = summary["outcomes"]
            lines.append(
                f"| {label} | {summary['tasks']} | {summary['samples']} | {job.sampling.max_tokens} | "
                f"{summary['passed']} | {summary['kept']} | {summary['mean_reward']:.3f} | "
                f"{summary['pass@1']:.3f} | "
                f"{summary['pass@8']:.3f} | {summary['hit_token_limit']} | "
                f"{o.get('ok', 0)}/{o.get('invalid', 0)}/{o.get('truncated', 0)}/{o.get('error', 0)} | "
                f"{wall:.0f} |"
            )
            print(lines[-1], flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", help="a running server (default: start the embedded model)")
    parser.add_argument("--tasks", type=int, default=8)
    args = parser.parse_args()
    with contextlib.ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        url = args.server
        if url is None:
            from trainers.models import ensure_default_model
            from trainers.server import ServerConfig, VLLMServer

            server = VLLMServer(ServerConfig(model=ensure_default_model(), served_name="smollm2"))
            url = stack.enter_context(server).url
        lines = asyncio.run(run(url, args.tasks, Path(tmp)))
    header = (
        "| env (settings) | tasks | samples | max tokens | passed | kept | mean reward | pass@1 | pass@8 | "
        "hit token limit | outcomes (ok/invalid/truncated/error) | wall s |\n" + "|---" * 12 + "|\n"
    )
    RESULTS.write_text(
        "# Rejection sampling on ReasoningGym-v0 and ToolReasoning-v0 (SmolLM2-135M-Instruct)\n\n"
        f"Machine: {cpu_summary()}. Written by `python -m benchmarks.new_envs_sampling`; 8 samples per task,"
        " temperature 0.8, at most 2 distinct verified samples kept per task; wall times are upper bounds"
        " on a shared machine.\n\n" + header + "\n".join(lines) + "\n"
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
