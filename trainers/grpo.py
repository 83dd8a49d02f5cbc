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

from trainers.advantages import (
    batch_total,
    clipped_policy_loss,
    group_advantages,
    overlong_adjust,
    overlong_settings,
)
from trainers.config import GRPOConfig
from trainers.distributed import padding, share
from trainers.trainer import Batch, Trainer

__all__ = ["GRPOConfig", "GRPOTrainer"]


class GRPOTrainer(Trainer):
    algorithm = "grpo"

    def update(self, batch: Batch) -> dict[str, Any]:
        c = self.config
        samples = [s for s, keep in zip(batch.samples, batch.trained) if keep]
        samples, overlong = overlong_adjust(samples, **overlong_settings(c))
        rewards = torch.tensor([s.reward for s in samples])
        group_index = {g: i for i, g in enumerate(dict.fromkeys(s.group_id for s in samples))}
        groups = torch.tensor([group_index[s.group_id] for s in samples])
        advantages = group_advantages(
            rewards, groups, c.variant
        )  # over the whole batch, the same on every rank
        total = batch_total(
            [s.mask for s in samples], c.aggregation
        )  # the loss is normalised over the whole batch
        mine = share(len(samples), self.processes.rank, self.processes.world)
        rows_all = [samples[i] if i is not None else padding(samples[0]) for i in mine]
        row_advantages = torch.tensor([float(advantages[i]) if i is not None else 0.0 for i in mine])
        self.optimizer.zero_grad()
        sums = {"loss": 0.0, "clipped": 0.0, "kl": 0.0, "tokens": 0.0}
        starts = list(range(0, len(rows_all), c.micro_batch))
        for begin in starts:  # gradient accumulation; the same number of micro-batches on every rank
            rows = rows_all[begin : begin + c.micro_batch]
            with self.processes.accumulating(self.model, last=begin == starts[-1]):
                new, old, mask, _ = self.forward(rows)
                loss, stats = clipped_policy_loss(
                    new,
                    old,
                    row_advantages[begin : begin + len(rows)].to(new.device),
                    mask,
                    clip_low=c.clip_low,
                    clip_high=c.clip_high,
                    aggregation=c.aggregation,
                    ref_logprobs=self.reference_logprobs(rows),
                    kl_coef=c.kl_coef,
                    total=total,
                )
                self.processes.backward(loss)
            tokens = float(mask.sum())
            sums["loss"] += float(loss.detach())
            sums["tokens"] += tokens
            sums["clipped"] += stats["clip_fraction"] * tokens
            sums["kl"] += stats.get("kl", 0.0) * tokens
        sums = {key: self.processes.sum(value) for key, value in sums.items()}
        metrics = {
            "loss": sums["loss"],
            "clip_fraction": sums["clipped"] / max(1.0, sums["tokens"]),
            **overlong,
        }
        if c.kl_coef:
            metrics["kl"] = sums["kl"] / max(1.0, sums["tokens"])
        metrics["grad_norm"] = self.clip_gradients()
        self.optimizer.step()
        return metrics
