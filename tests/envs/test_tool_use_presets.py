"""ToolUse-v0's reward presets: the Atropos design's weights and component formulas by default,
the earlier weights and share-based formulas by name."""

import json

import pytest

from atropos_envs.envs.tool_use import PRESETS, ToolUseEnv


def bad_calls(n):
    return "".join(
        f"<tool_call>{json.dumps({'name': 'find_customer', 'arguments': {'name': i}})}</tool_call>"
        for i in range(n)
    )


def play(env, task_id, turns):
    env.reset(options={"task_id": task_id})
    for turn in turns:
        _, reward, terminated, truncated, info = env.step(turn)
        if terminated or truncated:
            return reward, info
    raise AssertionError("the episode did not end")


@pytest.fixture(scope="module")
def single():
    env = ToolUseEnv()
    tid = next(
        str(i)
        for i in range(300)
        if env.get_task(i)["kind"] == "single" and not env.get_task(i)["world"]["faults"]
    )
    return tid, env.get_task(tid)


def test_the_default_is_the_atropos_design_and_v0_stays_available_by_name():
    assert ToolUseEnv().config.preset == "atropos"
    assert PRESETS["atropos"] == {
        "task_completion": 0.35,
        "tool_call_accuracy": 0.25,
        "efficiency": 0.15,
        "error_recovery": 0.15,
        "goal_alignment": 0.10,
    }
    assert ToolUseEnv(weights="v0").config.resolved_weights == PRESETS["v0"]
    assert ToolUseEnv(preset="v0").config.preset == "v0"


@pytest.mark.parametrize(
    "invalid,accuracy,recovery",
    [(1, 0.8, 0.3), (2, 0.6, 0.6), (4, 0.2, 1.0), (6, 0.0, 1.0)],  # 1 - 0.2 each, floored; 0.3 each, capped
)
def test_atropos_formulas_floor_accuracy_and_cap_recovery(single, invalid, accuracy, recovery):
    tid, task = single
    env = ToolUseEnv()
    reward, info = play(env, tid, [bad_calls(invalid), *env.reference_answer(task)])
    c = info["components"]
    assert c["task_completion"] == 1.0 and c["goal_alignment"] == 1.0
    assert c["tool_call_accuracy"] == pytest.approx(accuracy) and c["error_recovery"] == pytest.approx(
        recovery
    )
    efficiency = 1 / (invalid + 1)
    want = 0.35 + 0.25 * accuracy + 0.15 * efficiency + 0.15 * recovery + 0.10
    assert reward == pytest.approx(want)


def test_v0_formulas_are_shares(single):
    tid, task = single
    env = ToolUseEnv(preset="v0")
    _, info = play(env, tid, [bad_calls(3), *env.reference_answer(task)])
    c = info["components"]
    assert c["tool_call_accuracy"] == pytest.approx(1 / 4) and c["error_recovery"] == pytest.approx(1.0)
