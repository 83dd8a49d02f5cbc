"""Rejection sampling: N completions per task, keep the verified ones as SFT data.

For each task, N episodes run concurrently against the rollout server; each is scored by
the env; samples at or above the threshold that did not hit the token limit are kept, at
most K per task, exact and near duplicates dropped. Records are written in the
``messages`` format that ``datasets`` and TRL's SFTTrainer read unchanged. The same loop,
keeping every sample, is ``evaluate`` (mean reward, pass@k).
"""

from __future__ import annotations

import asyncio
import difflib
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from atropos_envs.core import TextEnv
from trainers.client import RolloutClient, SamplingParams
from trainers.machine import provenance
from trainers.rollout import Rollout, run_episode
from trainers.task_log import TaskLog, atomic_write_text


@dataclass
class SamplingJob:
    env_id: str
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    num_tasks: int | None = 32  # None: every task of a task file
    first_task: int = 0  # position of the first task (a held-out range for evaluation)
    samples_per_task: int = 8
    keep_per_task: int = 2  # K distinct verified samples at most; 0 keeps every sample (evaluate)
    threshold: float = 1.0
    near_duplicate: float = 0.9  # difflib similarity at which two samples count as one
    keep_truncated: bool = False
    sampling: SamplingParams = field(default_factory=SamplingParams)
    seed: int = 0
    assistant_prefix: str = ""
    model: str = ""
    tasks_in_flight: int = 8

    def settings(self) -> dict[str, Any]:
        """What must match for a run to resume an existing output."""
        return json.loads(json.dumps(asdict(self)))


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples of which c passed (Chen et al., 2021)."""
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def distinct(rollouts: list[Rollout], limit: int, near: float) -> list[Rollout]:
    """Up to limit rollouts whose final replies are neither identical nor near-identical
    (difflib similarity >= near after folding case and white space)."""
    kept: list[str] = []
    chosen = []
    for rollout in rollouts:
        text = " ".join(rollout.messages[-1]["content"].split()).lower()
        if any(text == other or difflib.SequenceMatcher(None, text, other).ratio() >= near for other in kept):
            continue
        kept.append(text)
        chosen.append(rollout)
        if len(chosen) == limit:
            break
    return chosen


def to_record(rollout: Rollout, job: SamplingJob) -> dict[str, Any]:
    return {
        "messages": rollout.messages,
        "metadata": {
            "env": job.env_id,
            "task_id": rollout.task_id,
            "sample_index": rollout.sample_index,
            "reward": rollout.reward,
            "components": rollout.components,
            "reason": rollout.reason,
            "completion_tokens": rollout.completion_tokens,
            "model": job.model,
            "sampling": {**job.sampling.as_dict(), "seed": job.seed, "assistant_prefix": job.assistant_prefix},
        },
    }


def task_stats(rollouts: list[Rollout], threshold: float) -> dict[str, Any]:
    return {
        "rewards": [r.reward for r in rollouts],
        "passed": sum(r.reward >= threshold for r in rollouts),
        "hit_token_limit": sum(r.hit_token_limit for r in rollouts),
        "completion_tokens": sum(r.completion_tokens for r in rollouts),
    }


async def _sample_task(env: TextEnv, task_id: str, job: SamplingJob, client: RolloutClient) -> list[Rollout]:
    return list(
        await asyncio.gather(
            *(
                run_episode(env, task_id, i, client, job.sampling, job.seed, job.assistant_prefix)
                for i in range(job.samples_per_task)
            )
        )
    )


def select(rollouts: list[Rollout], job: SamplingJob) -> list[Rollout]:
    if job.keep_per_task == 0:
        return rollouts
    verified = [r for r in rollouts if r.reward >= job.threshold and (job.keep_truncated or not r.hit_token_limit)]
    verified.sort(key=lambda r: (-r.reward, r.sample_index))
    return distinct(verified, job.keep_per_task, job.near_duplicate)


async def run_job(
    job: SamplingJob,
    env: TextEnv,
    client: RolloutClient,
    out: Path,
    overwrite: bool = False,
    on_task_done: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Run (or resume) a job; returns the summary, also saved as ``<out>.summary.json``."""
    started = time.monotonic()
    produced_by = await asyncio.to_thread(provenance, [server.url for server in client.servers])
    task_ids = env.task_ids(job.num_tasks, job.first_task)
    with TaskLog(out, job.settings(), overwrite=overwrite) as log:
        todo = [t for t in task_ids if t not in log.done]
        finished = len(task_ids) - len(todo)
        if on_task_done:
            on_task_done(finished, len(task_ids))
        slots = asyncio.Semaphore(job.tasks_in_flight)

        async def one(task_id: str) -> None:
            nonlocal finished
            async with slots:
                rollouts = await _sample_task(env, task_id, job, client)
            log.commit(task_id, [to_record(r, job) for r in select(rollouts, job)], task_stats(rollouts, job.threshold))
            finished += 1
            if on_task_done:
                on_task_done(finished, len(task_ids))

        pending = [asyncio.ensure_future(one(t)) for t in todo]
        try:
            await asyncio.gather(*pending)
        finally:
            for task in pending:
                task.cancel()
        summary = summarize(log.entries, job, time.monotonic() - started)
        summary["provenance"] = produced_by  # server model, dtype and vLLM version; this machine's CPU/GPU
    atomic_write_text(out.with_name(out.name + ".summary.json"), json.dumps(summary, indent=2) + "\n")
    return summary


def summarize(entries: list[dict[str, Any]], job: SamplingJob, wall_s: float) -> dict[str, Any]:
    samples = sum(len(e["rewards"]) for e in entries)
    rewards = [r for e in entries for r in e["rewards"]]
    k = job.samples_per_task
    summary = {
        "env": job.env_id,
        "model": job.model,
        "tasks": len(entries),
        "samples": samples,
        "kept": sum(e["records"] for e in entries),
        "passed": sum(e["passed"] for e in entries),
        "acceptance_rate": (sum(e["records"] for e in entries) / samples) if samples else 0.0,
        "mean_reward": (sum(rewards) / len(rewards)) if rewards else 0.0,
        "pass@1": _mean(pass_at_k(len(e["rewards"]), e["passed"], 1) for e in entries),
        f"pass@{k}": _mean(pass_at_k(len(e["rewards"]), e["passed"], k) for e in entries),
        "hit_token_limit": sum(e["hit_token_limit"] for e in entries),
        "completion_tokens": sum(e["completion_tokens"] for e in entries),
        "wall_s_this_run": round(wall_s, 1),
    }
    return summary


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values) if values else 0.0
