"""Error bars against hand-computed values: bootstrap intervals over tasks, the paired
sign-flip test, and ``compare`` on two evaluation outputs written by the real TaskLog."""

import json
import math

import pytest

from trainers.rejection_sampling import SamplingJob, summarize
from trainers.stats import (
    bootstrap_ci,
    compare_evaluations,
    paired,
    read_evaluation,
    sign_flip_p,
    summary_intervals,
)
from trainers.task_log import TaskLog


def test_bootstrap_of_constant_values_is_the_value():
    assert bootstrap_ci([0.5, 0.5, 0.5]) == (0.5, 0.5)


def test_bootstrap_of_two_tasks_spans_both():
    # resampled means of [0, 1] are 0, 0.5, 1 with probability 1/4, 1/2, 1/4: the 2.5th and
    # 97.5th percentiles are 0 and 1
    assert bootstrap_ci([0.0, 1.0]) == (0.0, 1.0)


def test_bootstrap_of_one_pass_in_four():
    # resampled means of [0, 0, 0, 1] are Binomial(4, 1/4) / 4: P(0) = 0.316, P(<= 0.5) = 0.949,
    # P(<= 0.75) = 0.996, so the interval is [0, 0.75]
    assert bootstrap_ci([0.0, 0.0, 0.0, 1.0]) == (0.0, 0.75)


def test_bootstrap_is_seeded_and_narrows_with_more_tasks():
    values = [0.0, 1.0, 1.0, 0.0, 1.0, 0.5, 0.25, 1.0]
    assert bootstrap_ci(values, seed=3) == bootstrap_ci(values, seed=3)
    low, high = bootstrap_ci(values)
    low_many, high_many = bootstrap_ci(values * 16)
    mean = sum(values) / len(values)
    assert low < low_many < mean < high_many < high
    assert all(math.isnan(x) for x in bootstrap_ci([]))  # no tasks, no interval
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_ci(values, confidence=95)


@pytest.mark.parametrize(
    ("differences", "p"),
    [
        ([1, 2, 3], 2 / 8),  # sign patterns sum to 6, 4, 2, 0, 0, -2, -4, -6: two reach |6|
        ([1, 1, 1, 1, 1], 2 / 32),
        ([1, -1], 1.0),
        ([0, 0, 0], 1.0),
        ([0.5, 0, 0.5, 0], 2 / 4),  # ties (0) carry no sign
    ],
)
def test_sign_flip_test_exact(differences, p):
    assert sign_flip_p(differences) == pytest.approx(p)


def test_sign_flip_test_sampled_beyond_exact_enumeration():
    # 20 tasks, all better: the exact p is 2 / 2**20; sampled, it is (hits + 1) / (20000 + 1)
    assert sign_flip_p([1.0] * 20) < 1e-3
    assert sign_flip_p([1.0, -1.0] * 10) == pytest.approx(1.0)


def test_paired_difference():
    a = {"0": 0.0, "1": 0.0, "2": 1.0, "only_a": 1.0}
    b = {"0": 1.0, "1": 1.0, "2": 1.0, "only_b": 0.0}
    report = paired(a, b)
    assert report["tasks"] == 3 and report["difference"] == pytest.approx(2 / 3)
    assert (report["a"], report["b"]) == (pytest.approx(1 / 3), 1.0)
    assert (report["b_better"], report["a_better"], report["ties"]) == (2, 0, 1)
    assert report["p_value"] == pytest.approx(0.5)  # [1, 1]: sums 2, 0, 0, -2
    # resampled means of [1, 1, 0]: 0 has probability 1/27 > 2.5 %, 1 has 8/27
    assert (report["ci95_low"], report["ci95_high"]) == (0.0, 1.0)
    with pytest.raises(ValueError, match="share no task"):
        paired({"x": 1.0}, {"y": 1.0})


def _evaluation(path, rewards_by_task, samples_per_task=2):
    job = SamplingJob(env_id="atropos_envs/Format-v0", samples_per_task=samples_per_task, keep_per_task=0)
    with TaskLog(path, job.settings()) as log:
        for task_id, rewards in rewards_by_task.items():
            log.commit(task_id, [], {"rewards": rewards, "passed": sum(r >= 1.0 for r in rewards)})
    return job


