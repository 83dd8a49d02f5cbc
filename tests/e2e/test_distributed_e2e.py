"""``train grpo`` with two processes (torchrun, DDP over gloo on CPU) against the real vLLM
server: killed after its first checkpoint and resumed, it ends with the steps and data
positions of an uninterrupted two-process run. Tiny on purpose (2 tasks x 2 episodes x 16
tokens, LoRA) to stay short in CI."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from trainers.metrics import read_metrics

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "ACCELERATE_USE_CPU": "true", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}


def _train(url: str, out: Path) -> subprocess.Popen:
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or "torchrun"
    # --standalone: a free rendezvous port, so that other torchrun jobs on the machine do not collide
    cmd = [torchrun, "--standalone", "--nproc_per_node", "2", "-m", "trainers.cli", "train", "grpo"]
    cmd += ["--server", url, "--out", str(out), "--steps", "2", "--env", "Format"]
    cmd += ["--assistant-prefix", "<think>", "--tasks-per-step", "2", "--group-size", "2"]
    cmd += ["--max-tokens", "16", "--uniform-groups", "keep", "--micro-batch", "1"]
    cmd += ["--lora-rank", "8", "--lora-alpha", "16", "--process-group-timeout-s", "120"]
    return subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _finish(proc: subprocess.Popen) -> None:
    _, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stderr[-3000:]


def _outcome(out: Path) -> tuple[list, list, tuple]:
    rows = read_metrics(out / "metrics.jsonl")
    state = torch.load(out / "checkpoint" / "state.pt", weights_only=False)
    return (
        [r["step"] for r in rows],
        [r["data_position"] for r in rows],
        (state["step"], state["data_position"]),
    )


def test_two_process_grpo_killed_and_resumed_matches_an_uninterrupted_run(vllm_server, tmp_path):
    whole = tmp_path / "whole"
    _finish(_train(vllm_server.url, whole))

    out = tmp_path / "resumed"
    proc = _train(vllm_server.url, out)
    deadline = time.monotonic() + 600
    while (
        not (out / "checkpoint" / "state.pt").exists() and proc.poll() is None and time.monotonic() < deadline
    ):
        time.sleep(0.1)
    assert proc.poll() is None, proc.stderr.read()[-3000:]
    os.killpg(proc.pid, signal.SIGKILL)  # torchrun and both ranks
    proc.wait()
    assert torch.load(out / "checkpoint" / "state.pt", weights_only=False)["step"] == 1
    _finish(_train(vllm_server.url, out))

    assert _outcome(out) == _outcome(whole) == ([1, 2], [2, 4], (2, 4))  # every step once, 2 tasks a step
    rows = read_metrics(out / "metrics.jsonl")
    assert all(r["samples_trained"] == 4 for r in rows)  # both ranks trained (2 samples each)
    assert (out / "checkpoint" / "weights" / "adapter_model.safetensors").is_file()
