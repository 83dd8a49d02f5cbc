"""Code-v0: write a program; it runs against the task's tests in the sandbox.

Two task shapes, as in the common datasets:
- stdin/stdout (LiveCodeBench / APPS / CodeContests): ``tests`` = [{"input", "output"}],
  or APPS' ``input_output`` {"inputs", "outputs"}, or CodeContests' ``public_tests`` /
  ``private_tests`` {"input": [...], "output": [...]}. Each test is a separate run that
  sees only its own input; outputs are compared token by token on the host.
- function + asserts (HumanEval / MBPP): ``prompt``, ``test`` (defining ``check(candidate)``)
  and ``entry_point``, or MBPP's ``test_list`` of asserts. The tests run in a harness
  process the candidate cannot read (see code_harness.py).

The model's program is the last fenced code block of its answer (after any <think>).
Reward in [0, 1]: the fraction of tests passed (``reward="all"``: 1 only if all pass).
Without ``tasks=``, a small set of problems written for this project is used.
"""

from __future__ import annotations

import functools
import json
import re
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from atropos_envs.core import Score, TextEnv, Trajectory
from atropos_envs.sandbox import SandboxLimits, get_sandbox

PYTHON = "/usr/bin/python3"
BUILTIN_PROBLEMS = Path(__file__).parent / "data" / "code_problems.jsonl"
HARNESS = Path(__file__).with_name("code_harness.py")
_FENCE = re.compile(r"```[ \t]*(?:python3?|py)?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)


@dataclass
class CodeConfig:
    reward: str = "fraction"  # or "all"
    time_limit_s: float = 6.0
    memory_mb: int = 256
    parallel_runs: int = 4
    sandbox: str = "auto"

    def validate(self) -> None:
        if self.reward not in ("fraction", "all"):
            raise ValueError("reward must be 'fraction' or 'all'")


@functools.cache
def harness_source() -> str:
    return HARNESS.read_text()


def extract_code(text: str) -> str | None:
    """The last fenced code block, after any reasoning; None when there is none."""
    if "</think>" in text:
        text = text.rsplit("</think>", 1)[1]
    blocks = _FENCE.findall(text)
    return blocks[-1] if blocks else None


def outputs_match(got: str, expected: str) -> bool:
    return got.split() == expected.split()


def _io_tests(record: dict[str, Any]) -> list[dict[str, str]] | None:
    if isinstance(record.get("tests"), list):
        return [{"input": str(t["input"]), "output": str(t["output"])} for t in record["tests"]]
    io = record.get("input_output")
    if io is not None:
        io = json.loads(io) if isinstance(io, str) else io
        return [{"input": str(i), "output": str(o)} for i, o in zip(io["inputs"], io["outputs"])]
    tests = []
    for key in ("public_tests", "private_tests", "generated_tests"):
        block = record.get(key)
        if isinstance(block, dict):
            tests += [{"input": i, "output": o} for i, o in zip(block.get("input", []), block.get("output", []))]
    return tests or None


class CodeEnv(TextEnv):
    task_schema = {
        "question": "the problem statement (stdin/stdout tasks)",
        "tests": "[{input, output}] (or APPS input_output, CodeContests public_tests/private_tests)",
        "prompt / test / entry_point": "HumanEval-style function tasks (or MBPP text + test_list)",
    }

    Config = CodeConfig
    config: CodeConfig
    default_tasks = str(BUILTIN_PROBLEMS)

    def __init__(self, tasks=None, max_turns=None, render_mode=None, **settings: Any):
        super().__init__(tasks=tasks, max_turns=max_turns, render_mode=render_mode, **settings)
        self.sandbox = get_sandbox(self.config.sandbox)

    def task_from_record(self, record: dict[str, Any]) -> dict[str, Any]:
        tests = _io_tests(record)
        if tests is not None:
            statement = record.get("question") or record.get("problem") or record.get("description")
            if not isinstance(statement, str):
                raise ValueError("a stdin/stdout task needs a 'question' (or 'problem'/'description')")
            return {"kind": "io", "question": statement, "tests": tests}
        if isinstance(record.get("test"), str) and isinstance(record.get("entry_point"), str):
            imports = [ln for ln in record["prompt"].splitlines() if ln.startswith(("import ", "from "))]
            return {"kind": "function", "question": record["prompt"], "tests": [record["test"]], "header": "\n".join(imports),
                    "names": [record["entry_point"]], "entry_point": record["entry_point"]}  # fmt: skip
        if isinstance(record.get("test_list"), list):
            names = sorted({m for t in record["test_list"] for m in re.findall(r"assert\s+(?:not\s+)?\(?\s*(\w+)\s*\(", t)})
            if not names:
                raise ValueError("could not find the function name in test_list")
            setup = record.get("test_setup_code") or ""
            question = (record.get("text") or record.get("prompt") or "") + f"\nYour code should pass: {record['test_list'][0]}"
            return {"kind": "function", "question": question, "tests": [setup + "\n" + t for t in record["test_list"]],
                    "names": names, "entry_point": None}  # fmt: skip
        raise ValueError("needs stdin/stdout tests, or HumanEval 'test' + 'entry_point', or MBPP 'test_list'")

    def prompt(self, task: dict[str, Any]) -> list[dict[str, str]]:
        how = ("Read the input from standard input and print the answer to standard output."
               if task["kind"] == "io" else "Write the complete function (with its imports).")  # fmt: skip
        return [
            {"role": "system", "content": f"You are an expert Python programmer. {how} "
                                          "Put your final program in one ```python code block."},
            {"role": "user", "content": task["question"]},
        ]  # fmt: skip

    def _limits(self) -> SandboxLimits:
        return SandboxLimits(wall_time_s=self.config.time_limit_s, cpu_time_s=int(self.config.time_limit_s) + 1,
                             memory_mb=self.config.memory_mb)  # fmt: skip

    def _run_io(self, code: str, tests: list[dict[str, str]]) -> list[tuple[bool, str]]:
        def one(test: dict[str, str]) -> tuple[bool, str]:
            result = self.sandbox.run([PYTHON, "-I", "solution.py"], files={"solution.py": code},
                                      stdin=test["input"], limits=self._limits())  # fmt: skip
            if result.status != "ok":
                return False, result.status
            return (True, "ok") if outputs_match(result.stdout, test["output"]) else (False, "wrong")

        with ThreadPoolExecutor(self.config.parallel_runs) as pool:
            return list(pool.map(one, tests))

    def _run_function(self, code: str, task: dict[str, Any]) -> list[tuple[bool, str]]:
        nonce = secrets.token_hex(16)
        request = {"tests": task["tests"], "names": task["names"], "entry_point": task["entry_point"], "nonce": nonce}
        limits = self._limits()
        limits = SandboxLimits(**{**limits.__dict__, "wall_time_s": limits.wall_time_s * min(4, len(task["tests"]))})
        result = self.sandbox.run([PYTHON, "-I", "harness.py"], files={"harness.py": harness_source(), "solution.py": task.get("header", "") + "\n" + code},
                                  stdin=json.dumps(request), limits=limits)  # fmt: skip
        line = next((ln for ln in result.stdout.splitlines() if ln.startswith(nonce)), None)
        if line is None:
            why = result.status if result.status != "ok" else "crash"
            return [(False, why)] * len(task["tests"])
        return [(bool(ok), str(why)) for ok, why in json.loads(line[len(nonce):])]

    def score(self, trajectory: Trajectory) -> Score:
        task = trajectory.task
        n = len(task["tests"])
        code = extract_code(trajectory.last_completion)
        zero = {"fraction_passed": 0.0, "all_passed": 0.0, **{f"test_{i}": 0.0 for i in range(n)}}
        if code is None:
            return Score(0.0, zero, "no ```python code block in the answer")
        verdicts = self._run_io(code, task["tests"]) if task["kind"] == "io" else self._run_function(code, task)
        passed = sum(ok for ok, _ in verdicts)
        components = {"fraction_passed": passed / n, "all_passed": float(passed == n),
                      **{f"test_{i}": float(ok) for i, (ok, _) in enumerate(verdicts)}}  # fmt: skip
        statuses = ", ".join(f"{i}:{why}" for i, (_, why) in enumerate(verdicts))
        reward = components["fraction_passed"] if self.config.reward == "fraction" else components["all_passed"]
        return Score(reward, components, f"{passed}/{n} tests passed ({statuses})"[:1000])
