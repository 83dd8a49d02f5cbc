"""ToolUse-v0 task records (checked field by field at load) and its probes: adversarial
policies that try to get paid without doing the task, and the honest BFCL reference."""

from __future__ import annotations

import json
import random
from typing import Any

from atropos_envs.envs.tool_library import plan_turns

_WORLD_LISTS = ("customers", "orders", "products")


def _fail(field: str, expected: str, got: Any) -> ValueError:
    return ValueError(f"field {field!r} must be {expected}, got {json.dumps(got, default=str)[:80]}")


def _question(record: dict[str, Any]) -> str:
    question = record.get("question")
    if isinstance(question, list):  # BFCL: [[{"role": "user", "content": ...}, ...]]
        turns = question[0] if question and isinstance(question[0], list) else question
        if not all(isinstance(m, dict) and isinstance(m.get("content"), str) for m in turns):
            raise _fail("question", "a string or BFCL's list of messages with string 'content'", question)
        question = "\n".join(m["content"] for m in turns if m.get("role") == "user")
    if not isinstance(question, str) or not question.strip():
        raise _fail("question", "a non-empty string (or BFCL's message list)", question)
    return question


def _ground_truth(record: dict[str, Any]) -> list[dict[str, dict[str, list[Any]]]]:
    truth = record.get("ground_truth")
    expected = "a list of {tool name: {parameter: [allowed values]}} (one name per entry)"
    if not isinstance(truth, list):
        raise _fail("ground_truth", expected, truth)
    for entry in truth:
        if not (isinstance(entry, dict) and len(entry) == 1 and isinstance(next(iter(entry)), str)):
            raise _fail("ground_truth", expected, entry)
        params = next(iter(entry.values()))
        if not isinstance(params, dict) or not all(isinstance(v, list) for v in params.values()):
            raise _fail("ground_truth", expected, entry)
    return truth


def _functions(record: dict[str, Any]) -> list[dict[str, Any]]:
    functions = record["function"]
    functions = functions if isinstance(functions, list) else [functions]
    for f in functions:
        if not (
            isinstance(f, dict) and isinstance(f.get("name"), str) and isinstance(f.get("parameters"), dict)
        ):
            raise _fail("function", "a list of {name, description, parameters} function specs", f)
    return functions


def _world(record: dict[str, Any]) -> dict[str, Any] | None:
    world = record.get("world")
    if world is None:
        return None
    if not isinstance(world, dict):
        raise _fail("world", "an object with customers/orders/products lists, files and faults", world)
    for key in _WORLD_LISTS:
        if not isinstance(world.get(key, []), list) or not all(
            isinstance(r, dict) for r in world.get(key, [])
        ):
            raise _fail(f"world.{key}", "a list of objects", world.get(key))
    files = world.get("files", {})
    if not isinstance(files, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in files.items()
    ):
        raise _fail("world.files", "an object of file name -> text", files)
    faults = world.get("faults", {})
    if not isinstance(faults, dict) or not all(isinstance(v, str) for v in faults.values()):
        raise _fail("world.faults", "an object of tool name -> fault ('unavailable' or 'rate_limit')", faults)
    return world


def validate_record(record: dict[str, Any]) -> dict[str, Any]:
    """A task from one file record; a ValueError names the bad field and what was expected."""
    if not isinstance(record, dict):
        raise ValueError(f"a task must be an object, got {type(record).__name__}")
    question, truth = _question(record), _ground_truth(record)
    if record.get("function") is not None:
        return {"bfcl": True, "question": question, "ground_truth": truth, "functions": _functions(record)}
    answer = record.get("answer")
    if (
        not isinstance(answer, list)
        or not answer
        or not all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in answer)
    ):
        raise _fail("answer", "a non-empty list of the strings or numbers the final answer states", answer)
    plan = record.get("plan")
    if plan is not None and not (isinstance(plan, list) and all(isinstance(t, list) for t in plan)):
        raise _fail("plan", "a list of turns, each a list of {name, arguments} calls", plan)
    task = {
        "bfcl": False,
        "question": question,
        "ground_truth": truth,
        "answer": list(answer),
        "world": _world(record),
    }
    return {
        **task,
        **({"plan": plan} if plan is not None else {}),
        **({"kind": record["kind"]} if "kind" in record else {}),
    }


