"""`atropos-envs reasoning-gym-list`: the generators ReasoningGym-v0 can use."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def cli(*args):
    env = {
        **os.environ,
        "COLUMNS": "200",
        "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
    }
    return subprocess.run(
        [sys.executable, "-m", "trainers.cli", "reasoning-gym-list", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_lists_generators_as_a_table_or_json_and_refuses_an_unknown_category():
    result = cli("--category", "arithmetic")
    assert result.returncode == 0 and "chain_sum" in result.stdout and "max_terms" in result.stdout
    assert "spell_backward" not in result.stdout
    rows = [json.loads(line) for line in cli("--json").stdout.splitlines()]
    assert len(rows) > 90 and {"name", "category", "config", "levels"} <= set(rows[0])
    bad = cli("--category", "nope")
    assert bad.returncode == 2 and "no reasoning-gym generator in category 'nope'" in bad.stderr
