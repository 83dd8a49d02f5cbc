"""More than one training process, through accelerate.

Launched by ``accelerate launch`` or ``torchrun`` (``WORLD_SIZE`` > 1), the trainer wraps the
policy and optimizer with ``Accelerator.prepare``: DDP by default, FSDP2 or DeepSpeed when the
user's accelerate config says so. How the work is split:

- Rank 0 is the coordinator: it alone collects rollouts, pushes weights to the servers,
  writes metrics and checkpoints. Each step it broadcasts the batch (token ids, rewards) to
  every rank, or ``None`` when it failed, so that no rank waits in a collective it skips.
- Every rank computes the group advantages over the whole batch (the same numbers
  everywhere) and trains on its share: samples ``rank::world``, padded with all-masked copies
  so that every rank runs the same number of micro-batches (each of which is a DDP
  all-reduce or an FSDP gather).
- Losses are normalised over the whole batch (``trainers.advantages.batch_total``): samples,
  generated tokens (token-mean) or samples x the longest completion, and multiplied by the
  number of ranks, which DDP's gradient mean divides out again; the gradient is then that of
  the whole batch in one process.
- Under FSDP2 or ZeRO-3 no rank holds every weight: for a checkpoint or a weight push every
  rank joins the gather (``gathered_state_dict``: accelerate's ``get_state_dict`` in the
  trainer, the engines' own gathers where accelerate is not in the way) and rank 0 alone
  writes or pushes the result. The optimizer state stays sharded: each rank saves its own.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from datetime import timedelta

import torch

from trainers.batch import TokenSample


def launched_world() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def share(count: int, rank: int, world: int) -> list[int | None]:
    """Indices of this rank's samples out of ``count``; every rank gets as many, a short share
    padded with None (a padding sample: a copy whose mask is all zero, see ``padding``)."""
    mine = list(range(rank, count, world))
    return mine + [None] * (-(-count // world) - len(mine))


def padding(sample: TokenSample) -> TokenSample:
    """A copy that runs through the model like any sample but adds nothing to loss or metrics."""
    return dataclasses.replace(sample, mask=[0] * len(sample.mask))


def _is_deepspeed(model) -> bool:
    return type(model).__name__ == "DeepSpeedEngine"


def _is_fsdp2(model) -> bool:
    from torch.distributed.tensor import DTensor

    return any(isinstance(p, DTensor) for p in model.parameters())


def gathered_state_dict(model, accelerator=None) -> dict[str, torch.Tensor] | None:
    """Every weight of ``model`` (full tensors, on the CPU) on rank 0, None on the others.

    A collective under FSDP2 and ZeRO-3: every rank must call it. With an ``accelerator``
    its ``get_state_dict`` does the gather (FSDP full state dict, ZeRO-3 consolidation);
    without one, a model sharded with ``fully_shard`` or by ``deepspeed.initialize`` is
    gathered by the engine's own call, and a plain module needs no gather."""
    main = not torch.distributed.is_initialized() or torch.distributed.get_rank() == 0
    if accelerator is not None:
        state = accelerator.get_state_dict(model)  # a gather under FSDP / ZeRO-3
    elif _is_deepspeed(model):
        state = model._zero3_consolidated_16bit_state_dict()  # what accelerate calls for ZeRO-3
    elif _is_fsdp2(model):
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        options = StateDictOptions(full_state_dict=True, cpu_offload=True)
        state = get_model_state_dict(model, options=options)  # full on rank 0 only
    else:
        state = model.state_dict()
    if not main:
        return None
    return {name: tensor.detach().to("cpu") for name, tensor in state.items()}


class Processes:
    """This process's place among the training processes; one process needs none of it."""

    def __init__(self, timeout_s: float = 1800.0):
        self.accelerator = None
        self.rank, self.world = 0, 1
        if launched_world() > 1:
            from accelerate import Accelerator, InitProcessGroupKwargs

            handler = InitProcessGroupKwargs(timeout=timedelta(seconds=timeout_s))
            self.accelerator = Accelerator(kwargs_handlers=[handler])
            self.rank, self.world = self.accelerator.process_index, self.accelerator.num_processes

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def sharded(self) -> bool:
        """True when no rank holds every weight (accelerate runs FSDP or DeepSpeed)."""
        if self.accelerator is None:
            return False
        from accelerate.utils import DistributedType

        return self.accelerator.distributed_type in (DistributedType.FSDP, DistributedType.DEEPSPEED)

    def logprob_chunk(self, chunk: int) -> int:
        """The trainer's ``logprob_chunk``, or 0 (the model's own logits) under ZeRO-3, which frees
        the output head once the forward returns, before the chunks would use it."""
        if self.accelerator is None or self.accelerator.state.deepspeed_plugin is None:
            return chunk
        return 0 if self.accelerator.state.deepspeed_plugin.zero_stage == 3 else chunk

    def full_weights(self, model) -> dict[str, torch.Tensor] | None:
        """The trainer's weights on rank 0 for a checkpoint or a push, gathered when sharded
        (every rank calls this); None where rank 0's own model already holds them (one
        process, DDP) or on the other ranks."""
        if not self.sharded:
            return None
        return gathered_state_dict(model, self.accelerator)

    def unwrap(self, model):
        """The Hugging Face / peft model inside a DDP, FSDP or DeepSpeed wrapper."""
        return model if self.accelerator is None else self.accelerator.unwrap_model(model)

    def barrier(self) -> None:
        if self.accelerator is not None:
            self.accelerator.wait_for_everyone()

    def prepare(self, model, optimizer):
        if self.accelerator is None:
            return model, optimizer
        plugin = self.accelerator.state.deepspeed_plugin
        if plugin is not None and plugin.deepspeed_config.get("train_micro_batch_size_per_gpu") in (
            None,
            "auto",
        ):
            # no dataloader goes through accelerate to size it; DeepSpeed only logs with it
            plugin.deepspeed_config["train_micro_batch_size_per_gpu"] = 1
        return self.accelerator.prepare(model, optimizer)

    def broadcast(self, value):
        """Rank 0's ``value`` on every rank."""
        if self.accelerator is None:
            return value
        box = [value if self.main else None]
        torch.distributed.broadcast_object_list(box, src=0)
        return box[0]

    def sum(self, value: float) -> float:
        if self.accelerator is None:
            return value
        tensor = torch.tensor([value], dtype=torch.float64, device=self.accelerator.device)
        torch.distributed.all_reduce(tensor)
        return float(tensor[0])

    def accumulating(self, model, last: bool):
        """No gradient all-reduce until the last micro-batch of an optimizer step."""
        if self.accelerator is None:
            return contextlib.nullcontext()
        if self.accelerator.state.deepspeed_plugin is not None:
            # DeepSpeed steps inside ``backward`` at an accumulation boundary, which accelerate
            # takes from ``sync_gradients``; ZeRO-2/3 cannot skip the gradient reduction.
            self.accelerator.sync_gradients = last
            return contextlib.nullcontext()
        return contextlib.nullcontext() if last else self.accelerator.no_sync(model)

    def backward(self, loss: torch.Tensor) -> None:
        if self.accelerator is None:
            loss.backward()
        else:
            self.accelerator.backward(loss * self.world)  # DDP averages the ranks' gradients

    def clip_grad_norm(self, parameters, max_norm: float) -> float:
        if self.accelerator is None:
            return float(torch.nn.utils.clip_grad_norm_(parameters, max_norm))
        norm = self.accelerator.clip_grad_norm_(parameters, max_norm)  # DeepSpeed: its own clipping's norm
        return float("nan") if norm is None else float(norm)
