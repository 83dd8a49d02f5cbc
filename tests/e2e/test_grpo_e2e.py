"""GRPO against the real server: weights change, the server serves them, and a run killed
after a checkpoint resumes to the same step count and data position."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def _train(url, out, steps):
    # InstructionFollowing with one constraint: SmolLM2 passes ~36 % of the time, so groups
    # carry signal even with 32 tokens (on Format-v0 they would all score 0 and be dropped).
    cmd = [sys.executable, "-m", "trainers.cli", "train", "grpo", "--server", url, "--out", str(out), "--steps", str(steps),
           "--env", "InstructionFollowing", "--env-arg", "max_constraints=1", "--tasks-per-step", "2", "--group-size", "4",
           "--max-tokens", "32", "--learning-rate", "0.001", "--config", str(out.parent / "grpo.yaml")]  # fmt: skip
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _steps(out):
    path = out / "metrics.jsonl"
    return [json.loads(line)["step"] for line in path.read_text().splitlines()] if path.exists() else []


def test_grpo_kill_and_resume_reaches_the_same_step_and_data_position(vllm_server, tmp_path):
    (tmp_path / "grpo.yaml").write_text("lora_rank: 8\nlora_alpha: 16\nmicro_batch: 4\n")
    out = tmp_path / "run"
    proc = _train(vllm_server.url, out, 3)
    deadline = time.monotonic() + 600
    while not (out / "checkpoint" / "state.pt").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert proc.poll() is None, proc.stderr.read()
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    state = torch.load(out / "checkpoint" / "state.pt", weights_only=False)
    assert 1 <= state["step"] < 3

    resumed = _train(vllm_server.url, out, 3)
    stdout, stderr = resumed.communicate(timeout=900)
    assert resumed.returncode == 0, stderr
    assert _steps(out) == [1, 2, 3]  # every step once: nothing lost, nothing repeated
    final = torch.load(out / "checkpoint" / "state.pt", weights_only=False)
    assert final["step"] == 3 and final["config"]["tasks_per_step"] * final["step"] == 6  # the data position
    adapter = load_file(out / "checkpoint" / "adapter" / "adapter_model.safetensors")
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert any(r["groups_dropped"] < 2 for r in rows), rows  # some group carried signal
    assert any(name.endswith("lora_B.weight") and tensor.abs().sum() > 0 for name, tensor in adapter.items())  # trained
    served = [m["id"] for m in __import__("httpx").get(f"{vllm_server.url}/v1/models").json()["data"]]
    assert "policy-step3" in served
    assert (out / "curves.png").stat().st_size > 1000
