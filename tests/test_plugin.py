"""A third-party env, installed from a temporary package, appears in `atropos-envs list`,
passes the contract tests (generic exploit probes included) and is probed by `atropos-envs
probe` with its own probes (``probes()``) and a plugin's (entry-point group
``atropos_envs.probes``), without any change to this project."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

PLUGIN_ENV = textwrap.dedent('''
    """Reverse-v0: answer with the word reversed."""
    import random

    from atropos_envs import Score, TextEnv, Trajectory


    class ReverseEnv(TextEnv):
        task_schema = {"word": "the word to reverse"}

        def generate_task(self, rng: random.Random) -> dict:
            return {"word": "".join(rng.choice("abcdefgh") for _ in range(rng.randint(3, 8)))}

        def prompt(self, task: dict) -> list[dict]:
            return [{"role": "system", "content": "Reply with the word reversed, nothing else."},
                    {"role": "user", "content": task["word"]}]

        def score(self, trajectory: Trajectory) -> Score:
            got, want = trajectory.last_completion.strip(), trajectory.task["word"][::-1]
            if not got:
                return Score(0.0, {"exact": 0.0}, "empty reply", outcome="invalid")
            ok = got == want
            return Score(float(ok), {"exact": float(ok)}, "exact match" if ok else f"expected {want!r}")

        def probes(self, task: dict) -> dict[str, list[str]]:
            return {"forward": [task["word"]], "sorted": ["".join(sorted(task["word"]))]}

        def reference_answer(self, task: dict) -> list[str]:
            return [task["word"][::-1]]


    def more_probes(env, task: dict) -> dict[str, list[str]]:
        """A probe plugin: (env, task) -> probes; nothing for the envs it does not know."""
        if not isinstance(env, ReverseEnv):
            return {}
        return {"reversed_twice": [task["word"][::-1][::-1]], "with_quotes": [repr(task["word"][::-1])]}
''')

PYPROJECT = textwrap.dedent("""
    [build-system]
    requires = ["setuptools"]
    build-backend = "setuptools.build_meta"

    [project]
    name = "toy-reverse-env"
    version = "0.0.1"

    [project.entry-points."atropos_envs.envs"]
    Reverse = "toy_reverse_env:ReverseEnv"

    [project.entry-points."atropos_envs.probes"]
    reverse_tricks = "toy_reverse_env:more_probes"
""")


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory):
    src = tmp_path_factory.mktemp("plugin-src")
    (src / "pyproject.toml").write_text(PYPROJECT)
    (src / "toy_reverse_env.py").write_text(PLUGIN_ENV)
    target = tmp_path_factory.mktemp("plugin-site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(src),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return target


def _run(args, plugin_path):
    env = {
        **os.environ,
        "PYTHONPATH": f"{plugin_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "COLUMNS": "200",
    }
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_plugin_appears_in_list(plugin_path):
    result = _run([sys.executable, "-m", "trainers.cli", "list"], plugin_path)
    assert result.returncode == 0, result.stderr
    assert "atropos_envs/Reverse-v0" in result.stdout
    assert "toy-reverse-env" in result.stdout


def test_plugin_passes_the_contract_tests(plugin_path):
    pytest_args = ["-v", "-p", "no:cacheprovider", "tests/test_contract.py", "-k", "Reverse"]
    result = _run([sys.executable, "-m", "pytest", *pytest_args], plugin_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "test_env_meets_the_contract[atropos_envs/Reverse-v0] PASSED" in result.stdout


def test_plugin_is_usable_through_gymnasium(plugin_path):
    code = (
        "import gymnasium as gym, atropos_envs\n"
        "env = gym.make('atropos_envs/Reverse-v0')\n"
        "obs, info = env.reset(seed=1)\n"
        "word = obs[-1]['content']\n"
        "print(env.step(word[::-1])[1])\n"
    )
    result = _run([sys.executable, "-c", code], plugin_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1.0"


def test_plugin_env_is_probed_with_its_own_and_plugin_probes(plugin_path):
    probe_args = ["probe", "--env", "Reverse", "--tasks", "6", "--json", "-"]
    result = _run([sys.executable, "-m", "trainers.cli", *probe_args], plugin_path)
    report = json.loads(result.stdout)
    probes = {(p["source"], p["probe"]): p for p in report["probes"]}
    assert {
        ("env", "forward"),
        ("env", "sorted"),
        ("plugin:reverse_tricks", "reversed_twice"),
        ("plugin:reverse_tricks", "with_quotes"),
        ("generic", "echo_prompt"),
    } <= set(probes)
    assert report["reference"]["mean_reward"] == 1.0 and report["reference"]["episodes"] == 6
    assert probes[("generic", "empty")]["outcomes"] == {"invalid": 6}
    # the word reversed twice is the word: paid only for a palindrome (none among these tasks)
    assert probes[("plugin:reverse_tricks", "reversed_twice")]["at_bar"] == 0
    assert (result.returncode == 1) == bool(report["exploits"]), result.stderr
