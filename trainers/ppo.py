"""PPO: a value head on the policy's last hidden state, GAE over generated tokens, clipped
policy and value losses, several epochs of minibatch updates per batch.

One step (the rest, shared with GRPO, is in ``trainers.trainer``):
1. the batch, as for GRPO (groups are not needed: uniform ones are kept by default);
2. with the weights that start the step: the value of every generated token's state;
3. rewards per token: each turn's reward on its last generated token (the episode's score
   on the last one); GAE over generated tokens only (tool output and prompts are skipped),
   advantages whitened over the batch;
4. ``ppo_epochs`` passes over shuffled minibatches: clipped ratio against the sampling
   logprobs (+ optional k3 KL), plus ``value_coef`` x the clipped value loss; one optimizer
   step per minibatch.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from trainers.advantages import (
    clipped_policy_loss,
    clipped_value_loss,
    gae,
    overlong_adjust,
    overlong_settings,
)
from trainers.config import PPOConfig
from trainers.trainer import Batch, Trainer

__all__ = ["PPOConfig", "PPOTrainer", "ValueHead", "whiten"]


class ValueHead(nn.Module):
    """hidden state -> scalar value; starts at 0 so early returns are the raw rewards."""

    def __init__(self, hidden_size: int):
        super().__init__()
        self.linear = nn.Linear(hidden_size, 1)
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        return self.linear(states.float())[..., 0]


def whiten(values: torch.Tensor, mask: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    count = mask.sum().clamp(min=1)
    mean = (values * mask).sum() / count
    var = (((values - mean) * mask) ** 2).sum() / count
    return (values - mean) * torch.rsqrt(var + eps) * mask


class PPOTrainer(Trainer):
    algorithm = "ppo"

    def __init__(self, config: PPOConfig, env, model_path, server_urls, out_dir, servers=()):
        from transformers import AutoConfig

        self.value_head = ValueHead(AutoConfig.from_pretrained(model_path).hidden_size)
        super().__init__(config, env, model_path, server_urls, out_dir, servers)

    def extra_modules(self) -> list[nn.Module]:
        return [self.value_head]

    def trainable_parameters(self) -> list[dict[str, Any]]:
        return super().trainable_parameters() + [
            {"params": list(self.value_head.parameters()), "lr": self.config.value_learning_rate}
        ]

    def extra_state(self) -> dict[str, Any]:
        return {"value_head": self.value_head.state_dict()}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.value_head.load_state_dict(state["value_head"])

    def _targets(self, samples) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(values, advantages, returns) [B, W] with the weights that start the step."""
        c = self.config
        width = max(len(s.completion_ids) for s in samples)
        values = torch.zeros(len(samples), width)
        mask = torch.zeros(len(samples), width)
        rewards = torch.zeros(len(samples), width)
        with torch.no_grad():
            for begin in range(0, len(samples), c.micro_batch):
                rows = samples[begin : begin + c.micro_batch]
                _, _, row_mask, states = self.forward(rows, hidden=True)
                values[begin : begin + len(rows), : row_mask.shape[1]] = (
                    self.value_head(states) * row_mask
                ).cpu()
                mask[begin : begin + len(rows), : row_mask.shape[1]] = row_mask.cpu()
        for row, sample in enumerate(samples):
            per_token = sample.token_rewards()
            rewards[row, : len(per_token)] = torch.tensor(per_token)
        advantages, returns = gae(rewards, values, mask, c.gamma, c.lam)
        if c.whiten_advantages:
            advantages = whiten(advantages, mask)
        device = self.precision.device  # GAE ran on the CPU: a Python loop over tokens
        return values.to(device), advantages.to(device), returns.to(device)

    def update(self, batch: Batch) -> dict[str, Any]:
        c = self.config
        samples = [s for s, keep in zip(batch.samples, batch.trained) if keep]
        samples, overlong = overlong_adjust(samples, **overlong_settings(c))
        old_values, advantages, returns = self._targets(samples)
        order = torch.Generator().manual_seed(c.seed * 100_003 + self.step)
        first_epoch: dict[str, list[float]] = {"loss": [], "value_loss": [], "clip_fraction": [], "kl": []}
        explained = []
        for epoch in range(c.ppo_epochs):
            permutation = torch.randperm(len(samples), generator=order).tolist()
            for begin in range(0, len(samples), c.micro_batch):
                index = permutation[begin : begin + c.micro_batch]
                rows = [samples[i] for i in index]
                new, old, mask, states = self.forward(rows, hidden=True)
                width = mask.shape[1]
                values = self.value_head(states)
                policy_loss, stats = clipped_policy_loss(
                    new,
                    old,
                    advantages[index, :width],
                    mask,
                    clip_low=c.clip_low,
                    clip_high=c.clip_high,
                    aggregation=c.aggregation,
                    ref_logprobs=self.reference_logprobs(rows),
                    kl_coef=c.kl_coef,
                )
                value_loss = clipped_value_loss(
                    values, old_values[index, :width], returns[index, :width], mask, c.value_clip
                )
                self.optimizer.zero_grad()
                (policy_loss + c.value_coef * value_loss).backward()
                self.clip_gradients()
                self.optimizer.step()
                if epoch == 0:  # the first pass measures the value head as it entered the step
                    first_epoch["loss"].append(float(policy_loss.detach()))
                    first_epoch["value_loss"].append(float(value_loss.detach()))
                    first_epoch["clip_fraction"].append(stats["clip_fraction"])
                    first_epoch["kl"].append(stats.get("kl", 0.0))
                    explained.append(
                        _explained_variance(old_values[index, :width], returns[index, :width], mask)
                    )
        metrics = {key: sum(v) / len(v) for key, v in first_epoch.items() if v}
        metrics["explained_variance"] = sum(explained) / len(explained)
        if not c.kl_coef:
            del metrics["kl"]
        return {**metrics, **overlong}


def _explained_variance(values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor) -> float:
    """1 - Var(returns - values) / Var(returns) over generated tokens: 1 is a perfect critic."""
    m = mask.bool()
    target, residual = returns[m], (returns - values)[m]
    if target.numel() < 2 or float(target.var()) == 0.0:
        return 0.0
    return float(1 - residual.var() / target.var())
