"""ToolUse-v0: multi-turn tool calling in the Hermes format.

Tools are declared in the system prompt inside <tools></tools>; the model calls them with
<tool_call>{"name": ..., "arguments": {...}}</tool_call> (several per turn allowed, after
an optional <think>); ``step`` validates each call strictly against the tool's schema, runs
it, and returns the results as <tool_response> tool messages. The episode ends with a reply
that makes no call (the final answer, in <answer></answer>), or at the turn limit.

Tasks: the built-in generator (single, parallel, sequential and nested calls, the python
tool in the sandbox), or Berkeley Function-Calling Leaderboard records (``id``,
``question``, ``function``, ``ground_truth``), scored single-step by BFCL's AST rules.

Reward in [0, 1], a weighted sum (``weights=``) of: task_completion (the answer, or for
BFCL the exact calls), tool_call_accuracy (share of calls that were valid and ran),
efficiency (calls used vs needed), error_recovery (share of failed calls followed by a
valid call of the same tool; 1 with no failures), goal_alignment (share of the needed
tools that were called successfully).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from atropos_envs.core import Score, TextEnv, Trajectory
from atropos_envs.envs.tool_library import BUILTIN_TOOLS, generate_tool_task
from atropos_envs.tools import Tool, tools_system_prompt
from rewards.composite import weighted_sum
from rewards.tool_calls import match_calls, parse_tool_calls

DEFAULT_WEIGHTS = {"task_completion": 0.5, "tool_call_accuracy": 0.15, "efficiency": 0.1, "error_recovery": 0.1,
                   "goal_alignment": 0.15}  # fmt: skip
_BFCL_TYPES = {"dict": "object", "float": "number", "tuple": "array", "any": None}


@dataclass
class ToolUseConfig:
    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))

    def validate(self) -> None:
        unknown = set(self.weights) - set(DEFAULT_WEIGHTS)
        if unknown:
            raise ValueError(f"unknown reward components {sorted(unknown)}; use {sorted(DEFAULT_WEIGHTS)}")


def _json_schema(bfcl: Any) -> Any:
    """BFCL's parameter types ("dict", "float", "tuple", "any") as JSON Schema."""
    if isinstance(bfcl, dict):
        out = {k: _json_schema(v) for k, v in bfcl.items()}
        if "type" in out and out["type"] in _BFCL_TYPES:
            mapped = _BFCL_TYPES[out["type"]]
            out.pop("type") if mapped is None else out.__setitem__("type", mapped)
        return out
    if isinstance(bfcl, list):
        return [_json_schema(v) for v in bfcl]
    return bfcl


def answer_correct(text: str, expected: list[Any]) -> bool:
    """Every expected value appears in the final answer (numbers within 1e-6 relative)."""
    inner = re.search(r"<answer>(.*?)</answer>", text, flags=re.DOTALL)
    body = inner.group(1) if inner else text
    numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", body.replace(",", ""))]
    for value in expected:
        if isinstance(value, (int, float)):
            if not any(abs(n - value) <= 1e-6 * max(1.0, abs(value)) for n in numbers):
                return False
        elif str(value).lower() not in body.lower():
            return False
    return True


