"""The GPU check runs as a CPU smoke test, and its update path needs no server-side package."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVER_SIDE = (
    "httpx",
    "gymnasium",
    "atropos_envs",
    "trainers.rollout",
    "trainers.client",
    "trainers.collect",
    "vllm",
    "trl",
)


def test_gpu_check_smoke_on_cpu(tmp_path):
    out = tmp_path / "gpu.md"
    code = (
        "import json, sys\n"
        "from benchmarks.gpu_check import main\n"
        "rows = main(['--device', 'cpu', '--samples', '2', '--repeat', '1', '--steps', '1',"
        " '--only', 'float32',"
        f" '--out', {str(out)!r}])\n"
        f"print(json.dumps({{'rows': rows, 'loaded': [m for m in {SERVER_SIDE!r} if m in sys.modules]}}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["loaded"] == []  # what the GPU machine lacks is never imported
    rows = report["rows"]
    assert [(r["algorithm"], r["gradient_checkpointing"], r["logprob_chunk"]) for r in rows] == [
        (a, g, c) for a in ("grpo", "ppo") for g in (False, True) for c in (0, 1024)
    ]
    assert all(r["where"] == "cpu float32" and r["step_s"] > 0 and r["tokens_per_s"] > 0 for r in rows)
    grpo = [r["loss"] for r in rows if r["algorithm"] == "grpo"]
    assert max(grpo) - min(grpo) < 1e-4  # the same update whichever memory saving is on
    table = out.read_text()
    assert table.count("| grpo |") == 4 and table.count("| ppo |") == 4 and "tokens/s" in table
