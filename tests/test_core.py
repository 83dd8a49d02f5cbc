"""The env contract's own machinery: settings through ``Config``, outcomes, and the README's example env."""

import re
from pathlib import Path

import pytest

from atropos_envs import Score, TextEnv, Trajectory
from atropos_envs.checker import check_text_env

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_env_namespace() -> dict:
    """Runs the code block of the README's 'Writing an environment' section (our own text)."""
    section = README.read_text().split("## Writing an environment", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, flags=re.DOTALL).group(1)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - the project's own README
    return namespace


def test_readme_example_env_meets_the_contract_and_builds_its_config():
    reverse_env = readme_env_namespace()["ReverseEnv"]
    env = reverse_env(min_len=5, max_len=5)
    assert env.config.min_len == 5
    check_text_env(env)
    obs, info = env.reset(seed=3)
    word = obs[-1]["content"]
    assert len(word) == 5
    _, reward, terminated, _, info = env.step(word[::-1])
    assert (reward, terminated, info["outcome"]) == (1.0, True, "ok")
    env.reset(seed=3)
    assert env.step("")[4]["outcome"] == "invalid"
    assert env.reference_answer({"word": "abc"}) == ["cba"]


def test_unknown_setting_names_the_valid_ones():
    reverse_env = readme_env_namespace()["ReverseEnv"]
    with pytest.raises(TypeError, match="no setting 'max_lenght'; valid: min_len, max_len"):
        reverse_env(max_lenght=5)


def test_validate_runs_on_construction():
    reverse_env = readme_env_namespace()["ReverseEnv"]
    with pytest.raises(ValueError, match="min_len <= max_len"):
        reverse_env(min_len=9, max_len=2)


class _Plain(TextEnv):
    default_max_turns = 2

    def generate_task(self, rng):
        return {"q": rng.randint(0, 9)}

    def prompt(self, task):
        return [{"role": "user", "content": str(task["q"])}]

    def respond(self, task, messages, state):
        return [{"role": "user", "content": "again"}]  # never ends by itself

    def score(self, trajectory: Trajectory) -> Score:
        return Score(0.0, {}, "judged")


def test_env_without_config_takes_no_settings():
    assert _Plain().config is None
    with pytest.raises(TypeError, match="takes no settings"):
        _Plain(difficulty=2)


def test_turn_limit_is_reported_as_truncated():
    env = _Plain()
    env.reset(seed=0)
    _, _, terminated, truncated, info = env.step("a")
    assert (terminated, truncated, info["outcome"]) == (False, False, "continues")
    _, _, terminated, truncated, info = env.step("b")
    assert (terminated, truncated, info["outcome"]) == (False, True, "truncated")


def test_score_outcome_must_be_known():
    with pytest.raises(ValueError, match="outcome must be one of"):
        Score(0.0, {}, "x", outcome="weird")
