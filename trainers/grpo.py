"""GRPO: group-relative advantages, the clipped ratio against the sampling logprobs.

One step (the rest, shared with PPO, is in ``trainers.trainer``):
1. the batch: ``group_size`` episodes for each of ``tasks_per_step`` tasks, sampled by the
   servers' current (or, with ``max_staleness``, a recent) policy;
2. advantages within each group: (reward - mean) / std for "grpo", reward - mean for
   "dr_grpo"; groups whose rewards are all equal carry no signal and are dropped (or
   refilled) before this;
3. the clipped-ratio loss against the sampling logprobs (+ optional k3 KL to the starting
   policy), aggregated per sequence, per token (DAPO) or over a constant length (Dr.GRPO),
   accumulated over micro-batches into one optimizer step.
"""

from __future__ import annotations

from typing import Any

import torch

from trainers.advantages import clipped_policy_loss, group_advantages
from trainers.config import GRPOConfig
from trainers.trainer import Batch, Trainer

__all__ = ["GRPOConfig", "GRPOTrainer"]


class GRPOTrainer(Trainer):
    algorithm = "grpo"

    def update(self, batch: Batch) -> dict[str, Any]:
        c = self.config
        samples = [s for s, keep in zip(batch.samples, batch.trained) if keep]
        rewards = torch.tensor([s.reward for s in samples])
        group_index = {g: i for i, g in enumerate(dict.fromkeys(s.group_id for s in samples))}
        groups = torch.tensor([group_index[s.group_id] for s in samples])
        advantages = group_advantages(rewards, groups, c.variant).to(self.precision.device)
        self.optimizer.zero_grad()
        totals = {"loss": 0.0, "clip_fraction": 0.0, "kl": 0.0}
        for begin in range(0, len(samples), c.micro_batch):
            rows = samples[begin : begin + c.micro_batch]
            weight = len(rows) / len(samples)
            new, old, mask, _ = self.forward(rows)
            loss, stats = clipped_policy_loss(new, old, advantages[begin : begin + len(rows)], mask, c.clip_low, c.clip_high,
                                              c.aggregation, self.reference_logprobs(rows), c.kl_coef)  # fmt: skip
            (loss * weight).backward()  # gradient accumulation over micro-batches
            totals["loss"] += float(loss.detach()) * weight
            for key in ("clip_fraction", "kl"):
                totals[key] += stats.get(key, 0.0) * weight
        totals["grad_norm"] = self.clip_gradients()
        self.optimizer.step()
        if not c.kl_coef:
            del totals["kl"]
        return totals
