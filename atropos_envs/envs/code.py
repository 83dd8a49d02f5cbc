"""Code-v0: write a program; it runs against the task's tests in the sandbox.

Two task shapes, as in the common datasets (fields checked at load: code_tasks.py):
- stdin/stdout (LiveCodeBench / APPS / CodeContests): ``tests`` = [{"input", "output"}],
  or APPS' ``input_output`` {"inputs", "outputs"}, or CodeContests' ``public_tests`` /
  ``private_tests`` {"input": [...], "output": [...]}. Each test is a separate run that
  sees only its own input; outputs are compared token by token on the host (a decimal
  number within 1e-6, absolute or relative, counts as equal; integers stay exact).
- function + asserts (HumanEval / MBPP), run as their own harnesses run them: HumanEval's
  prompt + completion, ``test``, ``check(entry_point)``; MBPP's ``test_setup_code`` +
  ``test_imports`` + candidate + each assert of ``test_list``. The tests run in a harness
  process the candidate cannot read or write; values cross from the candidate's functions
  as plain data and are rebuilt there as safe built-in types (container subclasses as their
  base type, Fraction, Decimal, complex, range, returned iterators as iterators); in-place
  changes of list/dict/set/bytearray arguments come back; callbacks run in the harness
  (see code_harness.py for what cannot cross).

The model's program is the last fenced block tagged python/py/python3(.x) of its answer (after
any <think>; blocks in other languages are skipped), else its last untagged block.
Reward in [0, 1]: the tests shown in the prompt (MBPP's first assert, CodeContests' public
tests) are a gate: if one fails, 0; else the fraction passed of the tests not shown (of all
tests when every test is shown; ``reward="all"``: 1 only if all pass). So hard-coding what the
prompt shows is not paid; what remains is a constant that happens to match weak hidden tests
(e.g. MBPP 20's hidden asserts all expect False). Each test has ``time_limit_s``; one step has
``step_time_budget_s`` in all, the sandbox's and harness's own time included (and an episode
``episode_time_budget_s``; Code-v0 scores once, at the end of its single turn). Outcome:
``invalid`` (no code block), ``timeout`` (a test or the budget ran out of time), ``error``
(the harness could not run a test, or crashed), else ``ok`` (a harness killed by a signal,
which the candidate can send, is the candidate's failure). Dataset ids (HumanEval/MBPP ``task_id``,
LiveCodeBench ``question_id``) are kept on the task. Without ``tasks=``, a small set of
problems written for this project is used, each with a reference solution.
"""

from __future__ import annotations

import functools
import json
import math
import secrets
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from atropos_envs.core import Score, TextEnv, Trajectory
from atropos_envs.envs import code_probes, code_tasks
from atropos_envs.sandbox import RunResult, SandboxLimits, get_sandbox
from rewards.code_output import extract_code, outputs_match

PYTHON = "/usr/bin/python3"
BUILTIN_PROBLEMS = Path(__file__).parent / "data" / "code_problems.jsonl"
HARNESS = Path(__file__).with_name("code_harness.py")
STEP_MARGIN_S = 0.5  # a sandbox's start and clean-up, within the step budget
HARNESS_MARGIN_S = 1.5  # the function harness's own start and report, within the step budget
MIN_RUN_S = 0.05  # no stdin/stdout run starts with less time than this


