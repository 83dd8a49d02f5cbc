"""What the GRPO and PPO trainers share; one training step reads top to bottom in ``_train_on``.

- The policy: a Hugging Face causal LM, trained through a LoRA adapter (peft) or in full, on
  ``device`` in ``dtype`` (``trainers.precision``), its log-probs computed in chunks
  (``trainers.logprobs``).
- Rollouts: a background thread collects each step's batch from the vLLM servers
  (``trainers.collect``), at most ``max_staleness`` weight versions ahead of training.
- Weights reach the servers after every update (``trainers.weight_sync``).
- Checkpoints (``trainers.checkpoint``): a re-run with the same arguments resumes from the last.
- Metrics per step go to ``metrics.jsonl`` (+ TensorBoard, W&B); ``curves.png`` at the end.

Subclasses implement ``update(batch) -> metrics`` (and, for extra trained state such as a
value head, ``extra_modules`` / ``trainable_parameters`` / ``extra_state`` / ``load_extra_state``).
The server side (``trainers.collect``, ``trainers.weight_sync``) is imported only when there
are servers, so updates on given batches run where only torch, transformers and peft are
installed (``benchmarks/gpu_check.py``).
"""

from __future__ import annotations

import contextlib
import copy
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from trainers.batch import Batch, TokenSample
from trainers.checkpoint import (
    begin_checkpoint,
    load_checkpoint,
    load_optimizer_shard,
    save_checkpoint,
    save_optimizer_shard,
)
from trainers.config import TrainConfig
from trainers.distributed import Processes
from trainers.logprobs import completion_logprobs, pack
from trainers.machine import provenance
from trainers.metrics import MetricsLog, plot_metrics
from trainers.precision import Precision
from trainers.rollout_log import RolloutLog

__all__ = ["Batch", "TrainConfig", "Trainer", "load_policy"]

LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def load_policy(model_path: Path, config: TrainConfig, precision: Precision):
    """The policy on its device. Full training keeps float32 (master) weights; a LoRA base is
    frozen, so under mixed precision it is stored in bf16 while the adapter stays float32."""
    from transformers import AutoModelForCausalLM

    lora = bool(config.lora_rank)
    stored = precision.dtype if lora else torch.float32
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=stored)
    if config.gradient_checkpointing:
        model.config.use_cache = False
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if lora:
        from peft import LoraConfig, get_peft_model

        adapter = LoraConfig(
            r=config.lora_rank, lora_alpha=config.lora_alpha, target_modules=LORA_TARGETS, lora_dropout=0.0
        )
        model = get_peft_model(model, adapter, autocast_adapter_dtype=True)  # adapter weights in float32
    return model.to(precision.device)


def end_of_turn_id(model) -> int | None:
    """The EOS token the chat template closes a turn with (first of several)."""
    eos = (
        getattr(getattr(model, "generation_config", None), "eos_token_id", None) or model.config.eos_token_id
    )
    return eos[0] if isinstance(eos, list) else eos


