"""Advantages and policy/value losses for GRPO and PPO, over the shared token batch.

Tensors are [batch, tokens] with a 0/1 ``mask`` of generated tokens. Readable top to
bottom, with the variants researchers switch between:
- group-relative advantages: GRPO (mean/std normalised), Dr.GRPO (mean-centred only);
- loss aggregation: per-sequence mean then mean (GRPO), token mean over the batch (DAPO),
  or sum over a constant length (Dr.GRPO);
- clipped importance ratio against the sampling logprobs, asymmetric bounds allowed
  (DAPO's clip-higher), an optional k3 KL estimate to a reference policy;
- GAE over generated tokens for PPO, and the clipped value loss;
- replies that hit the token limit: trained as any, masked, or softly penalised (DAPO).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import torch

from trainers.config import OVERLONG

if TYPE_CHECKING:
    from trainers.batch import TokenSample

AGGREGATIONS = ("sequence_mean", "token_mean", "constant_length")


def group_advantages(
    rewards: torch.Tensor, groups: torch.Tensor, variant: str = "grpo", eps: float = 1e-4
) -> torch.Tensor:
    """Per-sample advantages: reward minus its group's mean (divided by the group's
    standard deviation for "grpo"; not for "dr_grpo")."""
    if variant not in ("grpo", "dr_grpo"):
        raise ValueError("variant must be 'grpo' or 'dr_grpo'")
    advantages = torch.empty_like(rewards)
    for group in groups.unique():
        members = groups == group
        values = rewards[members]
        centred = values - values.mean()
        if variant == "grpo":
            std = values.std(unbiased=True) if values.numel() > 1 else torch.zeros((), dtype=values.dtype)
            centred = centred / (std + eps)
        advantages[members] = centred
    return advantages


def informative_groups(rewards: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
    """A boolean per sample: False for groups whose rewards are all equal (no GRPO signal)."""
    keep = torch.ones_like(rewards, dtype=torch.bool)
    for group in groups.unique():
        members = groups == group
        if rewards[members].max() == rewards[members].min():
            keep[members] = False
    return keep


def aggregate(
    per_token: torch.Tensor,
    mask: torch.Tensor,
    how: str = "sequence_mean",
    constant_length: int | None = None,
    *,
    total: float | None = None,
) -> torch.Tensor:
    """The loss over [B, T] tokens. With ``total``, the micro-batch's share of a loss normalised
    over the whole batch (``batch_total``): the sum of the shares over micro-batches and
    processes is the whole batch's loss (padding samples have an all-zero mask)."""
    mask = mask.to(per_token.dtype)
    if total is not None:
        rows = per_token * mask
        if how == "sequence_mean":
            return (rows.sum(-1) / mask.sum(-1).clamp(min=1)).sum() / total
        if how in AGGREGATIONS:
            return rows.sum() / total
    if how == "sequence_mean":
        return ((per_token * mask).sum(-1) / mask.sum(-1).clamp(min=1)).mean()
    if how == "token_mean":
        return (per_token * mask).sum() / mask.sum().clamp(min=1)
    if how == "constant_length":
        length = constant_length or per_token.shape[-1]
        return (per_token * mask).sum() / (per_token.shape[0] * length)
    raise ValueError(f"aggregation must be one of {AGGREGATIONS}")


def batch_total(masks: list[list[int]], how: str) -> float:
    """The normaliser of a whole batch (completion masks): its samples (sequence_mean), its
    generated tokens (token_mean, DAPO) or samples x the longest completion (constant_length)."""
    if how == "sequence_mean":
        return float(len(masks))
    if how == "token_mean":
        return float(max(1, sum(sum(m) for m in masks)))
    return float(len(masks) * max(len(m) for m in masks))


