import pytest

from trainers.rejection_sampling import SamplingJob, distinct, pass_at_k, select, summarize
from trainers.rollout import Rollout, Turn, sample_seed


def rollout(i, text, reward=1.0, finish="stop"):
    return Rollout("t", i, [{"role": "user", "content": "q"}, {"role": "assistant", "content": text}],
                   reward, {}, "r", True, False, [Turn([1], [2, 3], [-0.1, -0.2], finish)])  # fmt: skip


def test_pass_at_k_matches_hand_computed_values():
    assert pass_at_k(8, 0, 1) == 0.0
    assert pass_at_k(8, 8, 1) == 1.0
    assert pass_at_k(8, 2, 1) == pytest.approx(0.25)
    assert pass_at_k(4, 1, 2) == pytest.approx(1 - 3 / 6)  # 1 - C(3,2)/C(4,2)
    assert pass_at_k(8, 7, 2) == 1.0


def test_distinct_drops_exact_and_near_duplicates():
    base = "<think>seven plus five makes twelve so the answer is twelve</think> \\boxed{12}"
    rollouts = [
        rollout(0, base),
        rollout(1, "  " + base.upper()),  # exact duplicate up to case and spacing
        rollout(2, base.replace("makes", "gives")),  # near duplicate
        rollout(3, "<think>7 + 5 = 12</think> \\boxed{12}"),
        rollout(4, "<think>count up from seven five times</think> \\boxed{12}"),
    ]
    assert [r.sample_index for r in distinct(rollouts, 5, 0.9)] == [0, 3, 4]
    assert [r.sample_index for r in distinct(rollouts, 2, 0.9)] == [0, 3]


def test_select_keeps_verified_untruncated_samples_only():
    job = SamplingJob(env_id="x", keep_per_task=3, threshold=1.0)
    rollouts = [rollout(0, "a b c d", 0.2), rollout(1, "e f g h", 1.0, "length"), rollout(2, "i j k l", 1.0)]
    assert [r.sample_index for r in select(rollouts, job)] == [2]
    job.keep_per_task = 0  # evaluate keeps everything
    assert len(select(rollouts, job)) == 3


def test_sample_seed_is_stable_and_distinct():
    assert sample_seed(0, "1", 0) == sample_seed(0, "1", 0)
    seeds = {sample_seed(0, str(t), i) for t in range(50) for i in range(8)}
    assert len(seeds) == 400 and all(0 <= s < 2**31 for s in seeds)


def test_summary_counts():
    job = SamplingJob(env_id="x", samples_per_task=2)
    entries = [
        {"records": 1, "rewards": [1.0, 0.0], "passed": 1, "hit_token_limit": 0, "completion_tokens": 10},
        {"records": 0, "rewards": [0.0, 0.0], "passed": 0, "hit_token_limit": 1, "completion_tokens": 20},
    ]
    s = summarize(entries, job, 1.0)
    assert (s["tasks"], s["samples"], s["kept"], s["acceptance_rate"], s["mean_reward"]) == (2, 4, 1, 0.25, 0.25)
    assert s["pass@1"] == pytest.approx(0.25) and s["pass@2"] == pytest.approx(0.5)
