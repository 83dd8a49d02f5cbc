"""Full-parameter steps sharded over two CPU processes (gloo): native FSDP2 (``fully_shard``)
and DeepSpeed ZeRO-3 (``deepspeed.initialize``). Accelerate ignores both plugins on CPU, so
these run the engines directly (tests/trainers/sharded_worker.py); the trainer reaches the
same engines through accelerate on GPUs. Each test gathers the sharded weights to rank 0
and compares them with one unsharded process that trained on the same batch."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
WORKER = ROOT / "tests" / "trainers" / "sharded_worker.py"
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}

pytestmark = pytest.mark.distributed


def _run(out: Path, engine: str, chunk: int) -> dict:
    args = [str(WORKER), str(out), "--engine", engine, "--chunk", str(chunk)]
    if engine == "single":
        command = [sys.executable, *args]
    else:
        torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or "torchrun"
        command = [torchrun, "--standalone", "--nproc_per_node", "2", *args]  # a free port
    result = subprocess.run(command, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return torch.load(out)


def _assert_same_step(one: dict, two: dict) -> None:
    """Tolerance: loss and gradient norm to float32 rounding (rel 1e-5); every gathered weight
    after one AdamW step (lr 1e-3) within 2e-5 of the unsharded run's (measured: 1.2e-6
    FSDP2, 2.5e-6 ZeRO-3; Adam's first step is ~lr x sign(gradient), so a gradient summed in
    another order moves an element by rounding noise only)."""
    assert (one["world"], two["world"]) == (1, 2)
    assert two["loss"] == pytest.approx(one["loss"], rel=1e-5)
    assert two["grad_norm"] == pytest.approx(one["grad_norm"], rel=1e-5)
    assert two["state"].keys() == one["state"].keys()  # every weight, under its Hugging Face name
    for name, value in one["state"].items():
        gathered = two["state"][name]
        assert gathered.shape == value.shape and gathered.dtype == value.dtype, name
        assert torch.allclose(gathered, value, atol=2e-5, rtol=0), name
    moved = [name for name, value in one["state"].items() if not torch.equal(value, two["state"][name])]
    assert moved  # the step changed something (not a comparison of two untouched models)


def test_fsdp2_step_gathers_to_the_weights_of_one_process(tmp_path):
    """FSDP2 with the chunked log-probs the trainer uses by default (the root's output head
    stays unsharded between its forward and backward)."""
    one = _run(tmp_path / "one.pt", "single", 1024)
    two = _run(tmp_path / "fsdp2.pt", "fsdp2", 1024)
    _assert_same_step(one, two)


def test_zero3_step_gathers_to_the_weights_of_one_process(tmp_path):
    """ZeRO-3 with the model's own logits: ZeRO-3 frees the output head after the forward,
    so the trainer turns chunked log-probs off under it (``Processes.logprob_chunk``)."""
    pytest.importorskip("deepspeed", reason="ZeRO-3 needs deepspeed: pip install deepspeed")
    one = _run(tmp_path / "one.pt", "single", 0)
    two = _run(tmp_path / "zero3.pt", "zero3", 0)
    _assert_same_step(one, two)
