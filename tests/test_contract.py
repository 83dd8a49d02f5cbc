"""The contract, run over every registered environment (built-ins and installed plugins)."""

import gymnasium as gym
import pytest

from atropos_envs import registered_env_ids
from atropos_envs.checker import check_text_env


@pytest.mark.parametrize("env_id", registered_env_ids())
def test_env_meets_the_contract(env_id):
    check_text_env(gym.make(env_id))


def test_builtins_are_registered():
    assert "atropos_envs/Format-v0" in registered_env_ids()