def clipped_policy_loss(
    logprobs: torch.Tensor,
    sampling_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    clip_low: float = 0.2,
    clip_high: float = 0.2,
    aggregation: str = "sequence_mean",
    ref_logprobs: torch.Tensor | None = None,
    kl_coef: float = 0.0,
    total: float | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """PPO-style clipped surrogate; advantages are per sample [B] or per token [B, T].
    ``total``: the micro-batch's share of a whole batch's loss (see ``aggregate``)."""
    if advantages.dim() == 1:
        advantages = advantages[:, None].expand_as(logprobs)
    ratio = torch.exp(logprobs - sampling_logprobs)
    unclipped = ratio * advantages
    clipped = torch.clamp(ratio, 1 - clip_low, 1 + clip_high) * advantages
    per_token = -torch.minimum(unclipped, clipped)
    stats = {}
    if ref_logprobs is not None and kl_coef:
        log_ratio = ref_logprobs - logprobs
        kl = torch.exp(log_ratio) - log_ratio - 1  # k3: unbiased, always >= 0
        per_token = per_token + kl_coef * kl
        stats["kl"] = float(aggregate(kl.detach(), mask, "token_mean"))
    m = mask.bool()
    stats["clip_fraction"] = float(((unclipped != clipped) & m).sum() / m.sum().clamp(min=1))
    return aggregate(per_token, mask, aggregation, total=total), stats


def gae(
    rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float = 1.0, lam: float = 0.95
) -> tuple[torch.Tensor, torch.Tensor]:
    """(advantages, returns) over generated tokens only: masked positions (tool output,
    template glue) are skipped, so the recursion links each generated token to the next one."""
    batch, length = rewards.shape
    advantages = torch.zeros_like(rewards)
    for b in range(batch):
        next_value, running = 0.0, 0.0
        for t in reversed(range(length)):
            if not mask[b, t]:
                continue
            delta = rewards[b, t] + gamma * next_value - values[b, t]
            running = delta + gamma * lam * running
            advantages[b, t] = running
            next_value = values[b, t]
    returns = (advantages + values) * mask
    return advantages * mask, returns


def clipped_value_loss(
    values: torch.Tensor,
    old_values: torch.Tensor,
    returns: torch.Tensor,
    mask: torch.Tensor,
    clip: float = 0.2,
) -> torch.Tensor:
    clipped = old_values + torch.clamp(values - old_values, -clip, clip)
    per_token = 0.5 * torch.maximum((values - returns) ** 2, (clipped - returns) ** 2)
    return aggregate(per_token, mask, "token_mean")


# ---- overlong replies ---------------------------------------------------------------------------


def soft_overlong_penalty(length: int, limit: int, buffer: int, penalty: float = 1.0) -> float:
    """DAPO's soft overlong punishment: 0 up to ``limit - buffer`` tokens, then falling linearly
    to ``-penalty`` at ``limit`` (and beyond)."""
    if buffer < 1:
        raise ValueError(f"the overlong buffer must be at least 1 token, got {buffer}")
    over = length - (limit - buffer)
    return -penalty * min(1.0, max(0.0, over / buffer))


def overlong_adjust(
    samples: list[TokenSample], *, how: str, limit: int, buffer: int, penalty: float
) -> tuple[list[TokenSample], dict[str, float]]:
    """The samples as trained, and the step's overlong metrics. ``keep``: as they are; ``mask``:
    a sample whose reply hit the token limit gets an all-zero mask (no gradient; it still counts in
    its group's mean); ``soft``: the soft penalty of its longest reply is added to its reward (and
    to its last turn's, for PPO). New samples are returned; the batch's are not changed."""
    if how not in OVERLONG:
        raise ValueError(f"overlong must be one of {OVERLONG}, not {how!r}")
    count = max(1, len(samples))
    metrics = {
        "overlong_rate": sum(s.hit_token_limit for s in samples) / count,
        "think_forced_rate": sum(s.think_forced for s in samples) / count,
    }
    if how == "mask":
        samples = [
            dataclasses.replace(s, mask=[0] * len(s.mask)) if s.hit_token_limit else s for s in samples
        ]
    elif how == "soft":
        adjusted, total = [], 0.0
        for s in samples:
            cut = soft_overlong_penalty(s.longest_reply, limit, buffer, penalty)
            total += cut
            if cut:
                turns = list(s.turn_rewards)
                if turns:
                    turns[-1] = (turns[-1][0], turns[-1][1] + cut)
                s = dataclasses.replace(s, reward=s.reward + cut, turn_rewards=turns)
            adjusted.append(s)
        samples = adjusted
        metrics["overlong_penalty_mean"] = total / count
    return samples, metrics


def overlong_settings(config: Any) -> dict[str, Any]:
    """``overlong_adjust``'s keyword arguments from a TrainConfig."""
    return {
        "how": config.overlong,
        "limit": config.reply_limit(),
        "buffer": config.overlong_buffer,
        "penalty": config.overlong_penalty,
    }
