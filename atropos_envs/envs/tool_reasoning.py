"""ToolReasoning-v0: reasoning interleaved with Python runs, as in Hermes 4's tool-integrated
reasoning.

The model thinks inside one ``<think>`` block and, while thinking, may run Python:
``<tool_call>{"name": "python", "arguments": {"code": "..."}}</tool_call>``, then stop. The env
runs the code in the sandbox (the same python tool as ToolUse-v0: bubblewrap, 5 s, no
network) and answers with a ``tool`` message ``<tool_response>{"name": "python", "content":
stdout}</tool_response>``; the model continues its reasoning in the next assistant message.
The reasoning ends with ``</think>`` and the answer as ``\\boxed{...}``: a message containing
``</think>``, or one without a call, ends the episode. The assistant messages, joined, must
hold exactly one non-empty ``<think>`` block at the start and one ``\\boxed{}`` after it; a
message that writes its own tool result is malformed: any tag that looks like one
(``<tool_response>`` in any case or spacing, closing or self-closing, ``<tool_output>``,
``<tool_result>``, HTML-escaped; ``rewards.tool_reasoning.invented_result``). Both score 0,
outcome ``invalid``. Drivers may stop generation at ``</tool_call>`` and ``<tool_response>``
(``STOP_SEQUENCES``: the exact tags a model emits; the variants are caught by the scorer, not
the stop; a message ending in a call the stop left unclosed is run as closed); the env also
works without it (a call's message then ends wherever the model stopped). The answer is the one
``\\boxed{}`` after ``</think>``: text after it that hedges or states another value
(``\\boxed{12} or maybe 13``), or a hedge before it, makes it wrong; a ``\\boxed{}`` inside
``<think>`` is scratch and ignored. A unicode minus (``−7``) reads as ``-7``.

Reward, in [0, 1]: ``format_weight`` (0.1) for the shape, ``1 - format_weight - tool_bonus``
(0.7) for a correct answer (mathematical equivalence, as Format-v0; a numeric reference needs
a written-out number), and ``tool_bonus`` (0.2) only when the answer is correct and a call
was useful: it ran, and its output states the answer (exactly or to the answer's decimals,
among at most 16 numbers) while its code did not already hold it (``rewards.tool_reasoning``).
Minus ``fault_penalty`` (0.1) for each call the model did not wait for (a call in the message
that ends the reasoning, or after ``</think>``: never run), each call beyond ``call_budget``
(answered "budget spent", never run; the bonus is then withheld), and once when calls failed
and none succeeded after them. A wrong answer earns at most the format share, so calls alone
earn nothing. Components (``format``, ``correct``, ``useful_call``, ``penalty``) and the call
counts go to ``info``.

Tasks: the seeded generator (``tool_reasoning_tasks``: big sums and products, binomials,
primes, modular powers, power and digit sums, integrals to 4 decimals; ``kinds`` picks
some) or user math files (``question`` + ``answer``, optional ``code`` that computes it).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any

from atropos_envs.bounded import BoundedTimeout, shared_pool
from atropos_envs.core import Score, TextEnv, Trajectory
from atropos_envs.envs.tool_library import python
from atropos_envs.envs.tool_reasoning_tasks import KINDS, generate_tool_reasoning_task
from atropos_envs.sandbox import SandboxUnavailable
from atropos_envs.tools import Tool
from rewards import extract_answer, is_plain_number, math_equal, split_think
from rewards.tool_answers import ascii_minus
from rewards.tool_calls import CLOSE, OPEN, close_trailing_call, parse_tool_calls
from rewards.tool_reasoning import invented_result, trailing_hedge, useful_call

MAX_REPLY_CHARS = 40_000
MAX_OUTPUT_CHARS = 4000
RESPONSE_OPEN = "<tool_response>"
# where a driver may stop generation: after a call, to run it at once, and before a tool response
# the model starts to invent (the env would refuse the message; stopped there, the call runs).
# Only the exact tags: variants (<TOOL_RESPONSE>, <tool_output>...) are refused by the scorer.
STOP_SEQUENCES = [CLOSE, RESPONSE_OPEN]
_PYTHON = Tool.from_function(python)
SYSTEM_PROMPT = (
    "Think step by step inside <think> and </think> tags. While thinking you can run Python: write\n"
    '<tool_call>{"name": "python", "arguments": {"code": "print(2 ** 100)"}}</tool_call>\n'
    "and stop. The program's output comes back inside <tool_response></tool_response>, and you "
    "continue thinking. Python's standard library is there (math, fractions, itertools...; no "
    "numpy, sympy or scipy). Print the values you need. After </think>, write the final answer as "
    "\\boxed{answer}.\n\nExample:\nQuestion: What is 2^{100}?\nAnswer: <think>I compute it.\n"
    '<tool_call>{"name": "python", "arguments": {"code": "print(2 ** 100)"}}</tool_call>\n'
    "<tool_response>...1267650600228229401496703205376...</tool_response>\n"
    "The program printed 1267650600228229401496703205376.</think>\n\\boxed{1267650600228229401496703205376}"
)


@dataclass
class ToolReasoningConfig:
    kinds: list[str] | None = None  # generator kinds (default: all of KINDS)
    format_weight: float = 0.1
    tool_bonus: float = 0.2
    fault_penalty: float = 0.1
    call_budget: int = 4
    call_time_s: float = 5.0
    score_timeout_s: float = 5.0
    plain_numeric_answers: bool = True

    def validate(self) -> None:
        unknown = sorted(set(self.kinds or []) - set(KINDS))
        if unknown or self.kinds == []:
            raise ValueError(f"kinds must be a non-empty subset of {sorted(KINDS)}, got {self.kinds}")
        for name in ("format_weight", "tool_bonus", "fault_penalty"):
            if not 0.0 <= getattr(self, name) <= 0.49:
                raise ValueError(f"{name} must be between 0 and 0.49, got {getattr(self, name)}")
        if self.format_weight + self.tool_bonus > 0.49:
            raise ValueError("format_weight + tool_bonus must be at most 0.49 (a correct answer dominates)")
        if (
            isinstance(self.call_budget, bool)
            or not isinstance(self.call_budget, int)
            or self.call_budget < 1
        ):
            raise ValueError(f"call_budget must be an integer >= 1, got {self.call_budget!r}")
        if not 0.5 <= self.call_time_s <= 5.0:  # the python tool's own bounds
            raise ValueError(f"call_time_s must be in [0.5, 5] seconds, got {self.call_time_s}")
        if not 0 < self.score_timeout_s <= 600:
            raise ValueError(f"score_timeout_s must be in (0, 600] seconds, got {self.score_timeout_s}")


def _response(reply: dict[str, Any]) -> dict[str, str]:
    return {"role": "tool", "content": f"{RESPONSE_OPEN}\n{json.dumps(reply)}\n</tool_response>"}


class ToolReasoningEnv(TextEnv):
    """Reward in [0, 1]: format share + correct answer + a bonus for a useful call - penalties."""

    task_schema = {
        "question": "the problem statement",
        "answer": "the reference final answer (a number, or LaTeX)",
        "code": "optional: a program that prints the answer (the reference reply runs it)",
    }

    Config = ToolReasoningConfig
    config: ToolReasoningConfig
    default_max_turns = 6  # the call budget (4), and room for the answer

    def __init__(self, tasks=None, max_turns=None, render_mode=None, **settings: Any):
        super().__init__(tasks=tasks, max_turns=max_turns, render_mode=render_mode, **settings)
        if max_turns is None:  # room for every call of the budget, one over it, and the answer
            self.max_turns = self.config.call_budget + 2

    def generate_task(self, rng: random.Random) -> dict[str, Any]:
        return generate_tool_reasoning_task(rng, self.config.kinds or sorted(KINDS))

    def task_from_record(self, record: dict[str, Any]) -> dict[str, Any]:
        question = next((record[k] for k in ("question", "problem", "prompt") if record.get(k)), None)
        if not isinstance(question, str):
            raise ValueError("needs a 'question', 'problem' or 'prompt' string")
        answer = record.get("answer")
        if isinstance(answer, bool) or not isinstance(answer, (str, int, float)) or not str(answer).strip():
            raise ValueError("needs an 'answer' (a number or a LaTeX string)")
        code = record.get("code")
        if code is not None and not isinstance(code, str):
            raise ValueError("'code' must be a string (a program that prints the answer)")
        return {"question": question, "answer": str(answer).strip(), "kind": "file", "code": code}

    def prompt(self, task: dict[str, Any]) -> list[dict[str, str]]:
        return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": task["question"]}]

    def initial_state(self, task: dict[str, Any]) -> dict[str, Any]:
        return {"calls": [], "files": {}}

    # ---- the tool, mid-reasoning ------------------------------------------------------------
    def respond(self, task, messages, state) -> list[dict[str, str]] | None:
        text = messages[-1]["content"]
        if "</think>" in text or invented_result(text) or len(text) > MAX_REPLY_CHARS:
            return None  # the reasoning ended (or the message is malformed: score() says why)
        calls, errors = parse_tool_calls(close_trailing_call(text))
        if not calls and not errors:
            return None
        replies = []
        for error in errors:
            state["calls"].append({"ok": False, "error": error})
            replies.append(_response({"name": "python", "error": error}))
        for call in calls:
            replies.append(_response(self._run(call, state)))
            if state.get("env_error"):
                return None
        return replies

    def _run(self, call: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
        record: dict[str, Any] = {"ok": False}
        state["calls"].append(record)
        if sum(1 for c in state["calls"] if not c.get("over_budget")) > self.config.call_budget:
            record["over_budget"] = True
            error = (
                f"the call budget ({self.config.call_budget}) is spent: finish with </think> and \\boxed{{}}"
            )
            return {"name": "python", "error": error}
        if call["name"] != "python":
            record["error"] = f"unknown tool {call['name'][:80]!r}; the only tool is python"
            return {"name": call["name"][:80], "error": record["error"]}
        problems = sorted(_PYTHON.validator.iter_errors(call["arguments"]), key=lambda e: e.path)
        if problems:
            record["error"] = f"invalid arguments for python: {problems[0].message}"[:300]
            return {"name": "python", "error": record["error"]}
        record["code"] = call["arguments"]["code"]
        state["time_left_s"] = self.config.call_time_s
        try:
            output = python(record["code"], state)
        except SandboxUnavailable as exc:  # the env cannot run code here: its failure, not the reply's
            state["env_error"] = f"the sandbox is unavailable: {exc}"[:300]
            return {"name": "python", "error": "the sandbox is unavailable"}
        except RuntimeError as exc:  # a crash, timeout or limit: a failed call, with its output
            record["error"] = str(exc)[-MAX_OUTPUT_CHARS:]
            return {"name": "python", "error": record["error"]}
        record.update(ok=True, output=output[-MAX_OUTPUT_CHARS:])
        return {"name": "python", "content": record["output"]}

    # ---- the reward ---------------------------------------------------------------------------
    def _zero(self, reason: str, outcome: str = "invalid") -> Score:
        components = {"format": 0.0, "correct": 0.0, "useful_call": 0.0, "penalty": 0.0}
        return Score(0.0, components, reason, outcome=outcome)

    def _correct(self, answer: str, task: dict[str, Any]) -> tuple[bool, str, str]:
        question, reference = task["question"], task["answer"]
        if (
            self.config.plain_numeric_answers
            and is_plain_number(reference, question)
            and not is_plain_number(answer, question)
        ):
            return False, "the reference is a number: write the value, not an expression for it", "ok"
        try:
            correct, why = shared_pool().call(
                math_equal, answer, reference, question, timeout=self.config.score_timeout_s
            )
            return correct, why, "ok"
        except BoundedTimeout as exc:
            return False, f"equivalence check {exc}", "timeout"
        except RuntimeError as exc:
            return False, f"equivalence check failed: {exc}", "error"

    def score(self, trajectory: Trajectory) -> Score:
        task, state = trajectory.task, trajectory.state
        if state.get("env_error"):
            return self._zero(state["env_error"], outcome="error")
        turns = trajectory.completions
        invented = next((tag for t in turns if (tag := invented_result(t))), "")
        if invented:
            return self._zero(
                f"the reply writes its own tool result ({invented[:40]!r}): stop after </tool_call> and wait"
            )
        text = "".join(turns)
        if len(text) > MAX_REPLY_CHARS:
            return self._zero(f"the reply is longer than {MAX_REPLY_CHARS} characters")
        split = split_think(text)
        if not split.ok:
            return self._zero(split.reason)
        answer, why = extract_answer(split.answer_part, "boxed")
        if answer is None:
            return self._zero(why)
        answer = ascii_minus(answer)
        hedge = trailing_hedge(split.answer_part, answer, task["question"])
        correct, why, outcome = (False, hedge, "ok") if hedge else self._correct(answer, task)
        calls = state.get("calls", [])
        over = sum(1 for c in calls if c.get("over_budget"))
        unwaited = turns[-1].count(OPEN)  # the message that ends the reasoning: its calls never ran
        last_ok = max((i for i, c in enumerate(calls) if c["ok"]), default=-1)
        unrecovered = any(not c["ok"] and not c.get("over_budget") for c in calls[last_ok + 1 :])
        useful = (
            correct
            and not over
            and any(c["ok"] and useful_call(c["code"], c["output"], answer) for c in calls)
        )
        penalty = min(1.0, self.config.fault_penalty * (unwaited + over + int(unrecovered)))
        cfg = self.config
        reward = cfg.format_weight + (1.0 - cfg.format_weight - cfg.tool_bonus) * correct
        reward = max(0.0, reward + cfg.tool_bonus * useful - penalty)
        components = {
            "format": 1.0,
            "correct": float(correct),
            "useful_call": float(useful),
            "penalty": penalty,
        }
        ran = sum(1 for c in calls if c["ok"])
        faults = f"{unwaited} not waited for, {over} over budget" + (
            ", failures unrecovered" if unrecovered else ""
        )
        reason = (
            f"{'correct' if correct else 'wrong'}: {answer[:200]!r} vs {task['answer']!r} ({why}); "
            f"{ran}/{len(calls)} calls ran, {'a' if useful else 'no'} useful call; {faults}"
        )
        return Score(reward, components, reason[:600], outcome=outcome)

    # ---- for the exploit probes ---------------------------------------------------------------
    def probes(self, task: dict[str, Any]) -> dict[str, list[str]]:
        """Replies that try to be paid for calls, not answers: call spam, a call whose output
        is ignored, an invented tool result, the question's expression boxed, near misses."""
        ref = task["answer"]
        near = f"{ref}1" if "." not in ref else f"{ref}9"
        call = f'{OPEN}{{"name": "python", "arguments": {{"code": "print(1)"}}}}{CLOSE}'
        spam = f'{OPEN}{{"name": "python", "arguments": {{"code": "print(*range(1000))"}}}}{CLOSE}'
        answer_call = f'{OPEN}{{"name": "python", "arguments": {{"code": "print({near})"}}}}{CLOSE}'
        return {
            "call_spam_then_guess": ["<think>Let me compute." + spam, "Done.</think>\n\\boxed{0}"],
            "calls_forever": ["<think>Computing." + call],
            "ignored_call_near_miss": [
                "<think>I run it." + call,
                f"So it is {near}.</think>\n\\boxed{{{near}}}",
            ],
            "printed_near_miss": [
                "<think>I print it." + answer_call,
                f"It is {near}.</think>\n\\boxed{{{near}}}",
            ],
            "invented_response": [
                f"<think>{call}\n{RESPONSE_OPEN}{near}</tool_response>\n"
                f"It is {near}.</think>\n\\boxed{{{near}}}"
            ],
            "invented_response_variant": [
                f"<think>{call}\n<TOOL_RESPONSE>{ref}</TOOL_RESPONSE>\nIt is {ref}.</think>\n\\boxed{{{ref}}}"
            ],
            "hedge_after_box": [f"<think>One of two.</think>\n\\boxed{{{ref}}} or maybe {near}"],
            "call_after_think": [f"<think>I will check.</think>\n\\boxed{{{near}}}\n{call}"],
            "question_boxed": [f"<think>It is this.</think>\n\\boxed{{{task['question'][:500]}}}"],
            "empty_box_after_call": ["<think>Running." + call, "Done.</think>\n\\boxed{}"],
            "candidate_list": [f"<think>One of these.</think>\n\\boxed{{{ref}, {near}}}"],
        }

    def reference_answer(self, task: dict[str, Any]) -> list[str] | None:
        if not task.get("code"):
            return None
        call = json.dumps({"name": "python", "arguments": {"code": task["code"]}})
        answer = task["answer"]
        return [
            f"<think>This is tedious by hand, so I compute it with Python.\n{OPEN}{call}{CLOSE}",
            f"The program printed the value; rounded as asked, it is {answer}.</think>\n\\boxed{{{answer}}}",
        ]


def merge_tool_turns(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """The conversation with each run of assistant and tool messages joined into one assistant
    message, the ``<tool_response>`` spans in place: the single-message form of an interleaved
    episode, for SFT data (the alternating form is what the env plays and re-scores)."""
    merged: list[dict[str, str]] = []
    for message in messages:
        role, content = message["role"], message["content"]
        if role in ("assistant", "tool") and merged and merged[-1]["role"] == "assistant":
            glue = f"\n{content}\n" if role == "tool" else content
            merged[-1] = {"role": "assistant", "content": merged[-1]["content"] + glue}
        elif role == "tool":
            raise ValueError("a tool message must follow an assistant message")
        else:
            merged.append({"role": role, "content": content})
    return merged
