"""The batch the trainers share: one token sequence per episode.

Per sample: the first prompt's token ids, then every later token of the episode (all
turns) with a mask that is 1 only where the model generated the token (tool results,
chat-template glue and prefills are 0), the server's sampling logprobs for those tokens,
the reward and its components, the group (task) and the policy version that sampled it.
GRPO and PPO differ only in how they turn this into advantages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the update side runs where no env is installed (benchmarks/gpu_check.py)
    from trainers.rollout import Rollout


@dataclass
class TokenSample:
    prompt_ids: list[int]
    completion_ids: list[int]
    mask: list[int]
    sampling_logprobs: list[float]  # 0.0 where mask is 0
    reward: float
    group_id: str
    policy_version: int = 0
    components: dict[str, float] = field(default_factory=dict)
    turn_rewards: list[tuple[int, float]] = field(
        default_factory=list
    )  # (index of a turn's last token, its reward)
    outcome: str = "ok"  # the episode's: ok, invalid, timeout, truncated or error
    # overlong handling (trainers/advantages.py: overlong_adjust)
    hit_token_limit: bool = False  # a reply (its answer, under a thinking budget) hit its token limit
    longest_reply: int = 0  # generated tokens of the longest reply
    think_forced: bool = False  # a reply's reasoning ran past the thinking budget

    @property
    def generated_tokens(self) -> int:
        return sum(self.mask)

    def token_rewards(self) -> list[float]:
        """Rewards per completion token: each turn's reward on its last generated token
        (PPO's GAE input); the terminal reward when turns carry none."""
        rewards = [0.0] * len(self.completion_ids)
        generated = [i for i, m in enumerate(self.mask) if m]
        for position, reward in self.turn_rewards or ([(generated[-1], self.reward)] if generated else []):
            rewards[position] += reward
        return rewards


@dataclass
class Batch:
    """One step's samples, as the rollout thread hands them to training."""

    version: int  # the policy version that sampled it (updates done when sampling began)
    next_position: int  # data position after its tasks
    samples: list[TokenSample]
    trained: list[bool]  # False for samples of dropped uniform groups
    groups_dropped: int
    samples_lost: int
    generation_s: float
    records: list[dict] = field(default_factory=list)  # episodes for rollouts.jsonl (trainers/rollout_log.py)


class TokenMismatch(ValueError):
    """A later turn's prompt cannot be lined up with the tokens of the turns before it."""


def inserted_tokens(previous: list[int], finished_with: int | None, prompt: list[int]) -> list[int]:
    """The tokens a new turn's prompt adds after ``previous`` (the last prompt + what the
    model generated): tool results and template glue.

    The chat template re-renders the model's last reply from text, which may tokenize
    differently from what the model generated (e.g. a forced prefix merging with the first
    generated token). Then the added tokens start after the first end-of-turn token (the
    reply's last generated token, or the template's EOS for a reply cut off by the token
    limit) past the point where the two sequences diverge; the model's own tokens stay what
    is trained on."""
    if prompt[: len(previous)] == previous:
        return prompt[len(previous) :]
    if finished_with is not None:
        common = next(
            (i for i, (a, b) in enumerate(zip(previous, prompt)) if a != b), min(len(previous), len(prompt))
        )
        if finished_with in prompt[common:]:
            return prompt[prompt.index(finished_with, common) + 1 :]
    raise TokenMismatch("a turn's prompt does not extend the tokens of the turns before it")


def token_sample(
    rollout: Rollout, group_id: str, policy_version: int = 0, end_of_turn: int | None = None
) -> TokenSample:
    """Flatten a (multi-turn) rollout into one sequence with a generated-token mask.
    ``end_of_turn`` (the tokenizer's EOS) lines up turns cut off by the token limit."""
    if not rollout.turns:
        raise ValueError("a rollout without turns has no tokens")
    first = rollout.turns[0]
    completion: list[int] = []
    mask: list[int] = []
    logprobs: list[float] = []
    turn_rewards: list[tuple[int, float]] = []
    for index, turn in enumerate(rollout.turns):
        if index > 0:
            before = rollout.turns[index - 1]
            finished_with = (
                before.token_ids[-1] if before.finish_reason == "stop" and before.token_ids else end_of_turn
            )
            inserted = inserted_tokens(
                before.prompt_token_ids + before.token_ids, finished_with, turn.prompt_token_ids
            )
            completion += inserted
            mask += [0] * len(inserted)
            logprobs += [0.0] * len(inserted)
        if len(turn.logprobs) != len(turn.token_ids):
            raise ValueError(f"turn {index}: {len(turn.token_ids)} tokens but {len(turn.logprobs)} logprobs")
        completion += turn.token_ids
        mask += [1] * len(turn.token_ids)
        logprobs += turn.logprobs
        if turn.token_ids:
            turn_rewards.append((len(completion) - 1, turn.reward))
    if turn_rewards:  # the terminal reward is the episode's score, on the last generated token
        if rollout.turns[-1].token_ids:
            turn_rewards[-1] = (turn_rewards[-1][0], rollout.reward)
        else:
            turn_rewards.append((turn_rewards[-1][0], rollout.reward))
    return TokenSample(
        list(first.prompt_token_ids),
        completion,
        mask,
        logprobs,
        rollout.reward,
        group_id,
        policy_version,
        dict(rollout.components),
        turn_rewards,
        getattr(rollout, "outcome", "ok"),
        hit_token_limit=rollout.hit_token_limit,
        longest_reply=rollout.longest_reply,
        think_forced=rollout.think_forced,
    )
