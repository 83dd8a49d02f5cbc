"""The trainer's settings, documented field by field.

Every field's ``help`` is also its command-line help: ``atropos-envs train grpo|ppo`` takes
one option per field (``--learning-rate``, ``--device``, ...), derived from these dataclasses
(``trainers.cli``), and a YAML file given with ``--config`` may set any of them.
"""

from __future__ import annotations

import copy
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from typing import Any, NamedTuple, get_type_hints

from trainers.metrics import check_reporters

UNIFORM_GROUPS = ("keep", "drop", "refill")
LR_SCHEDULES = ("constant", "constant_with_warmup", "linear", "cosine")
AGGREGATIONS = ("sequence_mean", "token_mean", "constant_length")
DEVICES = ("auto", "cpu", "cuda")
DTYPES = ("auto", "float32", "bfloat16")
VARIANTS = ("grpo", "dr_grpo")
OVERLONG = ("keep", "mask", "soft")  # replies that hit the token limit: see advantages.overlong_adjust


def setting(default: Any, help: str, *, cli: bool = True, flag: str = "") -> Any:  # noqa: A002
    """A dataclass field with its documentation: ``help`` is also its command-line help, ``cli``
    whether it is a command-line option at all, ``flag`` a shorter option name (``n`` for ``--n``)."""
    metadata = {"help": help, "cli": cli, "flag": flag}
    if isinstance(default, (list, dict)) or is_dataclass(default):
        return field(default_factory=lambda: copy.deepcopy(default), metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass
class TrainConfig:
    # what to train on
    env_id: str = setting("atropos_envs/Format-v0", "the env (set by --env)", cli=False)
    env_kwargs: dict[str, Any] = setting({}, "the env's settings (set by --env-arg)", cli=False)
    steps: int = setting(30, "updates, one batch each")
    tasks_per_step: int = setting(4, "tasks (groups) in a batch")
    group_size: int = setting(8, "episodes per task")
    max_tokens: int = setting(64, "token budget of each reply")
    temperature: float = setting(1.0, "sampling temperature")
    assistant_prefix: str = setting("", "force the first reply to start with this text, e.g. '<think>'")
    # thinking budget and overlong replies (trainers/think.py, advantages.overlong_adjust)
    think_budget: int = setting(
        0, "tokens of reasoning before </think> is forced and the answer generated after it; 0: no budget"
    )
    answer_budget: int = setting(0, "token budget of the answer after </think> (think_budget); 0: max_tokens")
    overlong: str = setting(
        "keep",
        "replies that hit the token limit: keep (trained as any), mask (no gradient), or soft "
        "(DAPO's penalty, growing linearly over the last overlong_buffer tokens of the limit)",
    )
    overlong_buffer: int = setting(
        16, "the last L tokens of the reply limit over which the soft penalty grows"
    )
    overlong_penalty: float = setting(1.0, "the soft penalty at the limit (subtracted from the reward)")
    # the optimizer
    learning_rate: float = setting(2e-4, "AdamW learning rate")
    max_grad_norm: float = setting(1.0, "gradient clipping (global L2 norm)")
    lr_schedule: str = setting("constant", f"learning-rate schedule per update: {', '.join(LR_SCHEDULES)}")
    warmup_steps: int = setting(0, "warm-up updates of the schedule")
    lora_rank: int = setting(16, "LoRA rank; 0 trains every weight")
    lora_alpha: int = setting(32, "LoRA alpha (scale = alpha / rank)")
    # the loss
    clip_low: float = setting(0.2, "lower clip of the importance ratio (1 - clip_low)")
    clip_high: float = setting(
        0.2, "upper clip of the ratio (1 + clip_high); DAPO's clip-higher uses e.g. 0.28"
    )
    aggregation: str = setting("sequence_mean", f"loss over tokens: {', '.join(AGGREGATIONS)}")
    kl_coef: float = setting(0.0, "weight of the k3 KL to the starting policy; 0: no reference model")
    micro_batch: int = setting(8, "sequences per forward/backward pass (gradient accumulation)")
    uniform_groups: str = setting("drop", f"groups whose rewards are all equal: {', '.join(UNIFORM_GROUPS)}")
    # where and how the policy computes
    device: str = setting(
        "auto", "auto (CUDA when PyTorch sees a GPU), cpu or cuda: policy, value head, KL reference"
    )
    dtype: str = setting(
        "auto",
        "auto, float32 or bfloat16 (mixed precision: fp32 master weights and optimizer "
        "state, bf16 matrix products); auto: bf16 on GPUs and CPUs with native bf16; also the "
        "dtype of the vLLM server that train starts",
    )
    gradient_checkpointing: bool = setting(
        False, "recompute activations in the backward pass (less memory, ~30% slower)"
    )
    logprob_chunk: int = setting(
        1024, "completion tokens whose vocabulary logits exist at once; 0: the model's full logits"
    )
    # rollouts, weights, runs
    max_staleness: int = setting(
        0, "weight versions a batch may lag: 1 samples the next batch while this one trains"
    )
    weight_sync: str = setting(
        "auto", "how weights reach the servers: auto, lora, reload, restart or nccl (GPU; see README)"
    )
    server_timeout_s: float = setting(
        300.0, "seconds a dead server is waited for (retrying) before the run stops"
    )
    checkpoint_every: int = setting(1, "updates between checkpoints")
    rollouts_per_step: int = setting(
        16,
        "episodes of a step written to rollouts.jsonl in the run folder (conversation, reward, "
        "components, outcome, step, policy version; whole groups first) for atropos-envs view; 0: none",
    )
    rollouts_every: int = setting(1, "write the rollouts of every N-th step only (bounds rollouts.jsonl)")
    report_to: list[str] = setting(["tensorboard"], "metrics sinks besides metrics.jsonl: tensorboard, wandb")
    seed: int = setting(0, "seed of sampling, data order and initialisation")
    process_group_timeout_s: float = setting(
        1800.0,
        "with several processes: seconds a collective may wait before the run fails instead of hanging",
    )

    def validate(self) -> None:
        for name, allowed in (
            ("uniform_groups", UNIFORM_GROUPS),
            ("lr_schedule", LR_SCHEDULES),
            ("aggregation", AGGREGATIONS),
            ("device", DEVICES),
            ("dtype", DTYPES),
            ("overlong", OVERLONG),
        ):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, not {getattr(self, name)!r}")
        for name in (
            "steps",
            "tasks_per_step",
            "group_size",
            "max_tokens",
            "micro_batch",
            "checkpoint_every",
            "rollouts_every",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        for name in (
            "max_staleness",
            "lora_rank",
            "logprob_chunk",
            "rollouts_per_step",
            "think_budget",
            "answer_budget",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        self._validate_overlong()
        check_reporters(self.report_to)

    def reply_limit(self) -> int:
        """The most tokens a reply may have: max_tokens, or reasoning + answer under a thinking budget."""
        if self.think_budget:
            return self.think_budget + (self.answer_budget or self.max_tokens)
        return self.max_tokens

    def _validate_overlong(self) -> None:
        if self.answer_budget and not self.think_budget:
            raise ValueError("answer_budget needs think_budget (it is the answer's budget after </think>)")
        if self.overlong == "soft" and not 1 <= self.overlong_buffer <= self.reply_limit():
            raise ValueError(
                f"overlong_buffer must be in [1, {self.reply_limit()}] with overlong: soft, "
                f"got {self.overlong_buffer}"
            )
        if not self.overlong_penalty >= 0:
            raise ValueError(f"overlong_penalty must be >= 0, got {self.overlong_penalty}")


@dataclass
class GRPOConfig(TrainConfig):
    variant: str = setting("grpo", "advantages: grpo ((r - mean) / std per group) or dr_grpo (r - mean)")

    def validate(self) -> None:
        super().validate()
        if self.variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, not {self.variant!r}")


@dataclass
class PPOConfig(TrainConfig):
    uniform_groups: str = setting("keep", f"groups whose rewards are all equal: {', '.join(UNIFORM_GROUPS)}")
    ppo_epochs: int = setting(2, "passes over the batch per update, one optimizer step per minibatch")
    gamma: float = setting(1.0, "discount per generated token")
    lam: float = setting(0.95, "GAE lambda")
    value_coef: float = setting(0.5, "weight of the value loss")
    value_clip: float = setting(0.2, "clip of the value change against the step's starting values")
    value_learning_rate: float = setting(1e-3, "learning rate of the value head")
    whiten_advantages: bool = setting(True, "normalise advantages over the batch's generated tokens")


class Option(NamedTuple):
    name: str  # the dataclass field
    kind: Any  # its type
    default: Any
    help: str
    flag: str  # the command-line option, e.g. --learning-rate


def options(config_class: type) -> list[Option]:
    """Every command-line field of a config dataclass, with its type, default, help and flag."""
    hints = get_type_hints(config_class)
    out = []
    for f in fields(config_class):
        if not f.metadata.get("cli", True):
            continue
        default = f.default if f.default is not MISSING else f.default_factory()
        flag = "--" + (f.metadata.get("flag") or f.name).replace("_", "-")
        out.append(Option(f.name, hints[f.name], default, f.metadata.get("help", ""), flag))
    return out
