"""ToolUse-v0's BFCL verdicts vs BFCL's own checker, on the real records the bfcl-eval wheel ships.

    python -m benchmarks.bfcl_agreement [--per-record 6] [--limit 0]

Every Python AST category of BFCL v4 (simple_python, multiple, parallel,
parallel_multiple and their live_ versions): each record is loaded as a ToolUse-v0 task
(``task_from_record``: BFCL types translated to JSON Schema), and replies are made from its
possible answer: the first allowed values, then mutations of them (a bool sent as an int,
an int for a float, a number as a string, a string re-cased with punctuation, a wrong
string, a dict key dropped or changed, an optional parameter given its second allowed
value or dropped, an extra or a missing parameter, calls reordered or one dropped). Ours:
the env's whole path (``respond`` parses the reply, ``score`` gives task_completion).
Reference: ``ast_checker`` from bfcl-eval (its checker modules only, model table stubbed).
Appends to results/bfcl_agreement.md with every disagreement.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import random
import time
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.scoring_agreement import BFCL, _bfcl_dir, _run_peer

RESULTS = Path(__file__).resolve().parent / "results" / "bfcl_agreement.md"
CATEGORIES = [
    "simple_python",
    "multiple",
    "parallel",
    "parallel_multiple",
    "live_simple",
    "live_multiple",
    "live_parallel",
    "live_parallel_multiple",
]

PEER_CODE = """
import collections, json, sys, time, types
stub = types.ModuleType("bfcl_eval.constants.model_config")
stub.MODEL_CONFIG_MAPPING = collections.defaultdict(lambda: types.SimpleNamespace(underscore_to_dot=False))
sys.modules["bfcl_eval.constants.model_config"] = stub
from bfcl_eval.constants.enums import Language
from bfcl_eval.eval_checker.ast_eval.ast_checker import ast_checker
cases = json.load(sys.stdin)
verdicts, started = [], time.perf_counter()
for c in cases:
    output = [{call["name"]: call["arguments"]} for call in c["calls"]]
    try:
        result = ast_checker(c["function"], output, c["truth"], Language.PYTHON, c["category"], "m")
        verdict = bool(result["valid"])
    except Exception as exc:
        verdict = "crash: " + type(exc).__name__ + ": " + str(exc)[:100]
    verdicts.append(verdict)
