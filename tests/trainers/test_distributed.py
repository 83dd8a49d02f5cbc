"""Two training processes (DDP over gloo, through accelerate) on CPU: the same update as one
process on the same global batch, and no hang when a rank has only padding."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from trainers.distributed import share

ROOT = Path(__file__).resolve().parents[2]
WORKER = ROOT / "tests" / "trainers" / "ddp_worker.py"
ENV = {**os.environ, "ACCELERATE_USE_CPU": "true", "OMP_NUM_THREADS": "1"}


def _run(out: Path, processes: int, *args: str) -> dict:
    if processes == 1:
        command = [sys.executable, str(WORKER), str(out), *args]
    else:
        torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or "torchrun"
        command = [torchrun, "--nproc_per_node", str(processes), str(WORKER), str(out), *args]
    result = subprocess.run(command, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return torch.load(out)


def test_share_gives_every_rank_as_many_samples():
    assert [share(5, rank, 2) for rank in range(2)] == [[0, 2, 4], [1, 3, None]]
    assert [share(1, rank, 3) for rank in range(3)] == [[0], [None], [None]]
    assert share(4, 0, 1) == [0, 1, 2, 3]


@pytest.mark.distributed
def test_two_processes_end_with_the_parameters_of_one(tmp_path):
    """Tolerance: the loss and gradient norm agree to float32 rounding; parameters after one
    AdamW step (lr 1e-4) within 2e-5, because Adam's first step is ~lr x sign(gradient), so
    elements whose gradient is ~0 move by rounding noise (measured: 8e-6)."""
    one = _run(tmp_path / "one.pt", 1)
    two = _run(tmp_path / "two.pt", 2)
    assert (one["world"], two["world"]) == (1, 2)
    assert two["metrics"]["loss"] == pytest.approx(one["metrics"]["loss"], rel=1e-5)
    assert two["metrics"]["grad_norm"] == pytest.approx(one["metrics"]["grad_norm"], rel=1e-5)
    assert one["params"].keys() == two["params"].keys()
    for name, value in one["params"].items():
        assert torch.allclose(value, two["params"][name], atol=2e-5, rtol=0), name


@pytest.mark.distributed
def test_a_rank_with_only_padding_does_not_hang(tmp_path):
    """One trained sample for two ranks: rank 1 runs a padding sample through the same
    collectives (a 60 s process-group timeout would fail the run rather than hang it)."""
    two = _run(tmp_path / "two.pt", 2, "--trained", "0")
    assert two["world"] == 2 and two["metrics"]["loss"] == 0.0  # a group of one: advantage 0