class Trainer:
    algorithm = "base"

    def __init__(
        self, config: TrainConfig, env, model_path: Path, server_urls: list[str], out_dir: Path, servers=()
    ):
        config.validate()
        self.config, self.env, self.model_path, self.out_dir = config, env, Path(model_path), Path(out_dir)
        self.urls = [u.rstrip("/") for u in server_urls]
        self.out_dir.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(config.seed)
        self.processes = Processes(config.process_group_timeout_s)  # one, or several through accelerate
        self.precision = Precision.resolve(config.device, config.dtype)
        self.policy = load_policy(model_path, config, self.precision)
        for module in self.extra_modules():
            module.to(self.precision.device)
        self.end_of_turn = end_of_turn_id(self.policy)
        self.reference = None  # frozen starting policy for the KL term (LoRA: the base, adapter off)
        if config.kl_coef and not config.lora_rank:
            self.reference = copy.deepcopy(self.policy).to(self.precision.dtype).eval().requires_grad_(False)
        resumed = self._load_weights()  # into the whole model, before FSDP / DeepSpeed shard it
        optimizer = torch.optim.AdamW(self.trainable_parameters(), lr=config.learning_rate)
        self.model, self.optimizer = self.processes.prepare(self.policy, optimizer)  # DDP / FSDP2 / DeepSpeed
        from transformers import get_scheduler

        self.scheduler = get_scheduler(
            config.lr_schedule,
            self.optimizer,
            num_warmup_steps=config.warmup_steps,
            num_training_steps=config.steps,
        )
        self.step, self.data_position = 0, 0
        self.sync = None  # no servers: ``update`` on given batches only (tests, offline use)
        if self.urls and self.processes.main:  # the coordinator alone talks to the servers
            from trainers.weight_sync import make_weight_sync

            self.sync = make_weight_sync(
                config.weight_sync,
                bool(config.lora_rank),
                self.urls,
                list(servers),
                self.out_dir / "weights",
                keep=config.max_staleness + 1,
                device=self.precision.device.type,  # auto: NCCL from a GPU, files from a CPU
                dtype=self.precision.dtype,
            )
        self._resume(resumed)
        self.metrics = MetricsLog(
            self.out_dir,
            config.report_to if self.processes.main else [],
            asdict(config),
            self.step,
            provenance=provenance(self.urls) if self.processes.main else None,
            enabled=self.processes.main,
        )
        self.rollout_log = RolloutLog(self.out_dir, self.step, enabled=self.processes.main)  # rollouts.jsonl

    # ---- hooks for the algorithms ---------------------------------------------------------
    def extra_modules(self) -> list[torch.nn.Module]:
        """Trained modules besides the policy (PPO's value head): placed on the device."""
        return []

    def trainable_parameters(self) -> list[dict[str, Any]]:
        return [{"params": [p for p in self.policy.parameters() if p.requires_grad]}]

    def extra_state(self) -> dict[str, Any]:
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        pass

    def update(self, batch: Batch) -> dict[str, Any]:
        raise NotImplementedError

    # ---- checkpoints ----------------------------------------------------------------------
    def _load_weights(self) -> dict[str, Any] | None:
        """The last checkpoint's weights loaded into the policy and its RNG restored (every
        rank); the rest of its state, or None when the run starts afresh."""
        return load_checkpoint(
            self.out_dir,
            policy=self.policy,
            config=self.config,
            algorithm=self.algorithm,
            lora=bool(self.config.lora_rank),
        )

    def _resume(self, state: dict[str, Any] | None) -> None:
        if state is None:
            return
        if self.processes.sharded:  # each rank's own share of the optimizer state
            self.optimizer.load_state_dict(load_optimizer_shard(self.out_dir, self.processes.rank))
        else:
            self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.load_extra_state(state["extra"])
        self.step, self.data_position = state["step"], state["data_position"]
        weights = self.processes.full_weights(self.model)  # every rank joins a sharded gather
        if self.sync is not None:
            from trainers.collect import retrying

            retrying(
                lambda: self.sync.publish(
                    self.processes.unwrap(self.model), self.step, self.model_path, weights=weights
                ),
                timeout_s=self.config.server_timeout_s,
                urls=self.urls,
            )

    def _checkpoint(self, weights: Any = "gather") -> None:
        """Every rank takes part: each saves its optimizer shard when the model is sharded;
        rank 0 writes the rest. ``weights``: what ``Processes.full_weights`` gave every rank
        this step (the gathered weights on rank 0 when sharded), or "gather" to gather here."""
        if isinstance(weights, str):
            weights = self.processes.full_weights(self.model)
        sharded = self.processes.sharded
        if sharded:
            if self.processes.main:
                begin_checkpoint(self.out_dir)
            self.processes.barrier()
            save_optimizer_shard(self.out_dir, self.processes.rank, self.optimizer.state_dict())
            self.processes.barrier()
        if not self.processes.main:
            return
        save_checkpoint(
            self.out_dir,
            policy=self.processes.unwrap(self.model),
            weights=weights,
            fresh=not sharded,
            state={
                "step": self.step,
                "data_position": self.data_position,
                "optimizer": None if sharded else self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "config": asdict(self.config),
                "algorithm": self.algorithm,
                "extra": self.extra_state(),
            },
        )

    # ---- the loop -------------------------------------------------------------------------
    def train(self, on_step=None) -> list[dict[str, Any]]:
        """Rank 0 collects each batch and hands it to every rank (``None``: it failed, all stop)."""
        if self.sync is None and self.processes.main:
            raise ValueError("training needs at least one vLLM server URL")
        from trainers.collect import Rollouts

        history: list[dict[str, Any]] = []
        rollouts = None
        if self.processes.main:
            rollouts = Rollouts(
                env=self.env,
                urls=self.urls,
                config=self.config,
                sync=self.sync,
                end_of_turn=self.end_of_turn,
                step=self.step,
                position=self.data_position,
            )
        try:
            with rollouts or contextlib.nullcontext():
                while self.step < self.config.steps:
                    waited, batch = time.monotonic(), None
                    try:
                        batch = rollouts.next() if rollouts else None
                    finally:
                        batch = self.processes.broadcast(batch)
                    if batch is None:
                        raise RuntimeError("the coordinator (rank 0) stopped; its log says why")
                    history.append(self._train_on(batch, time.monotonic() - waited, rollouts))
                    if on_step and self.processes.main:
                        on_step(history[-1])
        finally:
            self.metrics.close()
        if self.processes.main:
            plot_metrics(self.out_dir / "metrics.jsonl", self.out_dir / "curves.png")
        return history

    def _train_on(self, batch: Batch, waited_s: float, rollouts) -> dict[str, Any]:
        """One step: what the batch holds, the update, the weights pushed, metrics, checkpoint."""
        c = self.config
        started = time.monotonic()
        metrics = batch_metrics(batch, step=self.step + 1, waited_s=waited_s)
        if any(batch.trained):
            self.policy.train()
            metrics.update(self.update(batch))
        metrics["learning_rate"] = self.scheduler.get_last_lr()[0]
        self.scheduler.step()  # once per update, whatever the number of optimizer steps in it
        trained = time.monotonic()
        weights = self.processes.full_weights(self.model)  # gathered (FSDP2 / ZeRO-3) on every rank
        if rollouts is not None:  # the coordinator alone pushes the weights
            policy, version = self.processes.unwrap(self.model), self.step + 1
            publish = lambda: self.sync.publish(policy, version, self.model_path, weights=weights)  # noqa: E731
            metrics["sync_s"] = round(rollouts.advance(publish), 3)
        self.step, self.data_position = self.step + 1, batch.next_position
        metrics["train_s"] = round(trained - started, 2)
        if self.step % c.rollouts_every == 0:  # before the metrics: a resume trims both back
            self.rollout_log.write(self.step, batch.records)
        self.metrics.write(metrics)  # before the checkpoint: a resume trims it back
        if self.step % c.checkpoint_every == 0 or self.step == c.steps:
            self._checkpoint(weights)
        return metrics

    # ---- what both losses need ------------------------------------------------------------
    def forward(self, samples: list[TokenSample], model=None, hidden: bool = False):
        """Per completion token, on the device: the model's logprobs [B, W] (float32), the
        sampling logprobs, the generated-token mask and (``hidden``) the last hidden state that
        predicted it [B, W, H]. The micro-batch moves to the device once."""
        packed = pack(samples, self.precision.device)
        with self.precision.autocast():
            new, states = completion_logprobs(
                model or self.model,
                packed,
                chunk_tokens=self.processes.logprob_chunk(self.config.logprob_chunk),  # 0 under ZeRO-3
                hidden=hidden,
            )
        return new, packed.sampling_logprobs, packed.mask, states

    def reference_logprobs(self, samples: list[TokenSample]) -> torch.Tensor | None:
        """Logprobs under the starting policy (for the KL term), or None without one."""
        if not self.config.kl_coef:
            return None
        with torch.no_grad():
            if self.reference is not None:
                return self.forward(samples, self.reference)[0]
            with self.policy.disable_adapter():
                return self.forward(samples, self.policy)[0]

    def clip_gradients(self) -> float:
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        return self.processes.clip_grad_norm(params, self.config.max_grad_norm)


def batch_metrics(batch: Batch, *, step: int, waited_s: float) -> dict[str, Any]:
    """What a batch holds: rewards, lengths, dropped groups, staleness, episode outcomes."""
    rewards = [s.reward for s in batch.samples]
    metrics: dict[str, Any] = {
        "step": step,
        "mean_reward": sum(rewards) / max(1, len(rewards)),
        "samples": len(batch.samples),
        "samples_trained": sum(batch.trained),
        "samples_lost": batch.samples_lost,
        "groups_dropped": batch.groups_dropped,
        "mean_completion_tokens": sum(s.generated_tokens for s in batch.samples) / max(1, len(batch.samples)),
        "staleness": step - 1 - batch.version,
        "data_position": batch.next_position,
        "generation_s": round(batch.generation_s, 2),
        "wait_s": round(waited_s, 2),
    }
    for sample in batch.samples:  # ok, invalid, timeout, truncated, error
        metrics[f"outcome_{sample.outcome}"] = metrics.get(f"outcome_{sample.outcome}", 0) + 1
    return metrics
