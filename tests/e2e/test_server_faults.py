"""Real vLLM servers killed and restarted under a running job: sampling and training keep
going once a server is back (or on the servers left), and lose or repeat nothing."""

import json
import subprocess
import sys
import time

import pytest

from tests.e2e.test_vllm_e2e import ROOT, _committed, _sample, _samples
from trainers.metrics import read_metrics
from trainers.models import ensure_default_model
from trainers.server import ServerConfig, VLLMServer

pytestmark = pytest.mark.e2e

ONE_TASK_AT_A_TIME = ("--tasks-in-flight", "1")  # so the job is still running when the fault comes


def _wait_for(condition, proc, timeout_s=300):
    deadline = time.monotonic() + timeout_s
    while not condition() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the job ended before the fault could be injected; make it longer"


def _reference(url, tmp_path):
    """An uninterrupted run, batched as the faulted one (vLLM's seeded sampling on CPU is not
    batch-invariant: one task at a time on one server gives both runs the same batches)."""
    reference = tmp_path / "reference.jsonl"
    full = _sample(url, reference, *ONE_TASK_AT_A_TIME)
    assert full.wait(600) == 0, full.stderr.read()
    return _samples(reference)


def test_sampling_survives_a_server_restart(vllm_server, tmp_path):
    out = tmp_path / "restarted.jsonl"
    proc = _sample(vllm_server.url, out, "--server-timeout", "600", *ONE_TASK_AT_A_TIME)
    _wait_for(lambda: _committed(out) >= 2, proc)
    vllm_server.stop(grace_s=0)  # every in-flight request fails; the job retries with backoff
    time.sleep(3)
    assert proc.poll() is None, proc.stderr.read()
    vllm_server.start()  # same port, same weights
    assert proc.wait(900) == 0, proc.stderr.read()
    got = _samples(out)
    assert len({(t, i) for t, i, _ in got}) == len(got), "a sample was written twice"
    assert got == _reference(vllm_server.url, tmp_path), (
        "the run must keep exactly what an uninterrupted run keeps"
    )


def test_one_of_two_servers_dying_shifts_its_load_to_the_other(vllm_server, tmp_path):
    config = ServerConfig(
        model=ensure_default_model(),
        served_name="smollm2",
        max_num_seqs=32,
        enable_lora=True,
        max_lora_rank=8,
        dev_mode=True,
    )
    out = tmp_path / "two.jsonl"
    with VLLMServer(config, log_path=tmp_path / "second.log") as second:
        proc = _sample(vllm_server.url, out, "--server", second.url, *ONE_TASK_AT_A_TIME)
        _wait_for(lambda: _committed(out) >= 2, proc)
        second.stop(grace_s=0)  # for good
        assert proc.wait(900) == 0, proc.stderr.read()
    # Every task sampled in full and committed once. The texts are not compared with a one-server
    # run: a task's samples were batched over two servers, and vLLM's seeded sampling on CPU is
    # not batch-invariant (a near-tie token can differ).
    got = _samples(out)
    assert len({(t, i) for t, i, _ in got}) == len(got), "a sample was written twice"
    summary = json.loads(out.with_name(out.name + ".summary.json").read_text())
    assert summary["tasks"] == 8 and summary["samples"] == 32 and summary["outcomes"].get("error", 0) == 0


def test_training_survives_a_server_restart(vllm_server, tmp_path):
    """The restarted server has lost the trained adapter: the trainer pushes it again."""
    out = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "trainers.cli",
        "train",
        "grpo",
        "--server",
        vllm_server.url,
        "--out",
        str(out),
        "--steps",
        "3",
        "--env",
        "InstructionFollowing",
        "--env-arg",
        "max_constraints=1",
        "--tasks-per-step",
        "2",
        "--group-size",
        "4",
        "--max-tokens",
        "32",
        "--lora-rank",
        "8",
        "--config",
        str(tmp_path / "grpo.yaml"),
    ]
    (tmp_path / "grpo.yaml").write_text(
        "lora_alpha: 16\nmicro_batch: 4\nuniform_groups: keep\nreport_to: []\n"
    )
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    metrics = out / "metrics.jsonl"
    _wait_for(lambda: read_metrics(metrics), proc, 600)
    vllm_server.stop(grace_s=0)
    time.sleep(3)
    vllm_server.start()
    assert proc.wait(900) == 0, proc.stderr.read()
    rows = read_metrics(metrics)
    assert [r["step"] for r in rows] == [1, 2, 3] and rows[-1]["data_position"] == 6
