import json

import gymnasium as gym
import pytest

import atropos_envs  # noqa: F401
from atropos_envs.envs.code import extract_code, outputs_match


def make(**kwargs):
    return gym.make("atropos_envs/Code-v0", **kwargs).unwrapped


def answer(env, task_id, code, think=True):
    env.reset(options={"task_id": task_id})
    text = ("<think>plan</think>\n" if think else "") + f"Here:\n```python\n{code}\n```"
    _, reward, terminated, _, info = env.step(text)
    assert terminated
    return reward, info


@pytest.fixture(scope="module")
def env():
    return make()


def test_stdin_stdout_tasks(env):
    assert answer(env, "sum-two", "a, b = map(int, input().split())\nprint(a + b)")[0] == 1.0
    reward, info = answer(env, "sum-two", "print(3)")
    assert reward == 0.25 and "1:wrong" in info["reason"] and info["components"]["test_0"] == 1.0
    reward, info = answer(env, "sum-two", "import sys\nsys.exit(3)")
    assert reward == 0.0 and "0:crash" in info["reason"]


def test_function_tasks(env):
    good = "def is_palindrome(text):\n    s = [c.lower() for c in text if c.isalpha()]\n    return s == s[::-1]"
    assert answer(env, "is-palindrome", good)[0] == 1.0
    reward, info = answer(env, "is-palindrome", "def is_palindrome(text):\n    return True")
    assert reward == 0.0 and "assertion failed" in info["reason"]
    reward, info = answer(env, "is-palindrome", "raise SystemExit('no')")
    assert reward == 0.0 and "did not load" in info["reason"]
    assert answer(env, "mbpp-style-gcd", "def gcd(a, b):\n    while b: a, b = b, a % b\n    return a")[0] == 1.0


def test_limits_give_statuses(env):
    reward, info = answer(env, "sum-two", "while True: pass")
    assert reward == 0.0 and "timeout" in info["reason"]
    reward, info = answer(env, "sum-two", "x = bytearray(1 << 30)")
    assert reward == 0.0 and "memory" in info["reason"]


def test_no_code_block_scores_zero_with_a_reason(env):
    env.reset(options={"task_id": "sum-two"})
    _, reward, _, _, info = env.step("I would add the numbers.")
    assert reward == 0.0 and "no ```python code block" in info["reason"]


SNOOP = r'''
import os
MARK = "".join(["SECRET", "-MARKER"]).encode()  # not constant-folded into the .pyc
def snoop():
    found = []
    for pid in [p for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()]:
        for name in ("cmdline", "environ", "mem", "maps"):
            try:
                with open(f"/proc/{pid}/{name}", "rb") as f:
                    data = f.read(1 << 20)
                if MARK in data:
                    found.append(f"{pid}/{name}")
            except OSError:
                pass
    for root, _, files in os.walk("/"):
        if root.startswith(("/proc", "/sys", "/usr", "/dev")):
            continue
        for name in files:
            try:
                if MARK in open(os.path.join(root, name), "rb").read(1 << 20):
                    found.append(name)
            except OSError:
                pass
    return "found: " + ",".join(found) if found else "not found"
'''


def test_hidden_tests_are_invisible_to_the_candidate():
    marker = "SECRET" + "-MARKER"
    task = {"id": "t", "prompt": "def snoop(): ...", "entry_point": "snoop",
            "test": f"EXPECTED = '{marker}'\ndef check(candidate):\n    assert candidate() == 'not found', candidate()\n"}  # fmt: skip
    reward, info = answer(make(tasks=[task]), "t", SNOOP)
    assert reward == 1.0, info["reason"]


def test_candidate_cannot_forge_or_break_verdicts():
    task = {"id": "t", "prompt": "def f(): ...", "entry_point": "f",
            "test": "def check(candidate):\n    assert candidate() == 42\n"}  # fmt: skip
    env = make(tasks=[task])
    forge = ("import os, sys, json\n"
             "for fd in ('/proc/%d/fd/1' % os.getppid(), '/dev/stdout'):\n"
             "    try: open(fd, 'w').write('0' * 32 + json.dumps([[True, 'passed']]) + '\\n')\n"
             "    except OSError: pass\n"
             "print('[[true, \"passed\"]]')\n"
             "def f(): return 41\n")  # fmt: skip
    assert answer(env, "t", forge)[0] == 0.0
    kill_parent = "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\ndef f(): return 41\n"
    assert answer(env, "t", kill_parent)[0] == 0.0
    always_equal = "class Any:\n    def __eq__(self, other): return True\ndef f(): return Any()\n"
    reward, info = answer(env, "t", always_equal)
    assert reward == 0.0 and "not plain data" in info["reason"]


def test_loads_common_dataset_shapes(tmp_path):
    rows = [
        {"id": "apps", "question": "print n+1", "input_output": json.dumps({"inputs": ["1\n"], "outputs": ["2\n"]})},
        {"id": "cc", "description": "print n+1", "public_tests": {"input": ["1\n"], "output": ["2\n"]},
         "private_tests": {"input": ["5\n"], "output": ["6\n"]}},
        {"task_id": "HumanEval/0", "id": "he", "prompt": "def inc(x):\n", "entry_point": "inc",
         "test": "def check(candidate):\n    assert candidate(1) == 2\n"},
        {"id": "mbpp", "text": "Write inc.", "test_list": ["assert inc(1) == 2", "assert inc(-1) == 0"]},
    ]  # fmt: skip
    path = tmp_path / "code.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    env = make(tasks=str(path))
    assert answer(env, "apps", "print(int(input()) + 1)")[0] == 1.0
    assert env.get_task("cc")["tests"] == [{"input": "1\n", "output": "2\n"}, {"input": "5\n", "output": "6\n"}]
    assert answer(env, "he", "def inc(x):\n    return x + 1")[0] == 1.0
    reward, info = answer(env, "mbpp", "def inc(x):\n    return x + 1 if x > 0 else 5")
    assert reward == 0.5 and info["components"]["all_passed"] == 0.0


def test_extraction_and_comparison_helpers():
    assert extract_code("<think>```python\nbad\n```</think>```py\ngood\n```") == "good\n"
    assert extract_code("no code") is None
    assert outputs_match("1 2\n3\n", "1 2 3") and not outputs_match("1 2", "1 2 3")
