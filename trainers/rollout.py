"""Running one episode of an env against the rollout server.

The loop is the gymnasium one (observation -> completion -> ``step`` -> ...), on an
independent ``Episode`` so that many run concurrently. Scoring may block (a bounded
worker), so ``step`` runs in a thread and never stalls the event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from typing import Any

from atropos_envs.core import TextEnv
from trainers.client import Completion, RolloutClient, SamplingParams


@dataclass
class Turn:
    """One model turn: the prompt it saw (token ids), what it generated, with logprobs."""

    prompt_token_ids: list[int]
    token_ids: list[int]
    logprobs: list[float]
    finish_reason: str
    reward: float = 0.0  # what env.step returned for this turn (the episode score on the last)


@dataclass
class Rollout:
    task_id: str
    sample_index: int
    messages: list[dict[str, str]]
    reward: float
    components: dict[str, float]
    reason: str
    terminated: bool
    truncated: bool
    turns: list[Turn] = field(default_factory=list)

    @property
    def completion_tokens(self) -> int:
        return sum(len(t.token_ids) for t in self.turns)

    @property
    def hit_token_limit(self) -> bool:
        return any(t.finish_reason == "length" for t in self.turns)


def sample_seed(base_seed: int, task_id: str, sample_index: int) -> int:
    """A per-sample sampling seed that does not depend on scheduling or concurrency."""
    digest = hashlib.blake2b(f"{base_seed}:{task_id}:{sample_index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 33  # fits a signed 32-bit int, as servers expect


async def run_episode(
    env: TextEnv,
    task_id: str,
    sample_index: int,
    client: RolloutClient,
    sampling: SamplingParams,
    base_seed: int | None = 0,
    assistant_prefix: str = "",
) -> Rollout:
    episode = env.start(task_id)
    observation = episode.observation
    turns: list[Turn] = []
    info: dict[str, Any] = {}
    terminated = truncated = False
    while not (terminated or truncated):
        seed = None if base_seed is None else sample_seed(base_seed, task_id, sample_index) + len(turns)
        prefix = assistant_prefix if not turns else ""
        (completion,) = await client.chat(observation, sampling, n=1, seed=seed, assistant_prefix=prefix)
        turns.append(_turn(completion))
        observation, reward, terminated, truncated, info = await asyncio.to_thread(episode.step, prefix + completion.text)
        turns[-1].reward = float(reward)
    return Rollout(
        task_id=task_id,
        sample_index=sample_index,
        messages=episode.observation,
        reward=float(info["reward"]),
        components=dict(info["components"]),
        reason=str(info["reason"]),
        terminated=terminated,
        truncated=truncated,
        turns=turns,
    )


def _turn(completion: Completion) -> Turn:
    return Turn(completion.prompt_token_ids, completion.token_ids, completion.logprobs, completion.finish_reason)
