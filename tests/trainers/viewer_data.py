"""Data for the viewer's tests and screenshot: real env episodes (scored by the envs
themselves) of scripted replies, written in the formats sample, evaluate and the trainers write."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym

import atropos_envs  # noqa: F401  (registers the envs)
from trainers.client import SamplingParams
from trainers.metrics import MetricsLog
from trainers.rejection_sampling import SamplingJob, sample_record
from trainers.rollout import Rollout
from trainers.rollout_log import RolloutLog, rollout_record

HOSTILE = (
    '<think>try markup</think> <script>window.__pwned = 1</script><img src="x" '
    'onerror="window.__pwned = 2"> <b>bold?</b> \\boxed{1}'
)


def play(env, task_id: str, replies: list[str], sample_index: int = 0) -> Rollout:
    episode = env.start(task_id)
    info: dict = {}
    terminated = truncated = False
    for reply in replies:
        _, _, terminated, truncated, info = episode.step(reply)
        if terminated or truncated:
            break
    return Rollout(
        task_id,
        sample_index,
        [dict(m) for m in episode.messages],
        float(info["reward"]),
        dict(info["components"]),
        str(info["reason"]),
        terminated,
        truncated,
        outcome=str(info.get("outcome", "ok")),
    )


def format_replies(answer: str, variant: int) -> list[list[str]]:
    honest = [f"<think>adding it up gives {answer}</think> \\boxed{{{answer}}}"]
    wrong = [f"<think>roughly {answer}, plus one</think> \\boxed{{{int(answer) + 1}}}"]
    sloppy = ["the answer is " + answer]  # no think block: malformed
    return [honest, wrong, sloppy] if variant == 0 else [wrong, sloppy, sloppy]


def write_samples(path: Path, *, variant: int = 0, format_tasks: int = 8, tool_tasks: int = 3) -> int:
    """A --samples-out file: Format and multi-turn ToolUse episodes, kept flags as sample sets them."""
    lines = []
    fmt = gym.make("atropos_envs/Format-v0").unwrapped
    job = SamplingJob(
        env_id="atropos_envs/Format-v0", model="scripted", sampling=SamplingParams(max_tokens=64)
    )
    for task_id in fmt.task_ids(format_tasks):
        answer = fmt.get_task(task_id)["answer"]
        for i, replies in enumerate(format_replies(answer, variant if task_id != "0" else 0)):
            r = play(fmt, task_id, replies, i)
            lines.append(sample_record(r, job, kept=i == 0 and r.reward >= 1.0))
    if variant == 0:
        r = play(fmt, "0", [HOSTILE], 3)
        lines.append(sample_record(r, job, kept=False))
        tools = gym.make("atropos_envs/ToolUse-v0").unwrapped
        job = SamplingJob(env_id="atropos_envs/ToolUse-v0", model="scripted")
        for task_id in tools.task_ids(tool_tasks):
            reference = tools.reference_answer(tools.get_task(task_id))
            for i, replies in enumerate([reference, ["<answer>[0]</answer>"]]):
                r = play(tools, task_id, replies, i)
                lines.append(sample_record(r, job, kept=i == 0 and r.reward >= 1.0))
    path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")
    return len(lines)


def write_run(folder: Path, steps: int = 6) -> None:
    """A training run folder: metrics.jsonl (as MetricsLog writes it) and rollouts.jsonl."""
    folder.mkdir(parents=True, exist_ok=True)
    env = gym.make("atropos_envs/Format-v0").unwrapped
    metrics = MetricsLog(folder, [], {}, 0, provenance={"model": "SmolLM2-135M-Instruct (scripted data)"})
    rollouts = RolloutLog(folder, 0)
    for step in range(1, steps + 1):
        records, rewards = [], []
        for n, task_id in enumerate(env.task_ids(2, 2 * step)):
            answer = env.get_task(task_id)["answer"]
            for i in range(2):
                good = (step + n + i) % 3 != 0 or step > 4
                reply = f"<think>{answer}</think> \\boxed{{{answer if good else 0}}}"
                r = play(env, task_id, [reply], i)
                rewards.append(r.reward)
                records.append(
                    rollout_record(r, env_id="atropos_envs/Format-v0", kept=True, version=step - 1)
                )
        rollouts.write(step, records)
        metrics.write(
            {
                "step": step,
                "mean_reward": sum(rewards) / len(rewards),
                "mean_completion_tokens": 30 - 2 * step,
                "loss": 0.5 / step,
                "samples": len(rewards),
            }
        )
    metrics.close()
