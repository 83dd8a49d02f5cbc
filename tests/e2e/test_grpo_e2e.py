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

from trainers.metrics import read_metrics, read_provenance

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def _train(url, out, steps):
    # Format-v0 with a <think> prefill: SmolLM2's replies score 0 (malformed), 0.2 (right shape)
    # or 1.0, so groups of 8 carry signal with 40 tokens. (InstructionFollowing-v0 now needs a
    # 25-word answer before constraints pay, which 32 tokens cannot hold.)
    cmd = [
        sys.executable,
        "-m",
        "trainers.cli",
        "train",
        "grpo",
        "--server",
        url,
        "--out",
        str(out),
        "--steps",
        str(steps),
        "--env",
        "Format",
        "--assistant-prefix",
        "<think>",
        "--tasks-per-step",
        "2",
        "--group-size",
        "8",
        "--max-tokens",
        "40",
        "--learning-rate",
        "0.001",
        "--max-staleness",
        "1",
        "--config",
        str(out.parent / "grpo.yaml"),
    ]
    return subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )


def _steps(out):
    path = out / "metrics.jsonl"
    return [row["step"] for row in read_metrics(path)]


def test_grpo_kill_and_resume_reaches_the_same_step_and_data_position(vllm_server, tmp_path):
    (tmp_path / "grpo.yaml").write_text("lora_rank: 8\nlora_alpha: 16\nmicro_batch: 4\n")
    out = tmp_path / "run"
    proc = _train(vllm_server.url, out, 3)
    deadline = time.monotonic() + 600
    while (
        not (out / "checkpoint" / "state.pt").exists() and proc.poll() is None and time.monotonic() < deadline
    ):
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
    assert final["step"] == 3 and final["data_position"] == 6  # 2 tasks a step
    adapter = load_file(out / "checkpoint" / "weights" / "adapter_model.safetensors")
    rows = read_metrics(out / "metrics.jsonl")
    headers = read_provenance(out / "metrics.jsonl")  # the first run's and the resumed run's
    assert [h["from_step"] for h in headers] == [1, state["step"] + 1] and headers[0]["servers"][0]["vllm"]
    assert [r["data_position"] for r in rows] == [2, 4, 6]
    assert any(r["groups_dropped"] < 2 for r in rows), rows  # some group carried signal
    assert all(r["staleness"] <= 1 for r in rows)  # generation ran ahead by one version at most
    assert any(
        name.endswith("lora_B.weight") and tensor.abs().sum() > 0 for name, tensor in adapter.items()
    )  # trained
    served = [m["id"] for m in __import__("httpx").get(f"{vllm_server.url}/v1/models").json()["data"]]
    assert "policy-v3" in served
    assert (out / "curves.png").stat().st_size > 1000
    assert any((out / "tensorboard").glob("events.out.tfevents.*"))
    # rollouts.jsonl (trainers/rollout_log.py): each step's 16 episodes exactly once across the kill
    written = [json.loads(line)["metadata"] for line in (out / "rollouts.jsonl").read_text().splitlines()]
    assert [sum(m["step"] == step for m in written) for step in (1, 2, 3)] == [16, 16, 16]
    assert all(0 <= m["step"] - 1 - m["policy_version"] <= 1 for m in written)


def _greedy(url, model):
    import httpx

    body = {
        "model": model,
        "messages": [{"role": "user", "content": "Name three colours."}],
        "max_tokens": 12,
        "temperature": 0,
    }
    return httpx.post(f"{url}/v1/chat/completions", json=body, timeout=120).json()["choices"][0]["message"][
        "content"
    ]


def test_ppo_full_parameter_update_reaches_the_server(vllm_server, tmp_path):
    """PPO without LoRA: every weight trains and the server reloads them in place."""
    import gymnasium as gym
    import httpx

    import atropos_envs  # noqa: F401 - registers the envs
    from trainers.models import ensure_default_model
    from trainers.ppo import PPOConfig, PPOTrainer

    # Format-v0 with a <think> prefill: some of 32 replies score 0.2 or 1.0, so returns, values
    # and advantages are not all zero (the value head starts at zero).
    env = gym.make("atropos_envs/Format-v0").unwrapped
    config = PPOConfig(
        env_id="atropos_envs/Format-v0",
        steps=1,
        tasks_per_step=4,
        group_size=8,
        max_tokens=40,
        assistant_prefix="<think>",
        lora_rank=0,
        learning_rate=1e-3,
        micro_batch=8,
        ppo_epochs=1,
        uniform_groups="keep",  # every sample trains (values are learnt from uniform groups too)
    )
    before = _greedy(vllm_server.url, "smollm2")
    try:
        trainer = PPOTrainer(config, env, ensure_default_model(), [vllm_server.url], tmp_path / "ppo")
        (metrics,) = trainer.train()
        assert trainer.sync.name == "reload" and metrics["sync_s"] > 0
        assert metrics["value_loss"] > 0 and metrics["samples_trained"] == 32
        assert _greedy(vllm_server.url, "smollm2") != before  # the server samples from the new weights
        assert (
            "value_head"
            in torch.load(tmp_path / "ppo" / "checkpoint" / "state.pt", weights_only=False)["extra"]
        )
    finally:  # give the shared server its original weights back
        httpx.post(
            f"{vllm_server.url}/collective_rpc",
            timeout=300,
            json={"method": "reload_weights", "kwargs": {"weights_path": str(ensure_default_model())}},
        )
    assert _greedy(vllm_server.url, "smollm2") == before
