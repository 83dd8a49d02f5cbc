"""InstructionFollowing-v0: answer a request while obeying verifiable constraints.

Constraints use IFEval's instruction ids and keyword arguments, so IFEval-style task
files (``key``, ``prompt``, ``instruction_id_list``, ``kwargs``) load as they are, and
generated tasks compose 1-k constraints (IFEval's and new ones: every n-th word in
another script, word/character positions, nested lists, nested JSON) onto base prompts.

Reward in [0, 1]: by default the fraction of constraints followed (strict); the strict
all-followed flag and IFEval's loose variants are reported beside it and selectable
with ``reward=``. Per-constraint verdicts are the ``strict:<id>`` components.
"""

from __future__ import annotations

import inspect
import random
from dataclasses import dataclass
from typing import Any

from atropos_envs.bounded import BoundedTimeout, shared_pool
from atropos_envs.core import Score, TextEnv, Trajectory
from atropos_envs.envs.if_constraints import BASE_PROMPTS, generate_constraints
from rewards.instruction_following import CHECKS, IFEVAL_IDS, check_all

REWARDS = ("strict_fraction", "strict_all", "loose_fraction", "loose_all")


@dataclass
class InstructionFollowingConfig:
    min_constraints: int = 1
    max_constraints: int = 3
    include_new: bool = True  # also draw the atropos: constraints
    reward: str = "strict_fraction"
    score_timeout_s: float = 10.0

    def validate(self) -> None:
        if self.reward not in REWARDS:
            raise ValueError(f"reward must be one of {REWARDS}")
        if not 1 <= self.min_constraints <= self.max_constraints <= 6:
            raise ValueError("need 1 <= min_constraints <= max_constraints <= 6")


def _validated_kwargs(instruction_id: str, kwargs: Any) -> dict[str, Any]:
    if instruction_id not in CHECKS:
        raise ValueError(f"unknown instruction id {instruction_id!r}")
    kwargs = {k: v for k, v in (kwargs or {}).items() if v is not None}  # HF IFEval rows carry every key, mostly null
    try:
        inspect.signature(CHECKS[instruction_id]).bind("", **kwargs)
    except TypeError as exc:
        raise ValueError(f"{instruction_id}: {exc}") from None
    return kwargs


class InstructionFollowingEnv(TextEnv):
    task_schema = {
        "prompt": "the request, with its instructions written in",
        "instruction_id_list": "IFEval instruction ids (or atropos: ids)",
        "kwargs": "one dict of keyword arguments per instruction",
    }

    Config = InstructionFollowingConfig
    config: InstructionFollowingConfig

    def generate_task(self, rng: random.Random) -> dict[str, Any]:
        base = rng.choice(BASE_PROMPTS)
        allowed = list(CHECKS) if self.config.include_new else list(IFEVAL_IDS)
        k = rng.randint(self.config.min_constraints, self.config.max_constraints)
        constraints = generate_constraints(rng, base, k, allowed)
        return {
            "prompt": " ".join([base, *(sentence for _, _, sentence in constraints)]),
            "instruction_id_list": [iid for iid, _, _ in constraints],
            "kwargs": [kwargs for _, kwargs, _ in constraints],
        }

    def task_from_record(self, record: dict[str, Any]) -> dict[str, Any]:
        ids, kwargs = record.get("instruction_id_list"), record.get("kwargs")
        if not isinstance(record.get("prompt"), str) or not isinstance(ids, list) or not ids:
            raise ValueError("needs 'prompt' (str) and a non-empty 'instruction_id_list'")
        if not isinstance(kwargs, list) or len(kwargs) != len(ids):
            raise ValueError("'kwargs' must be a list with one dict per instruction id")
        return {"prompt": record["prompt"], "instruction_id_list": ids,
                "kwargs": [_validated_kwargs(i, k) for i, k in zip(ids, kwargs)]}  # fmt: skip

    def prompt(self, task: dict[str, Any]) -> list[dict[str, str]]:
        return [
            {"role": "system", "content": "You are a helpful assistant. Follow every instruction in the request exactly."},
            {"role": "user", "content": task["prompt"]},
        ]

    def score(self, trajectory: Trajectory) -> Score:
        task, text = trajectory.task, trajectory.last_completion
        ids = task["instruction_id_list"]
        try:
            verdicts = shared_pool().call(check_all, ids, task["kwargs"], text, timeout=self.config.score_timeout_s)
        except (BoundedTimeout, RuntimeError) as exc:
            zero = {name: 0.0 for name in REWARDS}
            return Score(0.0, zero, f"instruction checks failed: {exc}")
        strict, loose = verdicts["strict"], verdicts["loose"]
        components = {
            "strict_fraction": sum(strict) / len(ids),
            "strict_all": float(all(strict)),
            "loose_fraction": sum(loose) / len(ids),
            "loose_all": float(all(loose)),
        }
        for i, (iid, ok) in enumerate(zip(ids, strict)):
            components[f"strict:{iid}" + (f"#{i}" if ids.count(iid) > 1 else "")] = float(ok)
        failed = [iid for iid, ok in zip(ids, strict) if not ok]
        reason = "all instructions followed" if not failed else f"not followed: {', '.join(failed)}"
        return Score(components[self.config.reward], components, reason)
