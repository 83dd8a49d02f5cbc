"""What the GRPO and PPO trainers share, readable top to bottom.

- The policy: a Hugging Face causal LM, trained through a LoRA adapter (peft) or in full.
- Rollouts: a background thread collects the batch of each step: ``tasks_per_step`` tasks
  from the data position on, ``group_size`` episodes each, through the env and the vLLM
  servers. It may run ahead of training by at most ``max_staleness`` weight versions
  (0: generate, then train; 1: the next batch is sampled while this one trains), and every
  sample records the version that sampled it. Groups whose rewards are all equal are kept,
  dropped, or dropped and refilled from the next tasks (``uniform_groups``).
- Weights reach the servers after every update (``trainers.weight_sync``).
- Checkpoints (weights, optimizer, RNG, step, data position, algorithm state) are written
  to a staging folder and renamed; a re-run with the same arguments resumes from the last.
- Metrics per step go to ``metrics.jsonl`` (+ TensorBoard, W&B); ``curves.png`` at the end.

Subclasses implement ``update(batch) -> metrics`` (and, for extra trained state such as a
value head, ``trainable_parameters`` / ``extra_state`` / ``load_extra_state``).
"""

from __future__ import annotations

import asyncio
import copy
import queue
import random
import shutil
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import torch

from trainers.batch import TokenMismatch, TokenSample, token_sample
from trainers.client import RequestRejected, RolloutClient, SamplingParams, ServerUnavailable
from trainers.config import TrainConfig
from trainers.logprobs import completion_logprobs, pack
from trainers.metrics import MetricsLog, plot_metrics
from trainers.precision import Precision
from trainers.rollout import run_episode
from trainers.weight_sync import make_weight_sync

LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@dataclass
class Batch:
    version: int  # the policy version that sampled it (updates done when sampling began)
    next_position: int  # data position after its tasks
    samples: list[TokenSample]
    trained: list[bool]  # False for samples of dropped uniform groups
    groups_dropped: int
    samples_lost: int
    generation_s: float


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

        adapter = LoraConfig(r=config.lora_rank, lora_alpha=config.lora_alpha, target_modules=LORA_TARGETS,
                             lora_dropout=0.0)  # fmt: skip
        model = get_peft_model(model, adapter, autocast_adapter_dtype=True)  # adapter weights in float32
    return model.to(precision.device)


def end_of_turn_id(model) -> int | None:
    """The EOS token the chat template closes a turn with (first of several)."""
    eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None) or model.config.eos_token_id
    return eos[0] if isinstance(eos, list) else eos