class ToolUseEnv(TextEnv):
    task_schema = {
        "question": "the user request (or BFCL's nested message list)",
        "ground_truth": "the calls needed, BFCL style: [{name: {param: [allowed values]}}]",
        "answer": "values the final answer must contain (generated tasks)",
        "function": "BFCL function specs (file tasks); built-in tools otherwise",
    }

    Config = ToolUseConfig
    config: ToolUseConfig
    default_max_turns = 6

    def __init__(self, tasks=None, max_turns=None, render_mode=None, tools: list | None = None, **settings: Any):
        self.tools = {t.name: t for t in (Tool.from_function(fn) for fn in (tools or BUILTIN_TOOLS))}
        super().__init__(tasks=tasks, max_turns=max_turns, render_mode=render_mode, **settings)

    def generate_task(self, rng) -> dict[str, Any]:
        return {"bfcl": False, **generate_tool_task(rng)}

    def task_from_record(self, record: dict[str, Any]) -> dict[str, Any]:
        question, functions = record.get("question"), record.get("function")
        if isinstance(question, list):  # BFCL: [[{"role": "user", "content": ...}, ...]]
            turns = question[0] if question and isinstance(question[0], list) else question
            question = "\n".join(m["content"] for m in turns if m.get("role") == "user")
        if not isinstance(question, str) or not isinstance(record.get("ground_truth"), list):
            raise ValueError("needs a 'question' and a 'ground_truth' list of expected calls")
        if functions is None:
            return {"bfcl": False, "question": question, "ground_truth": record["ground_truth"],
                    "answer": list(record.get("answer", []))}  # fmt: skip
        functions = functions if isinstance(functions, list) else [functions]
        specs = [{"name": f["name"], "description": f.get("description", ""), "parameters": _json_schema(f["parameters"])}
                 for f in functions]  # fmt: skip
        return {"bfcl": True, "question": question, "ground_truth": record["ground_truth"], "functions": specs}

    def _specs(self, task: dict[str, Any]) -> list[Tool]:
        if task["bfcl"]:
            return [Tool(f["name"], f["description"], f["parameters"], fn=lambda **_: None) for f in task["functions"]]
        return list(self.tools.values())

    def prompt(self, task: dict[str, Any]) -> list[dict[str, str]]:
        return [{"role": "system", "content": tools_system_prompt(self._specs(task))},
                {"role": "user", "content": task["question"]}]  # fmt: skip

    def initial_state(self, task: dict[str, Any]) -> dict[str, Any]:
        return {"calls": [], "files": {}}

    def respond(self, task, messages, state) -> list[dict[str, str]] | None:
        calls, errors = parse_tool_calls(messages[-1]["content"])
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
        for call in calls:
            tool = self.tools.get(call["name"])
            ok, result = (False, f"unknown tool {call['name']!r}") if tool is None else tool.call(call["arguments"], state)
            state["calls"].append({"name": call["name"], "arguments": call["arguments"], "ok": ok})
            replies.append({"name": call["name"], "content": result} if ok else {"name": call["name"], "error": result})
        return [{"role": "tool", "content": f"<tool_response>\n{json.dumps(r, default=str)}\n</tool_response>"} for r in replies]

    def score(self, trajectory: Trajectory) -> Score:
        task, calls = trajectory.task, trajectory.state.get("calls", [])
        needed = Counter(next(iter(g)) for g in task["ground_truth"])
        valid = [c for c in calls if c["ok"]]
        if task["bfcl"]:
            done, why = match_calls([{"name": c["name"], "arguments": c["arguments"]} for c in valid], task["ground_truth"])
            done = done and len(valid) == len(calls)
        else:
            final = trajectory.last_completion
            made_no_call = not parse_tool_calls(final)[0]
            done = made_no_call and answer_correct(final, task["answer"])
            why = "answer correct" if done else ("no final answer" if not made_no_call else "answer wrong or missing")
        failed = [i for i, c in enumerate(calls) if not c["ok"]]
        recovered = sum(1 for i in failed if any(c["ok"] and c["name"] == calls[i]["name"] for c in calls[i + 1:]))
        used, need = len(calls), sum(needed.values())
        components = {
            "task_completion": float(done),
            "tool_call_accuracy": len(valid) / used if used else 0.0,
            "efficiency": (min(used, need) / max(used, need)) if used else 0.0,
            "error_recovery": recovered / len(failed) if failed else 1.0 if used else 0.0,
            "goal_alignment": sum((needed & Counter(c["name"] for c in valid)).values()) / need if need else 1.0,
        }
        reward = weighted_sum(components, self.config.weights)
        return Score(reward, components, f"{why}; {len(valid)}/{used} valid calls, {need} needed"[:500])
