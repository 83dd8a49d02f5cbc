"""Preference pairs for DPO: per task, a verified sample (chosen) against a failed one (rejected).

Records are in the conversational preference format TRL's DPOTrainer reads: ``prompt`` (the
messages before the first reply), ``chosen`` and ``rejected`` (the rest of each episode: the
assistant replies and, in multi-turn envs, the tool or user messages between them), plus
``metadata`` naming the task (what makes the output resumable, trainers/task_log.py).

Which samples pair up:
- chosen: verified (reward >= threshold), not cut by the token limit, in ``best`` order
  (trainers/selection.py), distinct; rejected: below the threshold and not an env failure
  (outcome ``error`` says nothing about the reply), distinct, in sample order;
- in multi-turn episodes a trajectory that failed and then corrected itself (a tool call
  answered with an error, later verified) is paired first with an uncorrected one (a tool
  error and a failed episode): ``kind`` ``corrected_vs_uncorrected``; then any remaining
  verified/failed samples: ``verified_vs_failed``;
- each sample is used once, at most ``limit`` pairs per task, only between episodes that
  start from the same prompt.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from trainers.selection import choose, distinct

if TYPE_CHECKING:
    from trainers.rollout import Rollout


def split_prompt(messages: list[dict[str, str]]) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """(the messages before the first assistant reply, the reply and everything after it)."""
    first = next((i for i, m in enumerate(messages) if m.get("role") == "assistant"), len(messages))
    return messages[:first], messages[first:]


def tool_error(message: dict[str, str]) -> bool:
    """A tool message reporting a failed call (a JSON object with an ``error`` key)."""
    if message.get("role") != "tool":
        return False
    try:
        payload = json.loads(message.get("content") or "")
    except ValueError:
        return False
    return isinstance(payload, dict) and "error" in payload


def had_tool_error(rollout: Rollout) -> bool:
    """Some call of the episode failed before its last reply (there was something to correct)."""
    _, after = split_prompt(rollout.messages)
    return any(tool_error(m) for m in after[:-1])


def preference_pairs(
    rollouts: list[Rollout], *, threshold: float, limit: int, near: float
) -> list[tuple[str, Rollout, Rollout]]:
    """(kind, chosen, rejected) for one task's samples (see the module)."""
    verified = choose(
        [r for r in rollouts if r.reward >= threshold and not r.hit_token_limit], "best", len(rollouts), near
    )
    failed = distinct(
        [r for r in rollouts if r.reward < threshold and r.outcome != "error"], len(rollouts), near
    )
    pairs: list[tuple[str, Rollout, Rollout]] = []
    corrected = [r for r in verified if had_tool_error(r)]
    uncorrected = [r for r in failed if had_tool_error(r)]
    for kind, chosen, rejected in (
        ("corrected_vs_uncorrected", corrected, uncorrected),
        ("verified_vs_failed", verified, failed),
    ):
        used = {id(r) for _, c, x in pairs for r in (c, x)}
        chosen = [r for r in chosen if id(r) not in used]
        rejected = [r for r in rejected if id(r) not in used]
        for good in chosen:
            bad = next(
                (r for r in rejected if split_prompt(r.messages)[0] == split_prompt(good.messages)[0]), None
            )
            if bad is None or len(pairs) == limit:
                continue
            rejected.remove(bad)
            pairs.append((kind, good, bad))
    return pairs[:limit]


def _side(rollout: Rollout) -> dict[str, Any]:
    return {
        "sample_index": rollout.sample_index,
        "reward": rollout.reward,
        "components": rollout.components,
        "reason": rollout.reason,
        "outcome": rollout.outcome,
        "completion_tokens": rollout.completion_tokens,
    }


def pair_record(kind: str, chosen: Rollout, rejected: Rollout, *, env_id: str, model: str) -> dict[str, Any]:
    """One DPO record: ``prompt``, ``chosen``, ``rejected`` as message lists, and ``metadata``."""
    prompt, chosen_messages = split_prompt(chosen.messages)
    return {
        "prompt": prompt,
        "chosen": chosen_messages,
        "rejected": split_prompt(rejected.messages)[1],
        "metadata": {
            "env": env_id,
            "task_id": chosen.task_id,
            "kind": kind,
            "model": model,
            "chosen": _side(chosen),
            "rejected": _side(rejected),
        },
    }
