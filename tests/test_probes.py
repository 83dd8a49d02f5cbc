"""Exploit probes: no probe (generic or the env's own) may get paid on any built-in env, the
honest reference answer must, and the command reports it (table, JSON, exit code)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import pytest

import atropos_envs  # noqa: F401  (registers the envs)
from atropos_envs import Score, TextEnv, Trajectory
from atropos_envs.probes import FORMAT_SHELLS, HOSTILE_UNICODE, PASS_BAR, generic_probes, play, run_probes
from atropos_envs.registry import builtin_env_ids

ROOT = Path(__file__).resolve().parents[1]
# Sized to run well under a minute per env: Code runs the sandbox per test, ToolUse's python tool too.
TASKS = {"Code": 3, "ToolUse": 8, "InstructionFollowing": 16, "Format": 40, "JsonSchema": 40}


@pytest.mark.parametrize("env_id", builtin_env_ids())
def test_no_probe_reaches_the_bar(env_id):
    name = env_id.split("/")[1].removesuffix("-v0")
    env = gym.make(env_id).unwrapped
    report = run_probes(env, env_id=env_id, num_tasks=TASKS.get(name, 10), plugins=[])
    assert {p.name for p in report.probes if p.source == "generic"} >= {"empty", "echo_prompt", "junk_100kB"}
    paid = {
        f"{p.source}:{p.name}": f"{p.at_bar(PASS_BAR)}/{len(p.rewards)} ({p.best[1]}: {p.best[2][:90]})"
        for p in report.exploits
    }
    assert not paid, f"probes paid on {env_id}: {paid}"
    if report.reference is not None:  # an honest answer the env writes must be paid
        assert min(report.reference.rewards) >= PASS_BAR, report.reference.as_dict(PASS_BAR)


def test_generic_probes_cover_every_class():
    env = gym.make("atropos_envs/Format-v0").unwrapped
    task = env.get_task("0")
    probes = generic_probes(env, task)
    system, user = (m["content"] for m in env.prompt(task))
    assert (
        probes["empty"] == [""]
        and not probes["whitespace"][0].strip()
        and len(probes["one_token"][0].split()) == 1
    )
    assert probes["echo_prompt"] == [user] and probes["echo_system"] == [system]
    assert 99_000 <= len(probes["junk_100kB"][0]) <= 100_000
    assert probes["junk_100kB"] == generic_probes(env, task)["junk_100kB"]  # deterministic per task
    for marker in ("\u202e", "\u200d", "\ud800", "\x00"):  # RTL override, ZWJ, lone surrogate, NUL
        assert marker in probes["hostile_unicode"][0]
    assert probes["hostile_unicode"] == [HOSTILE_UNICODE]
    shells = [probes[name][0] for name in FORMAT_SHELLS]
    for fragment in ("\\boxed{}", "<answer></answer>", "\n{}", "```python\n```", '{"arguments": {}}'):
        assert any(fragment in s and s.startswith("<think></think>") for s in shells), fragment


class EchoTurnsEnv(TextEnv):
    """Three turns; the score is 1 when the assistant's turns were exactly a, b, b."""

    default_max_turns = 3

    def generate_task(self, rng):
        return {"word": "w"}

    def prompt(self, task):
        return [{"role": "user", "content": "say a then b"}]

    def respond(self, task, messages, state):
        return [{"role": "user", "content": f"again {len(messages)}"}]

    def score(self, trajectory: Trajectory) -> Score:
        ok = trajectory.completions == ["a", "b", "b"]
        return Score(float(ok), {}, f"turns {trajectory.completions}")


def test_a_probe_repeats_its_last_turn_and_repeat_observation_replays_the_env():
    env = EchoTurnsEnv()
    assert play(env, "0", ["a", "b"]) == (1.0, "truncated", "turns ['a', 'b', 'b']")
    reward, outcome, reason = play(env, "0", None)
    assert (reward, outcome) == (
        0.0,
        "truncated",
    ) and reason == "turns ['say a then b', 'again 2', 'again 4']"


class RaisingEnv(EchoTurnsEnv):
    default_max_turns = 1

    def score(self, trajectory):
        raise RuntimeError("scorer bug\nsecond line")

    def probes(self, task):
        return {"mine": ["a"]}

    def reference_answer(self, task):
        return ["a"]


def test_env_errors_are_reported_as_outcomes_not_raised():
    report = run_probes(RaisingEnv(), num_tasks=2, plugins=[])
    mine = next(p for p in report.probes if p.name == "mine")
    assert mine.source == "env" and mine.outcomes == {"error": 2}
    assert mine.best[2] == "the env raised RuntimeError: scorer bug"
    assert report.reference is not None and report.reference.rewards == [0.0, 0.0] and not report.exploits


def test_plugin_probe_sources_and_bad_probe_shapes():
    env = EchoTurnsEnv(max_turns=1)
    report = run_probes(env, num_tasks=1, bar=0.0, plugins=[("mine", lambda env, task: {"x": ["a"]})])
    assert ("plugin:mine", "x") in {(p.source, p.name) for p in report.probes}
    assert report.exploits  # bar 0: everything is "paid"
    with pytest.raises(ValueError, match="probe plugin 'bad' must return a dict"):
        run_probes(env, num_tasks=1, plugins=[("bad", lambda env, task: {"x": "not a list"})])


def _cli(*args):
    env = {
        **os.environ,
        "COLUMNS": "200",
        "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
    }
    return subprocess.run(
        [sys.executable, "-m", "trainers.cli", "probe", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_probe_command_table_json_and_exit_codes(tmp_path):
    result = _cli("--env", "Format", "--tasks", "2", "--json", "-")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["env"] == "atropos_envs/Format-v0" and report["tasks"] == 2 and report["passed"] is True
    assert (
        "echo_prompt" in result.stderr and ">= 0.5" in result.stderr
    )  # the table goes to stderr with --json -
    out = tmp_path / "probe.json"
    result = _cli("--env", "Format", "--tasks", "1", "--bar", "0", "--json", str(out))
    assert result.returncode == 1  # bar 0: every probe "reaches" it
    assert json.loads(out.read_text())["passed"] is False and "echo_prompt" in result.stdout
    result = _cli("--env", "NoSuchEnv")
    assert result.returncode == 2 and "unknown environment 'NoSuchEnv'" in result.stderr