print(json.dumps({"verdicts": verdicts, "seconds": time.perf_counter() - started}))
"""


def load_records(root: Path, category: str) -> list[dict]:
    data = root / "bfcl_eval" / "data"
    truths = {}
    for line in (data / "possible_answer" / f"BFCL_v4_{category}.json").read_text().splitlines():
        record = json.loads(line)
        truths[record["id"]] = record["ground_truth"]
    records = []
    for line in (data / f"BFCL_v4_{category}.json").read_text().splitlines():
        record = json.loads(line)
        if record["id"] in truths:
            records.append({**record, "ground_truth": truths[record["id"]], "category": category})
    return records


def _mutate_value(value, rng: random.Random):
    """A plausible wrong or differently-typed rendering of a right value (or the value itself)."""
    if isinstance(value, bool):
        return rng.choice([int(value), str(value).lower(), not value])
    if isinstance(value, float):
        return rng.choice([int(value) if value.is_integer() else value, str(value), value + 1])
    if isinstance(value, int):
        return rng.choice([float(value), str(value), value + 1, bool(value % 2)])
    if isinstance(value, str):
        return rng.choice([value.upper() + ".", value.replace(" ", "_"), value + " x", "zzz"])
    if isinstance(value, list):
        return rng.choice([value[::-1], value[:-1], [_mutate_value(v, rng) for v in value]]) if value else [0]
    if isinstance(value, dict) and value:
        out = dict(value)
        key = rng.choice(sorted(out))
        if rng.random() < 0.5:
            out.pop(key)
        else:
            out[key] = _mutate_value(out[key], rng)
        return out
    return value


def _pick(options, rng: random.Random, second: bool = False):
    values = [v for v in options if v != ""] if isinstance(options, list) else []
    if not values:
        return None
    value = values[1] if second and len(values) > 1 else values[0]
    if isinstance(value, dict):
        return {k: _pick(v, rng) for k, v in value.items() if _pick(v, rng) is not None}
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return [{k: _pick(o, rng) for k, o in v.items() if _pick(o, rng) is not None} for v in value]
    return value


def replies(record: dict, n: int, rng: random.Random) -> list[list[dict]]:
    """n call lists for one record: the first allowed values, then mutated ones."""
    base = []
    for entry in record["ground_truth"]:
        ((name, params),) = entry.items()
        base.append(
            {"name": name, "arguments": {p: v for p, o in params.items() if (v := _pick(o, rng)) is not None}}
        )
    out = [base]
    for _ in range(n - 1):
        calls = copy.deepcopy(base)
        call = rng.choice(calls)
        params = next(iter(next(e for e in record["ground_truth"] if next(iter(e)) == call["name"]).values()))
        kind = rng.randrange(6)
        if kind <= 2 and call["arguments"]:
            key = rng.choice(sorted(call["arguments"]))
            call["arguments"][key] = _mutate_value(call["arguments"][key], rng)
        elif kind == 3 and params:
            key = rng.choice(sorted(params))
            if key in call["arguments"] and rng.random() < 0.5:
                call["arguments"].pop(key)
            else:
                value = _pick(params[key], rng, second=True)
                if value is not None:
                    call["arguments"][key] = value
        elif kind == 4:
            call["arguments"]["extra_param"] = rng.choice([1, "x", True])
        elif len(calls) > 1:
            calls = calls[::-1] if rng.random() < 0.5 else calls[1:]
        out.append(calls)
    return out


def _edge_record(properties: dict, truth: dict) -> dict:
    function = {
        "name": "f",
        "description": "d",
        "parameters": {"type": "dict", "properties": properties, "required": []},
    }
    return {
        "id": "edge",
        "question": "q",
        "function": [function],
        "ground_truth": [{"f": truth}],
        "category": "edge",
    }


def edge_cases() -> list[dict]:
    """Hand-written cases on the checker's corners: dict arguments, bool vs int, int for float,
    string normalisation, lists of dicts, optional markers (the checker decides; we compare)."""
    dict_rec = _edge_record(
        {"filters": {"type": "dict", "properties": {}}},
        {"filters": [{"city": ["New York", "NYC"], "days": [3], "unit": ["", "celsius"]}]},
    )
    bool_rec = _edge_record(
        {"flags": {"type": "array", "items": {"type": "boolean"}}, "n": {"type": "integer"}},
        {"flags": [[True, False]], "n": ["", 1]},
    )
    mixed_rec = _edge_record(
        {
            "x": {"type": "float"},
            "s": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "rows": {"type": "array", "items": {"type": "dict"}},
            "type": {"type": "string"},
        },
        {
            "x": [2.0],
            "s": ["April 1, 2024"],
            "rows": ["", [{"a": [1]}]],
            "tags": ["", ["New-York"]],
            "type": ["", "Fast"],
        },
    )
    arguments = [
        (
            dict_rec,
            [
                {"filters": {"city": "new york", "days": 3}},
                {"filters": {"city": "NYC", "days": 3, "unit": "Celsius"}},
                {"filters": {"city": "Boston", "days": 3}},
                {"filters": {"city": "NYC"}},
                {"filters": {"city": "NYC", "days": 3, "extra": 1}},
                {"filters": {"city": "NYC", "days": 3.0}},
            ],
        ),
        (
            bool_rec,
            [
                {"flags": [True, False]},
                {"flags": [1, 0]},
                {"flags": [True, False], "n": True},
                {"flags": [True, False], "n": 1},
                {"flags": ["true", "false"]},
            ],
        ),
        (
            mixed_rec,
            [
                {"x": 2, "s": "april 1 2024"},
                {"x": 2.0, "s": "April 1,2024", "rows": [{"a": 1}], "tags": ["new york"]},
                {"x": 2.0, "s": "April 2, 2024"},
                {"x": "2.0", "s": "April 1, 2024"},
                {"x": 2.0, "s": "April 1, 2024", "rows": [{"a": 2}]},
                {"s": "April 1, 2024"},
                {"x": 2.0, "s": "April 1, 2024", "rows": [], "tags": []},
                {"x": 2.0, "s": "april 1 2024", "type": "FAST"},
            ],
        ),
    ]
    return [
        {"record": rec, "calls": [{"name": "f", "arguments": a}], "category": "simple"}
        for rec, options in arguments
        for a in options
    ]


def ours_verdict(env, record: dict, calls: list[dict]) -> bool:
    from atropos_envs.core import Trajectory

    task = {**env.task_from_record(record), "id": record["id"]}
    text = "".join(f"<tool_call>{json.dumps(c)}</tool_call>" for c in calls)
    messages = env.prompt(task) + [{"role": "assistant", "content": text}]
    state = env.initial_state(task)
    env.respond(task, messages, state)
    return env.score(Trajectory(task, messages, state)).components["task_completion"] == 1.0


def main() -> None:
    import gymnasium as gym

    import atropos_envs  # noqa: F401

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-record", type=int, default=6)
    parser.add_argument("--limit", type=int, default=0, help="records per category (0: all)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    root, rng = _bfcl_dir(), random.Random(args.seed)
    env = gym.make("atropos_envs/ToolUse-v0").unwrapped
    cases, load_errors = [], []
    for category in CATEGORIES:
        records = load_records(root, category)[: args.limit or None]
        for record in records:
            try:
                env.task_from_record(record)
            except ValueError as exc:
                load_errors.append(f"{record['id']}: {exc}")
                continue
            for calls in replies(record, args.per_record, rng):
                checker_category = category.removeprefix("live_").replace("simple_python", "simple")
                cases.append({"record": record, "calls": calls, "category": checker_category})
    cases += edge_cases()
    payload = [
        {
            "function": c["record"]["function"],
            "calls": c["calls"],
            "truth": c["record"]["ground_truth"],
            "category": c["category"],
        }
        for c in cases
    ]
    peer = _run_peer(root, PEER_CODE, payload)
    started = time.perf_counter()
    ours = [ours_verdict(env, c["record"], c["calls"]) for c in cases]
    seconds = time.perf_counter() - started
    report(args, cases, ours, peer, seconds, load_errors)


def report(args, cases, ours, peer, seconds, load_errors) -> None:
    rows, notes = [], []
    for category in CATEGORIES + ["edge", "all"]:
        idx = [i for i, c in enumerate(cases) if category == "all" or c["record"]["category"] == category]
        if not idx:
            continue
        agree = sum(ours[i] == peer["verdicts"][i] for i in idx)
        rows.append(
            f"| {category} | {len({cases[i]['record']['id'] for i in idx})} | {len(idx)} | "
            f"{100 * agree / len(idx):.2f} % | {sum(ours[i] for i in idx)} / "
            f"{sum(peer['verdicts'][i] is True for i in idx)} |"
        )
    for i, case in enumerate(cases):
        if ours[i] != peer["verdicts"][i]:
            calls = json.dumps(case["calls"])[:300]
            notes.append(f"{case['record']['id']}: ours={ours[i]} reference={peer['verdicts'][i]} on {calls}")
    header = (
        f"\n## {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.machine()}, "
        f"{os.cpu_count()} cores, "
        f"{BFCL}, {args.per_record} replies per record, seed {args.seed}\n\n"
        "| category | records | replies | agreement | accepted (ours / BFCL) |\n"
        "|---|---|---|---|---|\n"
    )
    timing = (
        "\nOurs (whole env path: parse, schema-translated task, score) "
        f"{1000 * seconds / len(cases):.3f} ms a "
        f"reply; BFCL's checker {1000 * peer['seconds'] / len(cases):.3f} ms.\n"
    )
    loads = f"\nRecords that did not load: {len(load_errors)}\n" + "".join(
        f"- {e}\n" for e in load_errors[:20]
    )
    text = header + "\n".join(rows) + "\n" + timing + loads
    text += (
        (f"\nDisagreements ({len(notes)}):\n\n" + "".join(f"- {n}\n" for n in notes[:200]))
        if notes
        else "\nNo disagreements.\n"
    )
    print(text)
    if not RESULTS.exists():
        RESULTS.write_text(
            "# ToolUse-v0 BFCL verdicts vs bfcl-eval's ast_checker\n\nWritten by "
            "`python -m benchmarks.bfcl_agreement`.\n"
        )
    with RESULTS.open("a") as f:
        f.write(text)


if __name__ == "__main__":
    main()