@dataclass
class CodeConfig:
    reward: str = "fraction"  # or "all"
    time_limit_s: float = 6.0  # one test
    step_time_budget_s: float = 30.0  # all the tests of one step together
    episode_time_budget_s: float = 60.0
    memory_mb: int = 256
    parallel_runs: int = 4
    sandbox: str = "auto"

    def validate(self) -> None:
        if self.reward not in ("fraction", "all"):
            raise ValueError("reward must be 'fraction' or 'all'")
        for name in ("time_limit_s", "step_time_budget_s", "episode_time_budget_s"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
        if not isinstance(self.parallel_runs, int) or self.parallel_runs < 1:
            raise ValueError(f"parallel_runs must be a positive integer, got {self.parallel_runs!r}")


@functools.cache
def harness_source() -> str:
    return HARNESS.read_text()


class CodeEnv(TextEnv):
    task_schema = {
        "question": "the problem statement (stdin/stdout tasks)",
        "tests": "[{input, output}] (or APPS input_output, CodeContests public_tests/private_tests)",
        "prompt / test / entry_point": "HumanEval function tasks (canonical_solution: the reference)",
        "text / test_list": "MBPP function tasks (+ test_setup_code, test_imports; code: the reference)",
        "solution": "a reference program for a stdin/stdout task (optional)",
    }

    Config = CodeConfig
    config: CodeConfig
    default_tasks = str(BUILTIN_PROBLEMS)

    def __init__(self, tasks=None, max_turns=None, render_mode=None, **settings: Any):
        super().__init__(tasks=tasks, max_turns=max_turns, render_mode=render_mode, **settings)
        self.sandbox = get_sandbox(self.config.sandbox)

    def task_from_record(self, record: dict[str, Any]) -> dict[str, Any]:
        return code_tasks.task_from_record(record)

    def prompt(self, task: dict[str, Any]) -> list[dict[str, str]]:
        how = (
            "Read the input from standard input and print the answer to standard output."
            if task["kind"] == "io"
            else "Write the complete function (with its imports)."
        )
        return [
            {
                "role": "system",
                "content": f"You are an expert Python programmer. {how} "
                "Put your final program in one ```python code block.",
            },
            {"role": "user", "content": task["question"]},
        ]

    def probes(self, task: dict[str, Any]) -> dict[str, list[str]]:
        return {name: [f"```python\n{program}\n```"] for name, program in code_probes.programs(task).items()}

    def reference_answer(self, task: dict[str, Any]) -> list[str] | None:
        return [f"```python\n{task['solution']}\n```"] if task.get("solution") else None

    def _budget_s(self) -> float:
        return min(self.config.step_time_budget_s, self.config.episode_time_budget_s)

    def _limits(self, wall_s: float) -> SandboxLimits:
        cpu_s = math.ceil(wall_s) + 1
        return SandboxLimits(wall_time_s=wall_s, cpu_time_s=cpu_s, memory_mb=self.config.memory_mb)

    def _io_test(self, code: str, test: dict[str, str], wall: float) -> tuple[str, str]:
        result = self.sandbox.run(
            [PYTHON, "-I", "solution.py"],
            files={"solution.py": code},
            stdin=test["input"],
            limits=self._limits(wall),
        )
        if result.status == "timeout":
            return "timeout", f"no exit within {wall:.1f} s"
        if result.status != "ok":
            return "failed", result.status
        return ("passed", "") if outputs_match(result.stdout, test["output"]) else ("failed", "wrong")

    def _run_io(self, code: str, tests: list[dict[str, str]], deadline: float) -> list[tuple[str, str]]:
        """Each test its own sandboxed run, ``parallel_runs`` at a time; no run starts once the
        budget (less the sandbox's own start and clean-up) is spent."""
        verdicts = [("timeout", "the step's time budget ran out")] * len(tests)
        stop = deadline - _margin_s(deadline - time.monotonic(), STEP_MARGIN_S)
        pending, lock = iter(range(len(tests))), threading.Lock()

        def worker() -> None:
            while (wall := min(self.config.time_limit_s, stop - time.monotonic())) > MIN_RUN_S:
                with lock:
                    index = next(pending, None)
                if index is None:
                    return
                verdicts[index] = self._io_test(code, tests[index], wall)

        with ThreadPoolExecutor(self.config.parallel_runs) as pool:
            for future in [pool.submit(worker) for _ in range(self.config.parallel_runs)]:
                future.result()
        return verdicts

    def _run_function(self, code: str, task: dict[str, Any], deadline: float) -> list[tuple[str, str]]:
        nonce = secrets.token_hex(16)
        left = deadline - time.monotonic()
        wall = left - _margin_s(left, STEP_MARGIN_S)  # the sandbox's start and clean-up
        request = {
            "setup": task["setup"],
            "tests": task["tests"],
            "names": task["names"],
            "entry_point": task["entry_point"],
            "nonce": nonce,
            "budget_s": wall - _margin_s(wall, HARNESS_MARGIN_S),  # the harness's own start and report
            "test_time_s": self.config.time_limit_s,
        }
        files = {"harness.py": harness_source(), "solution.py": task["prefix"] + "\n" + code}
        result = self.sandbox.run(
            [PYTHON, "-I", "harness.py"], files=files, stdin=json.dumps(request), limits=self._limits(wall)
        )
        line = next((ln for ln in result.stdout.splitlines() if ln.startswith(nonce)), None)
        if line is None:
            return [_harness_silent(result)] * len(task["tests"])
        return [(str(status), str(why)) for status, why in json.loads(line[len(nonce) :])]

    def score(self, trajectory: Trajectory) -> Score:
        deadline = time.monotonic() + self._budget_s()
        task = trajectory.task
        n = len(task["tests"])
        code = extract_code(trajectory.last_completion)
        zero = {"fraction_passed": 0.0, "all_passed": 0.0, "shown_passed": 0.0}
        zero.update({f"test_{i}": 0.0 for i in range(n)})
        if code is None:
            return Score(0.0, zero, "no ```python code block in the answer", outcome="invalid")
        code = code.encode("utf-8", errors="replace").decode("utf-8")  # lone surrogates become '?'
        if task["kind"] == "io":
            verdicts = self._run_io(code, task["tests"], deadline)
        else:
            verdicts = self._run_function(code, task, deadline)
        passed = [status == "passed" for status, _ in verdicts]
        shown = set(task.get("shown", ()))
        graded = [i for i in range(n) if i not in shown] or list(range(n))
        gate = all(passed[i] for i in shown)
        components = {
            "fraction_passed": gate * sum(passed[i] for i in graded) / len(graded),
            "all_passed": float(all(passed)),
            "shown_passed": float(gate),
        }
        components.update({f"test_{i}": float(ok) for i, ok in enumerate(passed)})
        statuses = {status for status, _ in verdicts}
        outcome = "error" if "error" in statuses else "timeout" if "timeout" in statuses else "ok"
        reward = components["fraction_passed" if self.config.reward == "fraction" else "all_passed"]
        head = f"{sum(passed)}/{n} tests passed"
        if not gate:
            head += f"; a test shown in the prompt ({', '.join(map(str, sorted(shown)))}) failed: no reward"
        elif len(graded) < n:
            head += f"; the reward counts the {len(graded)} tests not shown in the prompt"
        details = ", ".join(
            f"{i}:{s}" + (f" ({why})" if why else "") for i, (s, why) in enumerate(verdicts[:200])
        )
        return Score(reward, components, f"{head}: {details}"[:1000], outcome=outcome)


def _margin_s(left_s: float, margin_s: float) -> float:
    """``margin_s``, or a quarter of what is left when that is short (small budgets in tests)."""
    return min(margin_s, max(left_s, 0.0) / 4)


def _harness_silent(result: RunResult) -> tuple[str, str]:
    """The verdict of every test when the harness reported nothing. The candidate runs as the same
    user as the harness and can signal it: death by a signal (SIGXCPU included: the harness
    itself uses little CPU) or the memory limit is the candidate's failure; the wall-time limit
    is a timeout; anything else (the harness crashed) is the env's error."""
    code = result.exit_code
    number = -code if code is not None and code < 0 else code - 128 if code is not None and code > 128 else 0
    if result.status == "timeout" and result.detail.startswith("stopped after"):
        return "timeout", f"the harness reported nothing within the step budget ({result.detail})"
    if result.status == "memory":
        return "failed", f"the harness was stopped: {result.detail}"
    if 0 < number < signal.NSIG:
        try:
            name = signal.Signals(number).name
        except ValueError:  # a real-time signal
            name = f"signal {number}"
        return "failed", f"the harness was killed by {name} (the candidate can signal it)"
    return "error", f"the harness reported nothing (sandbox: {result.status} {result.detail})".strip()