def _first_allowed(allowed: dict[str, list[Any]]) -> dict[str, Any]:
    """Each parameter (or dict key) at its first allowed value; optional ones left out."""
    out = {}
    for key, options in allowed.items():
        value = next((v for v in options if v != ""), None) if isinstance(options, list) else None
        if isinstance(value, dict):  # a dict argument: its keys have allowed values too
            value = _first_allowed(value)
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            value = [_first_allowed(v) for v in value]
        if value is not None:
            out[key] = value
    return out


def bfcl_reference(ground_truth: list[dict[str, Any]]) -> list[str]:
    """One turn with the expected calls, each parameter at its first allowed value."""
    return [
        "".join(_tc(name, _first_allowed(params)) for entry in ground_truth for name, params in entry.items())
    ]


def _tc(name: str, arguments: dict[str, Any]) -> str:
    return f"<tool_call>{json.dumps({'name': name, 'arguments': arguments})}</tool_call>"


def _candidates(answer: list[Any], rng: random.Random) -> list[str]:
    """The true values hidden among plausible decoys."""
    out = [str(v) for v in answer]
    for value in answer:
        if isinstance(value, (int, float)):
            out += [str(round(value * f, 2)) for f in (0.5, 0.9, 1.1, 2)] + [str(value + 1), str(value - 1)]
        else:
            out += [f"{value}x", "Paris", "Tokyo", "unknown"]
    out += [str(rng.randint(0, 9999)) for _ in range(8)]
    rng.shuffle(out)
    return out


def probe_turns(task: dict[str, Any], tools: list[Any]) -> dict[str, list[str]]:
    """ToolUse-v0's probes for one task (name -> assistant turns; the last turn repeats)."""
    rng = random.Random(json.dumps(task["ground_truth"], sort_keys=True, default=str))
    first = task["ground_truth"][0] if task["ground_truth"] else {tools[0].name: {}}
    ((name, params),) = first.items()
    right_args = {p: next((v for v in allowed if v != ""), "x") for p, allowed in params.items()}
    answer = task.get("answer") or ["done"]
    candidates = ", ".join(_candidates(answer, rng))
    guess = f"<answer>{json.dumps(answer)}</answer>"
    probes = {
        "candidate_list": [f"<answer>{candidates}</answer>"],
        "answer_without_calls": [guess],
        "unknown_tool": [_tc("get_answer", {"question": task["question"]}), guess],
        "junk_arguments": [
            "".join(_tc(next(iter(g)), {"junk": "🙃" * 3, "x": [[[]]]}) for g in task["ground_truth"]),
            guess,
        ],
        "every_tool_empty_arguments": ["".join(_tc(t.name, {}) for t in tools), guess],
        "same_call_50_times": [_tc(name, right_args) * 50, f"<answer>{candidates}</answer>"],
        "question_echo": [f"<answer>{task['question']}</answer>"],
    }
    if task.get("plan"):  # do the lookups, then hedge, negate or pad the answer
        turns = plan_turns(task["plan"], answer, (task.get("world") or {}).get("faults", {}))[:-1]
        probes["calls_then_candidate_list"] = turns + [f"<answer>{candidates}</answer>"]
        values = [str(v) for v in answer]
        probes["calls_then_negated_answer"] = turns + [f"<answer>not {' and not '.join(values)}</answer>"]
        probes["calls_then_words_and_numerals"] = turns + [
            f"<answer>{'; '.join(values)}; fifteen; XII; O-8753</answer>"
        ]
        others = [
            c["name"].split()[0]
            for c in (task.get("world") or {}).get("customers", [])
            if c["name"] not in task["question"]
        ]
        if others:
            probes["calls_then_other_first_name"] = turns + [f"<answer>{values[0]} for {others[0]}</answer>"]
        wrong = [v + 1 if isinstance(v, (int, float)) else f"{v}x" for v in answer]
        probes["calls_then_two_answer_blocks"] = turns + [
            f"<answer>{json.dumps(wrong)}</answer><answer>{json.dumps(answer)}</answer>"
        ]
    return probes
