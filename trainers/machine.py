"""Where a run ran: the CPU (model, cores, the flags that decide its speed), the GPU, the servers.

``provenance(urls)`` is what sample/evaluate summaries and the training ``metrics.jsonl`` header
record, so a figure can be traced to the machine, the model, the dtype and the vLLM version
that produced it. ``native_bf16(flags)`` decides whether bfloat16 is cheap on a CPU: without
avx512_bf16 or AMX (x86) or Arm's bf16, every bf16 matrix product is emulated (4.3x slower than
float32 on an AMD EPYC with AVX2 only).
"""

from __future__ import annotations

import os
import platform
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

# The flags worth recording beside a figure: vector width and native bf16/int8 matrix units.
SPEED_FLAGS = frozenset(
    {"avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile", "amx_bf16", "amx_int8", "bf16", "sve"}
)
_NATIVE_BF16 = frozenset({"avx512_bf16", "amx_bf16", "bf16"})  # x86 AVX-512 BF16, Intel AMX, Arm BF16


def native_bf16(flags) -> bool:
    """Whether a CPU with these /proc/cpuinfo flags does bfloat16 matrix products in hardware."""
    return bool(_NATIVE_BF16 & set(flags))


def cpu_info(cpuinfo: Path = Path("/proc/cpuinfo")) -> tuple[str, frozenset[str]]:
    """(model name, flags) of the first CPU; flags empty where /proc/cpuinfo is not readable."""
    model, flags = "", frozenset()
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        text = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key in ("model name", "Model", "cpu model") and not model:
            model = value.strip()
        elif key in ("flags", "Features") and not flags:  # x86 / Arm
            flags = frozenset(value.split())
    return model or platform.processor() or platform.machine(), flags


def gpu_name() -> str | None:
    """Name of CUDA device 0, or None without a usable GPU."""
    try:
        import torch

        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except Exception:  # torch missing or broken: no GPU to use either way
        return None


def cpu_summary() -> str:
    """One line for a benchmark's results: the CPU model and its avx512/amx flags."""
    model, flags = cpu_info()
    shown = sorted(f for f in flags if f.startswith(("avx512", "amx")))
    return f"{model}, flags {' '.join(shown) or 'no avx512/amx'}"


def machine_info() -> dict[str, Any]:
    model, flags = cpu_info()
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "cpu_flags": sorted(SPEED_FLAGS & flags),
        "native_bf16": native_bf16(flags),
        "gpu": gpu_name(),
    }


def provenance(server_urls: list[str]) -> dict[str, Any]:
    """How a result was produced: each server's model, dtype and vLLM version, and this machine."""
    servers = []
    if server_urls:  # (the server module needs httpx, which a trainer without servers never loads)
        from trainers.server import describe_server

        servers = [describe_server(url) for url in server_urls]
    return {
        "recorded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "servers": servers,
        "machine": machine_info(),
    }