def test_compare_two_evaluations_by_task(tmp_path):
    _evaluation(tmp_path / "a.jsonl", {"0": [1.0, 0.0], "1": [0.0, 0.0], "2": [1.0, 1.0], "3": [0.5, 0.5]})
    _evaluation(tmp_path / "b.jsonl", {"0": [1.0, 1.0], "1": [1.0, 0.0], "2": [1.0, 1.0]})
    report = compare_evaluations(tmp_path / "a.jsonl", tmp_path / "b.jsonl.summary.json")
    assert (report["tasks_only_in_a"], report["tasks_only_in_b"]) == (1, 0)
    pass1, pass2 = report["metrics"]["pass@1"], report["metrics"]["pass@2"]
    # pass@1 per task: A 0.5, 0, 1; B 1, 0.5, 1 -> differences 0.5, 0.5, 0
    assert pass1["difference"] == pytest.approx(1 / 3) and pass1["p_value"] == pytest.approx(0.5)
    # pass@2 per task: A 1, 0, 1; B 1, 1, 1 -> differences 0, 1, 0; one sign: p = 1
    assert pass2["difference"] == pytest.approx(1 / 3) and pass2["p_value"] == pytest.approx(1.0)
    mean = report["metrics"]["mean_reward"]  # A 0.5, 0, 1; B 1, 0.5, 1
    assert (mean["a"], mean["b"]) == (pytest.approx(0.5), pytest.approx(2.5 / 3))
    assert report["solved_only_by_b"] == ["1"] and report["solved_only_by_a"] == []
    assert "sign-flip" in report["method"]
    json.dumps(report)  # the JSON report is plain data


def test_read_evaluation_skips_foreign_and_repeated_lines(tmp_path):
    _evaluation(tmp_path / "a.jsonl", {"0": [1.0, 0.0]})
    progress = tmp_path / "a.jsonl.progress"
    lines = progress.read_text().splitlines()
    foreign = {**json.loads(lines[1]), "job": "another", "task_id": "9"}
    progress.write_text("\n".join([*lines, lines[1], json.dumps(foreign), "{torn"]) + "\n")
    _, entries = read_evaluation(tmp_path / "a.jsonl")
    assert [e["task_id"] for e in entries] == ["0"]
    with pytest.raises(ValueError, match="progress file"):
        read_evaluation(tmp_path / "missing.jsonl")


def test_summary_carries_intervals():
    job = SamplingJob(env_id="x", samples_per_task=2)
    entries = [
        {
            "task_id": "0",
            "records": 0,
            "rewards": [1.0, 1.0],
            "passed": 2,
            "hit_token_limit": 0,
            "completion_tokens": 1,
        },
        {
            "task_id": "1",
            "records": 0,
            "rewards": [0.0, 0.0],
            "passed": 0,
            "hit_token_limit": 0,
            "completion_tokens": 1,
        },
    ]
    summary = summarize(entries, job, 1.0)
    assert summary["ci95"] == {"mean_reward": [0.0, 1.0], "pass@1": [0.0, 1.0], "pass@2": [0.0, 1.0]}
    assert "bootstrap" in summary["ci95_method"]
    assert summary_intervals(entries[:1], k=1) == {"mean_reward": [1.0, 1.0], "pass@1": [1.0, 1.0]}


def test_compare_command(tmp_path):
    from typer.testing import CliRunner

    from trainers.cli import app

    _evaluation(tmp_path / "a.jsonl", {"0": [0.0, 0.0], "1": [1.0, 0.0]})
    _evaluation(tmp_path / "b.jsonl", {"0": [1.0, 1.0], "1": [1.0, 1.0]})
    result = CliRunner().invoke(
        app,
        ["compare", str(tmp_path / "a.jsonl"), str(tmp_path / "b.jsonl"), "--json", str(tmp_path / "r")],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert (
        "pass@1" in result.output and "+0.750" in result.output and "solved only by B (1): 0" in result.output
    )
    assert json.loads((tmp_path / "r").read_text())["metrics"]["pass@1"]["difference"] == 0.75
    missing = CliRunner().invoke(app, ["compare", str(tmp_path / "a.jsonl"), str(tmp_path / "nope.jsonl")])
    assert missing.exit_code == 2 and "progress file" in missing.output