class Trainer:
    algorithm = "base"

    def __init__(self, config: TrainConfig, env, model_path: Path, server_urls: list[str], out_dir: Path, servers=()):
        config.validate()
        self.config, self.env, self.model_path, self.out_dir = config, env, Path(model_path), Path(out_dir)
        self.urls = [u.rstrip("/") for u in server_urls]
        self.out_dir.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(config.seed)
        self.precision = Precision.resolve(config.device, config.dtype)
        self.policy = load_policy(model_path, config, self.precision)
        for module in self.extra_modules():
            module.to(self.precision.device)
        self.end_of_turn = end_of_turn_id(self.policy)
        self.reference = None  # frozen starting policy for the KL term (LoRA: the base, adapter off)
        if config.kl_coef and not config.lora_rank:
            self.reference = copy.deepcopy(self.policy).to(self.precision.dtype).eval().requires_grad_(False)
        self.optimizer = torch.optim.AdamW(self.trainable_parameters(), lr=config.learning_rate)
        from transformers import get_scheduler

        self.scheduler = get_scheduler(config.lr_schedule, self.optimizer, num_warmup_steps=config.warmup_steps,
                                       num_training_steps=config.steps)  # fmt: skip
        self.step, self.data_position = 0, 0
        self.sync = None  # no servers: ``update`` on given batches only (tests, offline use)
        if self.urls:
            self.sync = make_weight_sync(config.weight_sync, bool(config.lora_rank), self.urls, list(servers),
                                         self.out_dir / "weights", keep=config.max_staleness + 1)  # fmt: skip
        self._resume()
        self.metrics = MetricsLog(self.out_dir, config.report_to, asdict(config), self.step)

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
    def _resume(self) -> None:
        checkpoint, previous = self.out_dir / "checkpoint", self.out_dir / "checkpoint.old"
        if not checkpoint.exists() and (previous / "state.pt").is_file():
            previous.rename(checkpoint)  # killed between the two renames of _checkpoint
        if not (checkpoint / "state.pt").is_file():
            return
        from safetensors.torch import load_file

        state = torch.load(checkpoint / "state.pt", weights_only=False)
        if state["config"] != asdict(self.config) or state.get("algorithm") != self.algorithm:
            raise ValueError(f"{self.out_dir} holds a run with other settings; use another --out or the same arguments")
        if self.config.lora_rank:
            from peft import set_peft_model_state_dict

            set_peft_model_state_dict(self.policy, load_file(checkpoint / "weights" / "adapter_model.safetensors"))
        else:
            result = self.policy.load_state_dict(load_file(checkpoint / "weights" / "model.safetensors"), strict=False)
            if result.unexpected_keys or any("lm_head" not in key for key in result.missing_keys):  # tied lm_head only
                raise ValueError(f"{checkpoint} does not hold this model's weights")
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.load_extra_state(state["extra"])
        torch.set_rng_state(state["torch_rng"])
        if state.get("cuda_rng") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        random.setstate(state["python_rng"])
        self.step, self.data_position = state["step"], state["data_position"]
        if self.sync is not None:
            self._retrying(self.sync.publish, self.policy, self.step, self.model_path)

    def _checkpoint(self) -> None:
        staging = self.out_dir / "checkpoint.tmp"
        shutil.rmtree(staging, ignore_errors=True)
        self.policy.save_pretrained(staging / "weights")
        torch.save({"step": self.step, "data_position": self.data_position, "optimizer": self.optimizer.state_dict(),
                    "scheduler": self.scheduler.state_dict(), "torch_rng": torch.get_rng_state(),
                    "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
                    "python_rng": random.getstate(), "config": asdict(self.config), "algorithm": self.algorithm,
                    "extra": self.extra_state()}, staging / "state.pt")  # fmt: skip
        final, old = self.out_dir / "checkpoint", self.out_dir / "checkpoint.old"
        shutil.rmtree(old, ignore_errors=True)
        if final.exists():
            final.rename(old)
        staging.rename(final)  # a checkpoint folder that exists is complete
        shutil.rmtree(old, ignore_errors=True)

    # ---- rollouts -------------------------------------------------------------------------
    def _task_ids(self, count: int, position: int) -> list[str]:
        """``count`` task ids from ``position``; finite task files are cycled (epochs)."""
        ids = self.env.task_ids(count, position)
        if len(ids) < count:
            every = self.env.task_ids(None)
            if not every:
                raise ValueError("the env has no tasks to train on")
            ids = [every[(position + i) % len(every)] for i in range(count)]
        return ids

    async def _collect(self, version: int, served: str, position: int) -> Batch:
        c = self.config
        started, first = time.monotonic(), position
        sampling = SamplingParams(max_tokens=c.max_tokens, temperature=c.temperature)
        samples: list[TokenSample] = []
        trained: list[bool] = []
        dropped = lost = groups_kept = 0
        async with RolloutClient(self.urls, model=served, give_up_after_s=c.server_timeout_s) as client:
            while groups_kept < c.tasks_per_step:
                want = c.tasks_per_step - groups_kept
                task_ids = self._task_ids(want, position)
                episodes = [run_episode(self.env, task_id, i, client, sampling, c.seed + position + n, c.assistant_prefix)
                            for n, task_id in enumerate(task_ids) for i in range(c.group_size)]  # fmt: skip
                rollouts = await asyncio.gather(*episodes)
                for n in range(len(task_ids)):
                    group = []
                    for rollout in rollouts[n * c.group_size : (n + 1) * c.group_size]:
                        try:
                            group.append(token_sample(rollout, str(position + n), version, self.end_of_turn))
                        except TokenMismatch:
                            lost += 1
                    uniform = len({s.reward for s in group}) <= 1
                    keep = not uniform or c.uniform_groups == "keep"
                    dropped += int(uniform and not keep)
                    groups_kept += int(keep or c.uniform_groups != "refill")
                    samples += group
                    trained += [keep] * len(group)
                position += len(task_ids)
                if c.uniform_groups != "refill" or position - first >= 4 * c.tasks_per_step:
                    break  # refill gives up after 4 batches' worth of tasks
        return Batch(version, position, samples, trained, dropped, lost, time.monotonic() - started)

    def _collect_repairing(self, version: int, served: str, position: int, attempts: int = 3) -> Batch:
        """A restarted server has lost the pushed weights (its adapter is unknown, or it serves
        the base weights again): push them again and sample the batch again, same seeds."""
        for attempt in range(1, attempts + 1):
            self._retrying(self.sync.ensure)
            try:
                return asyncio.run(self._collect(version, served, position))
            except RequestRejected:
                if attempt == attempts:
                    raise

    def _retrying(self, call, *args):
        """Weight pushes wait for a server that is restarting, up to server_timeout_s."""
        deadline = time.monotonic() + self.config.server_timeout_s
        while True:
            try:
                return call(*args)
            except httpx.TransportError as exc:
                if time.monotonic() > deadline:
                    raise ServerUnavailable(f"no vLLM server answered for {self.config.server_timeout_s:.0f} s while "
                                            f"pushing weights ({', '.join(self.urls)}): {type(exc).__name__}") from None  # fmt: skip
                time.sleep(2.0)

    def _producer(self, batches: queue.Queue, stop: threading.Event) -> None:
        """Background thread: batches in step order, at most max_staleness versions ahead."""
        step, position = self.step, self.data_position
        try:
            while step < self.config.steps and not stop.is_set():
                with self._version_changed:
                    while step - self.step > self.config.max_staleness and not stop.is_set():
                        self._version_changed.wait(0.5)
                    version, served = self.step, self.sync.served
                if stop.is_set():
                    return
                batch = self._collect_repairing(version, served, position)
                position = batch.next_position
                batches.put(batch)
                step += 1
        except BaseException as exc:  # handed to the training thread, which re-raises it
            batches.put(exc)

    # ---- the loop -------------------------------------------------------------------------
    def train(self, on_step=None) -> list[dict[str, Any]]:
        if self.sync is None:
            raise ValueError("training needs at least one vLLM server URL")
        history: list[dict[str, Any]] = []
        batches: queue.Queue = queue.Queue()
        stop = threading.Event()
        self._version_changed = threading.Condition()
        producer = threading.Thread(target=self._producer, args=(batches, stop), daemon=True, name="rollouts")
        producer.start()
        try:
            while self.step < self.config.steps:
                waited = time.monotonic()
                batch = batches.get()
                if isinstance(batch, BaseException):
                    raise batch
                history.append(self._train_on(batch, time.monotonic() - waited))
                if on_step:
                    on_step(history[-1])
        finally:
            stop.set()
            producer.join(timeout=5)
            self.metrics.close()
        plot_metrics(self.out_dir / "metrics.jsonl", self.out_dir / "curves.png")
        return history

    def _train_on(self, batch: Batch, waited_s: float) -> dict[str, Any]:
        c = self.config
        started = time.monotonic()
        rewards = [s.reward for s in batch.samples]
        metrics: dict[str, Any] = {
            "step": self.step + 1, "mean_reward": sum(rewards) / max(1, len(rewards)), "samples": len(batch.samples),
            "samples_trained": sum(batch.trained), "samples_lost": batch.samples_lost, "groups_dropped": batch.groups_dropped,
            "mean_completion_tokens": sum(s.generated_tokens for s in batch.samples) / max(1, len(batch.samples)),
            "staleness": self.step - batch.version, "data_position": batch.next_position,
            "generation_s": round(batch.generation_s, 2), "wait_s": round(waited_s, 2),
        }  # fmt: skip
        for sample in batch.samples:  # episode outcomes: ok, invalid, timeout, truncated, error
            metrics[f"outcome_{sample.outcome}"] = metrics.get(f"outcome_{sample.outcome}", 0) + 1
        if any(batch.trained):
            self.policy.train()
            metrics.update(self.update(batch))
        metrics["learning_rate"] = self.scheduler.get_last_lr()[0]
        self.scheduler.step()  # once per update, whatever the number of optimizer steps in it
        trained = time.monotonic()
        with self._version_changed:
            metrics["sync_s"] = round(self._retrying(self.sync.publish, self.policy, self.step + 1, self.model_path), 3)
            self.step, self.data_position = self.step + 1, batch.next_position
            self._version_changed.notify_all()
        metrics["train_s"] = round(trained - started, 2)
        self.metrics.write(metrics)  # before the checkpoint: a resume trims it back
        if self.step % c.checkpoint_every == 0 or self.step == c.steps:
            self._checkpoint()
        return metrics

    # ---- what both losses need ------------------------------------------------------------
    def forward(self, samples: list[TokenSample], model=None, hidden: bool = False):
        """Per completion token, on the device: the model's logprobs [B, W] (float32), the
        sampling logprobs, the generated-token mask and (``hidden``) the last hidden state that
        predicted it [B, W, H]. The micro-batch moves to the device once."""
        packed = pack(samples, self.precision.device)
        with self.precision.autocast():
            new, states = completion_logprobs(model or self.policy, packed, chunk_tokens=self.config.logprob_chunk,
                                              hidden=hidden)  # fmt: skip
        return new, packed.sampling_logprobs, packed.mask, states

    def reference_logprobs(self, samples: list[TokenSample]) -> torch.Tensor | None:
        """Logprobs under the starting policy (for the KL term), or None without one."""
        if not self.config.kl_coef:
            return None
        with torch.no_grad():
            if self.reference is not None:
                return self.forward(samples, self.reference)[0]
            with self.policy.disable_adapter():
                return self.forward(samples)[0]

    def clip_gradients(self) -> float:
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        return float(torch.nn.utils.clip_grad_norm_(params, self.config.max_grad_norm))
