"""Which verified samples are kept: ``--select first|best|shortest|diverse`` (trainers/selection.py)."""

import gymnasium as gym
import pytest

import atropos_envs  # noqa: F401 - registers the envs
from trainers.rejection_sampling import SamplingJob, select
from trainers.rollout import Rollout, Turn
from trainers.selection import choose, diverse


def scored(env, task_id, index, reply, tokens):
    """A rollout of one reply, scored by the real env (Format-v0)."""
    episode = env.start(task_id)
    _, reward, terminated, truncated, info = episode.step(reply)
    turn = Turn([1], list(range(tokens)), [-0.1] * tokens, "stop", reward=reward)
    return Rollout(
        task_id,
        index,
        [dict(m) for m in episode.messages],
        reward,
        info["components"],
        info["reason"],
        terminated,
        truncated,
        [turn],
        info["outcome"],
    )


@pytest.fixture(scope="module")
def samples():
    env = gym.make("atropos_envs/Format-v0").unwrapped
    task_id = env.task_ids(1)[0]
    answer = env.start(task_id).task["answer"]
    replies = [  # (reply, completion tokens)
        ("<think>I will just guess a number here.</think> \\boxed{0}", 20),  # wrong: 0.2
        (
            f"<think>Multiply the two numbers step by step, check it.</think> \\boxed{{{answer}}}",
            30,
        ),
        (
            f"<think>multiply the two numbers step by step, check it!</think> \\boxed{{{answer}}}",
            25,
        ),
        (f"<think>Quick.</think> \\boxed{{{answer}}}", 8),
        (f"<think>Count groups: repeated addition gives it; verified twice.</think> \\boxed{{{answer}}}", 30),
    ]
    return [scored(env, task_id, i, reply, tokens) for i, (reply, tokens) in enumerate(replies)]


def indices(rollouts):
    return [r.sample_index for r in rollouts]


def test_the_env_scored_the_samples(samples):
    assert [r.reward for r in samples] == [0.2, 1.0, 1.0, 1.0, 1.0]


def test_first_is_the_default_and_keeps_todays_order(samples):
    job = SamplingJob(env_id="x", keep_per_task=3, threshold=1.0)
    assert job.select == "first"
    assert indices(select(samples, job)) == [1, 3, 4]  # 2 is a near duplicate of 1


def test_best_is_the_highest_reward_then_the_shortest(samples):
    assert indices(choose(samples, "best", 3, 0.9)) == [3, 2, 4]  # all 1.0 but sample 0: shortest first
    job = SamplingJob(env_id="x", keep_per_task=2, threshold=0.1, select="best")
    assert indices(select(samples, job)) == [3, 2]  # a lower threshold admits 0, which loses on reward


def test_shortest_ignores_reward_among_the_verified(samples):
    assert indices(choose(samples, "shortest", 5, 0.9)) == [3, 0, 2, 4]


def test_diverse_takes_the_best_then_the_least_similar(samples):
    verified = [r for r in samples if r.reward >= 1.0]
    picked = diverse(verified, 3, 0.9)
    assert indices(picked)[0] == 3  # the best one first
    assert set(indices(picked)) == {3, 2, 4} or set(indices(picked)) == {3, 1, 4}
    assert not {1, 2} <= set(indices(picked))  # never both near-duplicates
    assert indices(diverse(verified, 1, 0.9)) == [3] and diverse([], 3, 0.9) == []


def test_selection_keeps_at_most_k_and_names_bad_modes(samples):
    assert len(choose(samples, "diverse", 2, 0.9)) == 2
    with pytest.raises(ValueError, match="select must be one of"):
        choose(samples, "longest", 2, 0.9)
    with pytest.raises(ValueError, match="select must be one of"):
        SamplingJob(env_id="x", select="longest").validate()


@pytest.mark.parametrize(
    "args, message",
    [
        (["sample", "--select", "longest"], "select must be one of"),
        (["sample", "--termination-out", "t.jsonl"], "--termination-out needs --think-budget"),
        (["evaluate", "--answer-budget", "8"], "answer_budget needs think_budget"),
        (["train", "grpo", "--overlong", "drop"], "overlong must be one of"),
    ],
)
def test_bad_options_end_in_one_line_before_any_server(args, message, tmp_path):
    from tests.trainers.test_cli import cli

    result = cli(*args, "--out", str(tmp_path / "out.jsonl"))
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert not (tmp_path / "out.jsonl").exists()
