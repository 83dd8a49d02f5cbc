"""The policy's log-probs of the sampled tokens, without full-vocabulary logits.

A micro-batch is packed once (right-padded token ids, the position that predicts each
completion token) and moved to the device in one transfer. The model runs with
``logits_to_keep=1``, so it never builds the [batch, sequence, vocab] logits; the output
head is applied to the final hidden states of the completion tokens only, ``chunk_tokens``
at a time, in float32, under activation checkpointing: a backward pass recomputes each
chunk's logits instead of keeping them, so at most one [chunk_tokens, vocab] float32 block
lives at a time. ``chunk_tokens=0`` is the plain path (the model's full logits), kept as the
baseline of ``benchmarks/chunked_logprobs.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from trainers.batch import TokenSample


@dataclass
class Packed:
    ids: torch.Tensor  # [B, L] prompt + completion, right-padded
    attention: torch.Tensor  # [B, L]
    rows: torch.Tensor  # [N] for each completion token: its row,
    positions: torch.Tensor  # [N] the position whose output predicts it,
    slots: torch.Tensor  # [N] and its column in the [B, W] outputs
    targets: torch.Tensor  # [N] the token
    sampling_logprobs: torch.Tensor  # [B, W] float32, 0 past each completion
    mask: torch.Tensor  # [B, W] 1 where the model generated the token

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.mask.shape)


def pack(samples: list[TokenSample], device: torch.device) -> Packed:
    width = max(len(s.completion_ids) for s in samples)
    length = max(len(s.prompt_ids) + len(s.completion_ids) for s in samples)
    ids = torch.zeros(len(samples), length, dtype=torch.long)
    attention = torch.zeros(len(samples), length, dtype=torch.long)
    old = torch.zeros(len(samples), width)
    mask = torch.zeros(len(samples), width)
    rows, positions, slots, targets = [], [], [], []
    for row, s in enumerate(samples):
        start, n = len(s.prompt_ids), len(s.completion_ids)
        ids[row, : start + n] = torch.tensor(s.prompt_ids + s.completion_ids)
        attention[row, : start + n] = 1
        old[row, :n] = torch.tensor(s.sampling_logprobs, dtype=torch.float)
        mask[row, :n] = torch.tensor(s.mask, dtype=torch.float)
        rows += [row] * n
        positions += range(start - 1, start - 1 + n)
        slots += range(n)
        targets += s.completion_ids
    tensors = [
        ids,
        attention,
        *(torch.tensor(x, dtype=torch.long) for x in (rows, positions, slots, targets)),
        old,
        mask,
    ]
    return Packed(*(t.to(device, non_blocking=True) for t in tensors))


def unwrap(model):
    """The Hugging Face model inside DDP / accelerate wrappers (peft models stay as they are)."""
    while hasattr(model, "module") and isinstance(model.module, torch.nn.Module):
        model = model.module
    return model


def _chunk_logprobs(
    states: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, targets: torch.Tensor
):
    dtype = torch.promote_types(states.dtype, torch.float32)  # float32 at least (float64 stays)
    with torch.autocast(states.device.type, enabled=False):
        logits = F.linear(states.to(dtype), weight.to(dtype), None if bias is None else bias.to(dtype))
        return logits.gather(-1, targets[:, None])[:, 0] - logits.logsumexp(-1)


def head_logprobs(
    states: torch.Tensor, head: torch.nn.Module, targets: torch.Tensor, chunk_tokens: int
) -> torch.Tensor:
    """log p(target) for each row of ``states`` [N, H], ``chunk_tokens`` rows at a time."""
    pieces = []
    for begin in range(0, states.shape[0], chunk_tokens):
        args = (
            states[begin : begin + chunk_tokens],
            head.weight,
            head.bias,
            targets[begin : begin + chunk_tokens],
        )
        if torch.is_grad_enabled():
            pieces.append(checkpoint(_chunk_logprobs, *args, use_reentrant=False))
        else:
            pieces.append(_chunk_logprobs(*args))
    return torch.cat(pieces) if pieces else states.new_zeros(0)


def completion_logprobs(model, packed: Packed, *, chunk_tokens: int, hidden: bool = False):
    """(log-probs [B, W] float32, last hidden states [B, W, H] or None) of the completion tokens."""
    if chunk_tokens:
        out = model(
            input_ids=packed.ids, attention_mask=packed.attention, output_hidden_states=True, logits_to_keep=1
        )
        selected = out.hidden_states[-1][packed.rows, packed.positions]
        logprobs = head_logprobs(
            selected, unwrap(model).get_output_embeddings(), packed.targets, chunk_tokens
        )
    else:  # the baseline: the model's full logits
        out = model(input_ids=packed.ids, attention_mask=packed.attention, output_hidden_states=hidden)
        logits = out.logits[packed.rows, packed.positions]
        logits = logits.to(torch.promote_types(logits.dtype, torch.float32))
        logprobs = logits.log_softmax(-1).gather(-1, packed.targets[:, None])[:, 0]
        selected = out.hidden_states[-1][packed.rows, packed.positions] if hidden else None
    index = (packed.rows, packed.slots)
    new = logprobs.new_zeros(packed.shape).index_put(index, logprobs)
    if not hidden:
        return new, None
    states = selected.new_zeros(*packed.shape, selected.shape[-1]).index_put(index, selected)
    return new, states
