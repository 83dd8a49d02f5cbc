"""A training run's rollouts.jsonl: each step's episodes (bounded), trimmed back on resume."""

import asyncio
import json

import gymnasium as gym
import pytest

import atropos_envs  # noqa: F401  (registers the envs)
from tests.trainers.test_rejection_sampling import CannedServer
from trainers.collect import Rollouts
from trainers.config import GRPOConfig
from trainers.rollout_log import RolloutLog


def _record(task_id):
    return {"messages": [{"role": "user", "content": "q"}], "metadata": {"task_id": task_id, "reward": 1.0}}


def test_lines_of_unfinished_steps_are_dropped_on_resume(tmp_path):
    log = RolloutLog(tmp_path, 0)
    for step in (1, 2, 3):
        log.write(step, [_record("a"), _record("b")])
    with open(tmp_path / "rollouts.jsonl", "a") as f:
        f.write('{"messages": [')  # killed mid-write
    RolloutLog(tmp_path, 2)  # resumed from the checkpoint of step 2
    rows = [json.loads(line) for line in (tmp_path / "rollouts.jsonl").read_text().splitlines()]
    assert [r["metadata"]["step"] for r in rows] == [1, 1, 2, 2]
    RolloutLog(tmp_path, 0, enabled=False).write(9, [_record("c")])  # another process: writes nothing
    assert len((tmp_path / "rollouts.jsonl").read_text().splitlines()) == 4


def test_collected_batches_carry_bounded_records():
    env = gym.make("atropos_envs/Format-v0").unwrapped
    server = CannedServer({}, "<think>guess</think> \\boxed{3}")
    config = GRPOConfig(tasks_per_step=3, group_size=2, rollouts_per_step=5, uniform_groups="keep")
    rollouts = Rollouts(
        env=env, urls=[server.url], config=config, sync=None, end_of_turn=None, step=0, position=0
    )
    try:
        batch = asyncio.run(rollouts._collect(4, "canned", 0))
    finally:
        server.close()
    assert len(batch.samples) == 6 and len(batch.records) == 5
    meta = batch.records[0]["metadata"]
    assert meta["policy_version"] == 4 and meta["kept"] is True and meta["env"] == config.env_id
    assert batch.records[0]["messages"][-1]["content"].endswith("\\boxed{3}")


@pytest.mark.parametrize(("field", "value"), [("rollouts_per_step", -1), ("rollouts_every", 0)])
def test_bad_rollout_settings_are_refused(field, value):
    with pytest.raises(ValueError, match=field):
        GRPOConfig(**{field: value}).validate()
