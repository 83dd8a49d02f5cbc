"""Property-based: every generator is a pure function of (settings, task index)."""

import gymnasium as gym
from hypothesis import given, settings
from hypothesis import strategies as st

import atropos_envs  # noqa: F401

GENERATOR_SETTINGS = {
    "atropos_envs/Format-v0": st.fixed_dictionaries(
        {
            "difficulty": st.sampled_from([1, 2, 3]),
            "answer_format": st.sampled_from(["boxed", "json", "mixed"]),
        }
    ),
    "atropos_envs/JsonSchema-v0": st.fixed_dictionaries(
        {"complexity": st.sampled_from([1, 2, 3]), "mode": st.sampled_from(["generate", "repair", "mixed"])}
    ),
    "atropos_envs/InstructionFollowing-v0": st.fixed_dictionaries(
        {"max_constraints": st.integers(1, 5), "include_new": st.booleans()}
    ),
}


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(sorted(GENERATOR_SETTINGS)).flatmap(
        lambda env_id: st.tuples(st.just(env_id), GENERATOR_SETTINGS[env_id])
    ),
    st.integers(0, 10**9),
)
def test_same_index_same_task_in_fresh_envs(env_and_settings, index):
    env_id, kwargs = env_and_settings
    first = gym.make(env_id, **kwargs).unwrapped.get_task(index)
    second = gym.make(env_id, **kwargs).unwrapped.get_task(index)
    assert first == second and first["id"] == str(index)


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(sorted(GENERATOR_SETTINGS)), st.integers(0, 2**31 - 2))
def test_same_seed_same_first_observation(env_id, seed):
    a, b = gym.make(env_id).unwrapped, gym.make(env_id).unwrapped
    assert a.reset(seed=seed) == b.reset(seed=seed)
