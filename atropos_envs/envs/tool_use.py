"""ToolUse-v0: multi-turn tool calling in the Hermes format.

Tools are declared in the system prompt inside <tools></tools>; the model calls them with
<tool_call>{"name": ..., "arguments": {...}}</tool_call> (several per turn allowed, after
an optional <think>; a call left open at the end of a turn, as a driver stopping at
``</tool_call>`` leaves it, runs as closed); ``step`` validates each call strictly against
the tool's schema, runs it, and returns the results as <tool_response> tool messages. The
episode ends with a reply that makes no call (the final answer, in <answer></answer>), at
the turn limit, or when the step or episode wall-clock budget (``step_time_s``,
``episode_time_s``) runs out (outcome ``timeout``).

Tasks: the built-in generator (see ``tool_library``: a seeded invented world per task,
so the answer can only come from the tools; single, parallel, sequential and nested calls,
the python tool in the sandbox, faults the env provokes), user task files (``question``,
``ground_truth``, ``answer``, optional ``world``), or Berkeley Function-Calling Leaderboard
records (``question``, ``function``, ``ground_truth``), scored single-step by BFCL's AST rules.

Reward in [0, 1], a weighted sum of task_completion (every needed call made successfully
with the task's arguments, and the answer states exactly the expected values, see
``rewards.tool_answers``; for BFCL the exact calls), tool_call_accuracy, efficiency (calls
used vs needed), error_recovery and goal_alignment (share of the needed calls made
successfully with the task's arguments; a calculator step whose arguments the task leaves
open is served by a calculator or python call, an open python step only by a python run, so
a provoked python fault must be retried). The three process components are scaled by goal
alignment, so calls that do not serve the task earn nothing. A python run that crashes,
times out or hits a limit is a failed call. ``preset="atropos"`` (default): weights
0.35/0.25/0.15/0.15/0.10, accuracy 1 - 0.2 per invalid call (floored at 0), recovery 0.3
per own failure later fixed and 1 per provoked fault retried (capped at 1; 1 when nothing
failed). ``preset="v0"``: weights 0.5/0.15/0.1/0.1/0.15, accuracy and recovery as shares.
``weights=`` overrides the preset's weights. Without task completion the reward is capped
at ``incomplete_cap``; a completed task scores at least ``incomplete_cap + 0.1``. A final
reply without ``<answer>``, with ``<answer>`` blocks that disagree, or longer than 20,000
characters scores 0, outcome ``invalid``. The
score's ``reason`` (which may state the expected values) goes to ``info`` only, never to
the model.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from atropos_envs.core import Score, TextEnv, Trajectory
from atropos_envs.envs.tool_library import BUILTIN_TOOLS, FAULTS, generate_tool_task, plan_turns
from atropos_envs.envs.tool_tasks import bfcl_reference, probe_turns, validate_record
from atropos_envs.tools import Tool, tools_system_prompt
from rewards.composite import weighted_sum
from rewards.tool_answers import MAX_REPLY_CHARS, answer_conflict, answer_correct, extract_answer
from rewards.tool_calls import bfcl_schema, call_matches, close_trailing_call, match_calls, parse_tool_calls
from rewards.tool_reasoning import useful_call

COMPONENTS = ("task_completion", "tool_call_accuracy", "efficiency", "error_recovery", "goal_alignment")
PRESETS = {
    "atropos": dict(zip(COMPONENTS, (0.35, 0.25, 0.15, 0.15, 0.10))),
    "v0": dict(zip(COMPONENTS, (0.5, 0.15, 0.1, 0.1, 0.15))),
}
DEFAULT_WEIGHTS = PRESETS["atropos"]
MAX_RESULT_CHARS = 8000


@dataclass
class ToolUseConfig:
    preset: str = "atropos"
    weights: dict[str, float] | str | None = None  # None: the preset's; a name: that preset's weights
    incomplete_cap: float = 0.4
    step_time_s: float = 60.0
    episode_time_s: float = 180.0

    def validate(self) -> None:
        if self.preset not in PRESETS:
            raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {self.preset!r}")
        if isinstance(self.weights, str):
            if self.weights not in PRESETS:
                raise ValueError(
                    f"weights must be a dict or a preset name {sorted(PRESETS)}, got {self.weights!r}"
                )
            self.weights = dict(PRESETS[self.weights])
        weights = PRESETS[self.preset] if self.weights is None else self.weights
        if not isinstance(weights, dict):
            raise ValueError(f"weights must be a dict of component -> weight, got {type(weights).__name__}")
        unknown = set(weights) - set(COMPONENTS)
        if unknown:
            raise ValueError(f"unknown reward components {sorted(unknown)}; use {list(COMPONENTS)}")
        bad = {
            k: v
            for k, v in weights.items()
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0
        }
        if bad:
            raise ValueError(f"reward weights must be finite numbers >= 0, got {bad}")
        if sum(weights.values()) <= 0:
            raise ValueError("reward weights must sum to more than 0")
        if not 0 <= self.incomplete_cap < 0.5:
            raise ValueError(f"incomplete_cap must be in [0, 0.5), got {self.incomplete_cap}")
        for name in ("step_time_s", "episode_time_s"):
            if not 0 < getattr(self, name) <= 3600:
                raise ValueError(f"{name} must be in (0, 3600] seconds, got {getattr(self, name)}")

    @property
    def resolved_weights(self) -> dict[str, float]:
        return dict(PRESETS[self.preset] if self.weights is None else self.weights)


def _dump(reply: dict[str, Any]) -> str:
    """One tool message; a result that cannot be serialised becomes an error, never an exception."""
    try:
        text = json.dumps(reply, default=str)
    except (ValueError, TypeError, RecursionError) as exc:
        text = json.dumps(
            {"name": reply.get("name"), "error": f"the result could not be serialised: {exc}"[:300]}
        )
    if len(text) > MAX_RESULT_CHARS:
        text = json.dumps({"name": reply.get("name"), "content": text[:MAX_RESULT_CHARS], "truncated": True})
    return f"<tool_response>\n{text}\n</tool_response>"


_COMPUTE = ("calculator", "python")  # either computes a calculator step the task leaves open


def _prints(call: dict[str, Any], expected: list[Any]) -> bool:
    """Whether a program's output states every expected value (a number among few, to its
    decimals, that its code does not already hold; a text as a substring): then it computed
    them from the data it read."""
    code, output = str(call["arguments"].get("code", "")), call.get("output", "")
    return all(
        useful_call(code, output, repr(v))
        if isinstance(v, (int, float))
        else str(v).lower() in output.lower()
        for v in expected
        if not isinstance(v, bool)
    )


def _serves(call: dict[str, Any], truth: dict[str, dict[str, list[Any]]], expected: list[Any]) -> bool:
    """Whether a successful call does what one ground-truth entry asks: the tool, and each
    argument the task fixes at one of its allowed values (BFCL's rules, typed by value). An
    open calculator step is served by python too; an open python step only by a python run
    whose output states the expected values (``print("done")``, ``print(4056.41)`` compute nothing)."""
    ((name, params),) = truth.items()
    if name == "calculator" and not any(params.values()):
        return call["name"] in _COMPUTE
    if name == "python" and not any(params.values()):
        return call["name"] == "python" and _prints(call, expected)
    args = dict(call.get("arguments") or {})
    fixed = {p: allowed for p, allowed in params.items() if allowed}
    for p, allowed in fixed.items():  # 5.0 serves for an allowed 5 (the tool's schema says "number")
        value = args.get(p)
        if type(value) is float and value.is_integer() and any(type(a) is int for a in allowed):
            args[p] = int(value)
    open_args = {p: v for p, v in args.items() if p not in fixed}
    return not call_matches(
        {"name": call["name"], "arguments": {p: v for p, v in args.items() if p in fixed}},
        {name: fixed},
    ) and all(p in params for p in open_args)


def unserved(
    ground_truth: list[dict[str, Any]], valid: list[dict[str, Any]], expected: list[Any] = ()
) -> list[str]:
    """The needed calls (tool names) no successful call carried out; each call serves one."""
    left, missing = list(valid), []
    for truth in ground_truth:
        hit = next((i for i, c in enumerate(left) if _serves(c, truth, list(expected))), None)
        if hit is None:
            missing.append(next(iter(truth)))
        else:
            left.pop(hit)
    return missing


def _entities(world: dict[str, Any] | None) -> list[str]:
    """Names and ids in a task's world, which an answer must not list as candidates."""
    world = world or {}
    out = [str(c.get(k)) for c in world.get("customers", []) for k in ("name", "customer_id", "city")]
    out += [str(p.get(k)) for p in world.get("products", []) for k in ("name", "sku")]
    out += [str(o.get("order_id")) for o in world.get("orders", [])]
    return [e for e in out + [str(r) for r in world.get("regions", [])] if e and e != "None"]


class ToolUseEnv(TextEnv):
    task_schema = {
        "question": "the user request (a string, or BFCL's nested message list)",
        "ground_truth": "the calls needed, BFCL style: a list of {name: {param: [allowed values]}}",
        "answer": "the values the final answer must state, a list of strings or numbers (non-BFCL tasks)",
        "function": "BFCL function specs (BFCL records); built-in or user tools otherwise",
        "world": "optional: the invented data the built-in tools read (customers, orders, products, files, "
        "faults)",
    }

    Config = ToolUseConfig
    config: ToolUseConfig
    default_max_turns = 8  # nested lookups (4 turns), a provoked retry, a stale-id detour, the answer

    def __init__(
        self, tasks=None, max_turns=None, render_mode=None, tools: list | None = None, **settings: Any
    ):
        self.tools = {t.name: t for t in (Tool.from_function(fn) for fn in (tools or BUILTIN_TOOLS))}
        super().__init__(tasks=tasks, max_turns=max_turns, render_mode=render_mode, **settings)

    def generate_task(self, rng) -> dict[str, Any]:
        return {"bfcl": False, **generate_tool_task(rng)}

    def task_from_record(self, record: dict[str, Any]) -> dict[str, Any]:
        task = validate_record(record)
        if task["bfcl"]:
            task["functions"] = [
                {
                    "name": f["name"],
                    "description": f.get("description", ""),
                    "parameters": bfcl_schema(f["parameters"]),
                }
                for f in task["functions"]
            ]
        return task

    def _specs(self, task: dict[str, Any]) -> list[Tool]:
        if task["bfcl"]:
            return [
                Tool(f["name"], f["description"], f["parameters"], fn=lambda **_: None)
                for f in task["functions"]
            ]
        return list(self.tools.values())

    def prompt(self, task: dict[str, Any]) -> list[dict[str, str]]:
        return [
            {"role": "system", "content": tools_system_prompt(self._specs(task))},
            {"role": "user", "content": task["question"]},
        ]

    def initial_state(self, task: dict[str, Any]) -> dict[str, Any]:
        world = task.get("world") or {}
        return {
            "calls": [],
            "files": dict(world.get("files", {})),
            "world": world,
            "fired": [],
            "time_used_s": 0.0,
        }

    def respond(self, task, messages, state) -> list[dict[str, str]] | None:
        # a call left open at the end (the driver stopped at </tool_call>) runs as closed
        calls, errors = parse_tool_calls(close_trailing_call(messages[-1]["content"]))
        if task["bfcl"]:  # single step: the calls are the answer
            state["calls"] += [{"name": c["name"], "arguments": c["arguments"], "ok": True} for c in calls]
            state["calls"] += [{"name": None, "ok": False, "error": e} for e in errors]
            return None
        if not calls and not errors:
            return None  # a reply without calls is the final answer
        replies = []
        for error in errors:
            state["calls"].append({"name": None, "ok": False, "error": error})
            replies.append({"error": error})
        started = time.monotonic()
        for call in calls:
            spent = time.monotonic() - started
            left = min(
                self.config.step_time_s - spent, self.config.episode_time_s - state["time_used_s"] - spent
            )
            if left <= 0:
                state["timeout"] = True
                break
            state["time_left_s"] = left
            replies.append(self._run(call, task, state))
        state["time_used_s"] += time.monotonic() - started
        if state.get("timeout") or state["time_used_s"] >= self.config.episode_time_s:
            state["timeout"] = True
            return None
        return [{"role": "tool", "content": _dump(r)} for r in replies]

    def _run(self, call: dict[str, Any], task: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
        name, arguments = call["name"], call["arguments"]
        tool = self.tools.get(name)
        fault = (task.get("world") or {}).get("faults", {}).get(name)
        if (
            tool is not None
            and fault
            and name not in state["fired"]
            and not any(tool.validator.iter_errors(arguments))
        ):
            state["fired"].append(name)  # the env fails this tool's first valid call on purpose
            state["calls"].append({"name": name, "arguments": arguments, "ok": False, "provoked": True})
            return {"name": name, "error": FAULTS.get(fault, fault)}
        ok, result = (False, f"unknown tool {name[:80]!r}") if tool is None else tool.call(arguments, state)
        record = {"name": name, "arguments": arguments, "ok": ok}
        if ok and name == "python":
            record["output"] = str(result)[-4000:]  # an open python step must print the values
        state["calls"].append(record)
        return {"name": name, "content": result} if ok else {"name": name, "error": result}

    def score(self, trajectory: Trajectory) -> Score:
        task, state = trajectory.task, trajectory.state
        calls = [c for c in state.get("calls", []) if not c.get("provoked")]
        valid = [c for c in calls if c["ok"]]
        outcome = "ok"
        if task["bfcl"]:
            done, why = match_calls(
                [{"name": c["name"], "arguments": c["arguments"]} for c in valid],
                task["ground_truth"],
                task["functions"],
            )
            done = done and len(valid) == len(calls)
            outcome = "invalid" if calls and not valid else outcome
        else:
            final = trajectory.last_completion
            missing = unserved(task["ground_truth"], valid, task.get("answer") or [])
            if len(final) > MAX_REPLY_CHARS:
                done, why, outcome = False, f"final reply longer than {MAX_REPLY_CHARS} characters", "invalid"
            elif parse_tool_calls(close_trailing_call(final))[0] or state.get("timeout"):
                done, why = False, "no final answer"
            elif extract_answer(final) is None:
                done, why, outcome = False, "no <answer></answer> in the final reply", "invalid"
            elif answer_conflict(final):
                done, why, outcome = False, answer_conflict(final), "invalid"
            elif not valid:
                done, why = False, "no successful tool call: the answer cannot come from the tools"
            elif missing:
                done, why = False, f"needed calls not made successfully: {', '.join(missing)}"[:200]
            else:
                done, why = answer_correct(
                    final, task["answer"], question=task["question"], others=_entities(task.get("world"))
                )
        if state.get("timeout"):
            budget = f"{self.config.step_time_s} s a step, {self.config.episode_time_s} s an episode"
            outcome, why = "timeout", f"time budget ran out ({budget})"
        components = self._components(task, state.get("calls", []), done)
        reward = weighted_sum(components, self.config.resolved_weights)
        if done:  # a completed task always beats any reply that does not complete it
            reward = max(reward, min(1.0, self.config.incomplete_cap + 0.1))
        elif outcome == "invalid" and not task["bfcl"]:  # malformed final reply: 0, with the reason
            reward = 0.0
        else:
            reward = min(reward, self.config.incomplete_cap)
        return Score(
            reward,
            components,
            f"{why}; {len(valid)}/{len(calls)} valid calls, {len(task['ground_truth'])} needed"[:500],
            outcome,
        )

    def _components(
        self, task: dict[str, Any], all_calls: list[dict[str, Any]], done: bool
    ) -> dict[str, float]:
        """Process credit, scaled by the share of needed calls made successfully with the task's
        arguments (goal alignment): calls that do not serve the task earn nothing."""
        calls = [c for c in all_calls if not c.get("provoked")]
        valid = [c for c in calls if c["ok"]]
        used, need = len(calls), len(task["ground_truth"])
        if task["bfcl"]:
            needed = Counter(next(iter(g)) for g in task["ground_truth"])
            aligned = sum((needed & Counter(c["name"] for c in valid)).values()) / need if need else 0.0
        else:
            aligned = (
                1.0 - len(unserved(task["ground_truth"], valid, task.get("answer") or [])) / need
                if need
                else 0.0
            )

        def fixed(i: int) -> bool:
            return any(
                c["ok"] and c["name"] == all_calls[i]["name"] and not c.get("provoked")
                for c in all_calls[i + 1 :]
            )

        own = [i for i, c in enumerate(all_calls) if not c["ok"] and not c.get("provoked")]
        provoked = [i for i, c in enumerate(all_calls) if c.get("provoked")]
        if self.config.preset == "atropos":
            accuracy = max(0.0, 1.0 - 0.2 * len(own)) if used else 0.0
            credit = 0.3 * sum(fixed(i) for i in own) + sum(fixed(i) for i in provoked)
            recovery = min(1.0, credit) if own or provoked else 1.0 if used else 0.0
        else:
            accuracy = len(valid) / used if used else 0.0
            failed = own + provoked
            recovery = sum(fixed(i) for i in failed) / len(failed) if failed else 1.0 if used else 0.0
        efficiency = (min(used, need) / max(used, need)) if valid and need else 0.0
        return {
            "task_completion": float(done),
            "tool_call_accuracy": accuracy * aligned,
            "efficiency": efficiency * aligned,
            "error_recovery": recovery * aligned,
            "goal_alignment": aligned,
        }

    # ---- probes ---------------------------------------------------------------------------
    def probes(self, task: dict[str, Any]) -> dict[str, list[str]]:
        return probe_turns(task, self._specs(task))

    def reference_answer(self, task: dict[str, Any]) -> list[str] | None:
        if task["bfcl"]:
            return bfcl_reference(task["ground_truth"])
        if task.get("plan"):
            return plan_turns(task["plan"], task["answer"], (task.get("world") or {}).get("faults", {}))
        return None
