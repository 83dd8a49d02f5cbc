"""The TRL adapter's pieces that need no model: the dataset and the reward function."""

import gymnasium as gym
import pytest

import atropos_envs  # noqa: F401  (registers the envs)
from trainers.trl_adapter import EnvReward, EnvRollouts, env_dataset


def test_dataset_and_reward_score_completions_through_the_env():
    env = gym.make("atropos_envs/Format-v0").unwrapped
    dataset = env_dataset(env, 3)
    assert dataset.column_names == ["prompt", "task_id"] and dataset["task_id"] == ["0", "1", "2"]
    answer = env.get_task("0")["answer"]
    reward = EnvReward(env)
    good = [{"role": "assistant", "content": f"<think>easy</think>\n\\boxed{{{answer}}}"}]
    scores = reward(dataset["prompt"][:2], [good, "no think block"], task_id=["0", "1"], trainer_state=None)
    assert scores == [1.0, 0.0] and reward.__name__ == "atropos_Format-v0"


def test_multi_turn_envs_need_the_rollout_func():
    env = gym.make("atropos_envs/ToolUse-v0").unwrapped
    call = '<tool_call>{"name": "calculator", "arguments": {"expression": "1+1"}}</tool_call>'
    with pytest.raises(ValueError, match="rollout_func"):
        EnvReward(env)(env_dataset(env, 1)["prompt"], [call], task_id=["0"])


def test_rollouts_refuse_prompts_from_elsewhere():
    env = gym.make("atropos_envs/Format-v0").unwrapped
    rollouts = EnvRollouts(env, ["http://127.0.0.1:9"])
    rollouts.index(env_dataset(env, 2))
    with pytest.raises(KeyError, match="env_dataset"):
        rollouts._task_id([{"role": "user", "content": "something else"}])
