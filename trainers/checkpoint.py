"""A run's checkpoint: weights (the adapter, or every weight), optimizer, schedule, RNG,
step, data position and the algorithm's own state (PPO's value head).

Written to ``checkpoint.tmp`` and renamed: a ``checkpoint`` folder that exists is complete.
A run killed between the two renames leaves ``checkpoint.old``, which is then the last one.

With several processes rank 0 writes the checkpoint. When the weights are sharded (FSDP2,
ZeRO-3) they are gathered first (``weights``: the full state dict, from every rank's share)
and each rank adds its own optimizer shard (``optimizer/rank{N}.pt``) to the staging folder
before rank 0 completes it (``begin_checkpoint`` ... ``save_optimizer_shard`` ...
``save_checkpoint(fresh=False)``); a resume needs the same number of processes.
"""

from __future__ import annotations

import random
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

STAGING = "checkpoint.tmp"


def begin_checkpoint(out_dir: Path) -> Path:
    """An empty staging folder (rank 0, before the ranks add their optimizer shards)."""
    staging = out_dir / STAGING
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    return staging


def save_optimizer_shard(out_dir: Path, rank: int, state: dict[str, Any]) -> None:
    (out_dir / STAGING / "optimizer").mkdir(parents=True, exist_ok=True)
    torch.save(state, out_dir / STAGING / "optimizer" / f"rank{rank}.pt")


def load_optimizer_shard(out_dir: Path, rank: int) -> dict[str, Any]:
    path = out_dir / "checkpoint" / "optimizer" / f"rank{rank}.pt"
    if not path.is_file():
        raise ValueError(f"{path} is missing: resume a sharded run with as many processes as it had")
    return torch.load(path, weights_only=False)


def save_checkpoint(
    out_dir: Path, *, policy, state: dict[str, Any], weights: dict | None = None, fresh: bool = True
) -> None:
    """``weights``: the full state dict when ``policy`` does not hold it (sharded); ``fresh``:
    False when the staging folder already holds the ranks' optimizer shards."""
    staging = begin_checkpoint(out_dir) if fresh else out_dir / STAGING
    if weights is None:
        policy.save_pretrained(staging / "weights")
    else:
        policy.save_pretrained(staging / "weights", state_dict=weights)
    rng = {
        "torch_rng": torch.get_rng_state(),
        "python_rng": random.getstate(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
    }
    torch.save({**state, **rng}, staging / "state.pt")
    final, old = out_dir / "checkpoint", out_dir / "checkpoint.old"
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    staging.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def load_checkpoint(out_dir: Path, *, policy, config, algorithm: str, lora: bool) -> dict[str, Any] | None:
    """Load the last checkpoint's weights into ``policy`` and restore the RNG; the rest of its
    state (optimizer, schedule, step, ...) is returned. None when the run starts afresh."""
    checkpoint, previous = out_dir / "checkpoint", out_dir / "checkpoint.old"
    if not checkpoint.exists() and (previous / "state.pt").is_file():
        previous.rename(checkpoint)  # killed between the two renames of save_checkpoint
    if not (checkpoint / "state.pt").is_file():
        return None
    from safetensors.torch import load_file

    state = torch.load(checkpoint / "state.pt", weights_only=False)
    if state["config"] != asdict(config) or state.get("algorithm") != algorithm:
        raise ValueError(
            f"{out_dir} holds a run with other settings; use another --out or the same arguments"
        )
    if lora:
        from peft import set_peft_model_state_dict

        set_peft_model_state_dict(policy, load_file(checkpoint / "weights" / "adapter_model.safetensors"))
    else:
        result = policy.load_state_dict(load_file(checkpoint / "weights" / "model.safetensors"), strict=False)
        if result.unexpected_keys or any(
            "lm_head" not in key for key in result.missing_keys
        ):  # tied lm_head only
            raise ValueError(f"{checkpoint} does not hold this model's weights")
    torch.set_rng_state(state["torch_rng"])
    if state.get("cuda_rng") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    random.setstate(state["python_rng"])
    return state
