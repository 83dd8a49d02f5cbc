"""Where the policy lives and in what precision.

- ``device``: ``auto`` is CUDA when PyTorch sees a GPU, else the CPU. Under a launcher
  (torchrun / accelerate) each process takes the GPU of its ``LOCAL_RANK``.
- ``dtype``: ``auto`` is bfloat16 on a GPU with bf16 support, and on a CPU with native bf16
  instructions (``avx512_bf16`` or ``amx_bf16`` in /proc/cpuinfo's flags); float32 otherwise.
  bfloat16 means mixed precision: trained weights (the master copy) and the optimizer state
  stay float32, matrix products run in bf16 under ``torch.autocast``, and log-probs, losses
  and advantages are float32. Frozen weights (a LoRA base, the KL reference) are stored in
  bf16 to halve their memory.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch

from trainers.config import DEVICES, DTYPES
from trainers.machine import cpu_info, native_bf16


def resolve_device(
    device: str, *, cuda_available: bool | None = None, local_rank: int | None = None
) -> torch.device:
    if device not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}, not {device!r}")
    cuda = torch.cuda.is_available() if cuda_available is None else cuda_available
    if device == "cuda" and not cuda:
        raise ValueError(
            "device=cuda but PyTorch sees no GPU (CPU-only torch build?); use device: auto or cpu"
        )
    if device == "cpu" or not cuda:
        return torch.device("cpu")
    rank = int(os.environ.get("LOCAL_RANK", "0")) if local_rank is None else local_rank
    return torch.device("cuda", rank)


def resolve_dtype(
    dtype: str, device: torch.device, *, cuda_bf16: bool | None = None, flags: frozenset[str] | None = None
) -> torch.dtype:
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, not {dtype!r}")
    if dtype == "float32":
        return torch.float32
    if device.type == "cuda":
        native = torch.cuda.is_bf16_supported() if cuda_bf16 is None else cuda_bf16
    else:
        native = native_bf16(cpu_info()[1] if flags is None else flags)
    if dtype == "bfloat16":
        if device.type == "cuda" and not native:
            raise ValueError("this GPU has no bfloat16 support (pre-Ampere); use dtype: float32")
        return torch.bfloat16  # on a CPU without native bf16 it is emulated: slow but correct
    return torch.bfloat16 if native else torch.float32


@dataclass(frozen=True)
class Precision:
    device: torch.device
    dtype: torch.dtype  # of the matrix products; trained weights stay float32

    @classmethod
    def resolve(cls, device: str = "auto", dtype: str = "auto") -> Precision:
        where = resolve_device(device)
        return cls(where, resolve_dtype(dtype, where))

    @property
    def mixed(self) -> bool:
        return self.dtype != torch.float32

    def autocast(self):
        """bf16 matrix products under mixed precision; nothing at all in float32."""
        if not self.mixed:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def describe(self) -> str:
        return f"{self.device} {'bf16 mixed precision' if self.mixed else 'float32'}"
