"""Bad configuration ends in one clear line and a non-zero exit, no traceback."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def cli(*args, timeout=120, env=None):
    """The CLI in a subprocess (no ATROPOS_DEBUG; ``env`` adds or replaces variables)."""
    base = {k: v for k, v in os.environ.items() if k != "ATROPOS_DEBUG"}
    return subprocess.run(
        [sys.executable, "-m", "trainers.cli", *args],
        cwd=ROOT,
        env={**base, "COLUMNS": "300", **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize(
    "args,message",
    [
        (
            ["sample", "--env", "NoSuchEnv", "--server", "http://127.0.0.1:9"],
            "unknown environment 'NoSuchEnv'",
        ),
        (
            ["sample", "--env-arg", "difficulty=9", "--server", "http://127.0.0.1:9"],
            "difficulty must be one of",
        ),
        (["sample", "--env-arg", "nonsense", "--server", "http://127.0.0.1:9"], "--env-arg takes key=value"),
        (
            ["sample", "--tasks", "/nonexistent/tasks.jsonl", "--server", "http://127.0.0.1:9"],
            "does not exist",
        ),
        (["sample", "--model", "/nonexistent/model"], "is not a Hugging Face model folder"),
    ],
)
def test_bad_configuration_is_one_clear_line(args, message, tmp_path):
    result = cli(*args, "--out", str(tmp_path / "o.jsonl"))
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "config,args,message",
    [
        ("lerning_rate: 0.1\n", ["grpo"], "bad GRPO setting"),
        ("uniform_groups: sometimes\n", ["ppo"], "uniform_groups must be one of"),
        ("- a list\n", ["grpo"], "must hold a mapping"),
        (
            "steps: 2\n",
            ["grpo", "--server", "http://127.0.0.1:9"],
            "no vLLM server answered at http://127.0.0.1:9",
        ),
        (
            "report_to: [mlflow]\n",
            ["ppo", "--server", "http://127.0.0.1:9"],
            "report_to takes tensorboard, wandb",
        ),
    ],
)
def test_bad_training_configuration_is_one_clear_line(config, args, message, tmp_path):
    (tmp_path / "run.yaml").write_text(config)
    result = cli("train", *args, "--config", str(tmp_path / "run.yaml"), "--out", str(tmp_path / "run"))
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


def test_malformed_task_file_names_the_line(tmp_path):
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text('{"question": "1+1", "answer": "2"}\n{"question": \n')
    result = cli(
        "sample", "--tasks", str(tasks), "--server", "http://127.0.0.1:9", "--out", str(tmp_path / "o.jsonl")
    )
    assert result.returncode == 2 and "line 2" in result.stderr and "Traceback" not in result.stderr


def test_dead_server_stops_the_job_with_one_line(tmp_path):
    result = cli(
        "sample",
        "--server",
        "http://127.0.0.1:9",
        "--server-timeout",
        "3",
        "--out",
        str(tmp_path / "o.jsonl"),
    )
    assert result.returncode == 2
    assert "no vLLM server answered for 3 s (http://127.0.0.1:9)" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_sandbox_is_one_clear_line(tmp_path):
    bin_dir = Path(sys.executable).parent  # python and the CLI, but no bwrap on PATH
    result = cli(
        "sample",
        "--env",
        "Code",
        "--server",
        "http://127.0.0.1:9",
        "--out",
        str(tmp_path / "o.jsonl"),
        env={"PATH": str(bin_dir)},
    )
    assert result.returncode == 2
    assert (
        "no isolating sandbox: bubblewrap is not installed" in result.stderr
        and "Traceback" not in result.stderr
    )


def test_list_shows_builtins():
    result = cli("list")
    assert result.returncode == 0 and "atropos_envs/Format-v0" in result.stdout


def test_train_options_come_from_the_config_fields(tmp_path):
    """Every config field is an option (bools as --x/--no-x); the device check names the fix."""
    result = cli("train", "ppo", "--help")
    for option in (
        "--device",
        "--dtype",
        "--gradient-checkpointing",
        "--logprob-chunk",
        "--value-coef",
        "--no-whiten-advantages",
        "--kl-coef",
    ):
        assert option in result.stdout, option
    result = cli(
        "train", "grpo", "--dtype", "float16", "--server", "http://127.0.0.1:9", "--out", str(tmp_path / "r")
    )
    assert (
        result.returncode == 2
        and "dtype must be one of" in result.stderr
        and "Traceback" not in result.stderr
    )


def test_sample_and_evaluate_options_come_from_the_job_fields(tmp_path):
    """Every documented SamplingJob/SamplingParams field is an option of both commands (with
    its short flag); evaluate keeps every sample, so --keep is not one of its options."""
    from trainers.client import SamplingParams
    from trainers.config import options
    from trainers.rejection_sampling import SamplingJob

    sample_help = cli("sample", "--help").stdout
    evaluate_help = cli("evaluate", "--help").stdout
    flags = [o.flag for o in options(SamplingJob) + options(SamplingParams)]
    assert "--n" in flags and "--keep" in flags and "--tasks-in-flight" in flags
    for flag in flags:
        assert flag in sample_help, flag
        assert flag in evaluate_help or flag in ("--keep", "--near-duplicate", "--keep-truncated", "--select")
    assert "--keep " not in evaluate_help and "[default: 1000000]" in evaluate_help
    result = cli(
        "sample", "--tasks-in-flight", "0", "--server", "http://127.0.0.1:9", "--out", str(tmp_path / "o")
    )
    assert result.returncode == 2 and "tasks_in_flight must be a positive integer" in result.stderr
