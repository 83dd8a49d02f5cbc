"""Our scoring vs reference implementations, on the same inputs: agreement % and time ratio.

    python -m benchmarks.scoring_agreement [--cases 2000]

- math equivalence (``rewards.math_equal``) vs HuggingFace ``math-verify``
  (``verify(parse(gold), parse(answer))``);
- JSON: JsonSchema-v0's validity verdict (extraction, guards, bounded worker, jsonschema
  with the declared draft and formats) vs plain ``jsonschema`` on the parsed reply;
- tool calls: our BFCL-style matcher (``rewards.tool_calls.match_calls``) vs BFCL's own
  ``ast_checker`` (the ``bfcl-eval`` wheel; only its checker modules are loaded, with the
  model-name table stubbed).

The peers are installed by this script into ``benchmarks/.cache`` (math-verify with its own
antlr4 4.13, which conflicts with latex2sympy2's 4.7, so it runs in a subprocess with its
own path). The IFEval comparison is ``benchmarks.ifeval_agreement``. Appends to
results/scoring_agreement.md; disagreements are listed with the run's output.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import random
import subprocess
import sys
import time
import zipfile
from datetime import datetime, timezone
from pathlib import Path

CACHE = Path(__file__).resolve().parent / ".cache"
RESULTS = Path(__file__).resolve().parent / "results" / "scoring_agreement.md"
MATH_VERIFY = "math-verify[antlr4_13_2]==0.9.0"
BFCL = "bfcl-eval==2026.3.23"


def _peer_dir(name: str, spec: str) -> Path:
    target = CACHE / name
    if not (target / ".complete").exists():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "-q",
                "--no-warn-conflicts",
                "--target",
                str(target),
                spec,
            ],
            check=True,
        )
        (target / ".complete").write_text(spec)
    return target


def _run_peer(path: Path, code: str, payload) -> dict:
    """Run reference code in a fresh interpreter whose imports come from ``path`` first."""
    env = dict(os.environ, PYTHONPATH=str(path))
    result = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if result.returncode:
        raise RuntimeError(result.stderr[-2000:])
    return json.loads(result.stdout.splitlines()[-1])


# ---- math ----------------------------------------------------------------------------------
def math_cases(n: int, rng: random.Random) -> list[tuple[str, str]]:
    """(gold, answer) pairs: equivalent rewritings, near misses and junk, over numbers and expressions."""
    pairs = []
    for _ in range(n):
        a, b = rng.randint(1, 50), rng.randint(2, 12)
        kind = rng.randrange(12)
        if kind == 0:
            pairs.append((f"\\frac{{{a}}}{{{b}}}", f"{a}/{b}"))
        elif kind == 1:
            pairs.append((f"\\frac{{{a * 2}}}{{{b * 2}}}", f"\\frac{{{a}}}{{{b}}}"))
        elif kind == 2:
            pairs.append((str(a / 4), f"\\frac{{{a}}}{{4}}"))
        elif kind == 3:
            pairs.append((f"{a}", f"{a}.0"))
        elif kind == 4:
            pairs.append((f"\\sqrt{{{b * b}}}", str(b)))
        elif kind == 5:
            pairs.append((f"{a}x+{b}", f"{b}+{a}x"))
        elif kind == 6:
            pairs.append((f"(x+{a})^2", f"x^2+{2 * a}x+{a * a}"))
        elif kind == 7:
            pairs.append((f"{a}", f"{a + 1}"))
        elif kind == 8:
            pairs.append((f"\\frac{{{a}}}{{{b}}}", f"{b}/{a}" if a != b else f"{a + 1}/{b}"))
        elif kind == 9:
            pairs.append((f"{a}\\%", f"{a}"))
        elif kind == 10:
            pairs.append((f"\\pi/{b}", f"\\frac{{\\pi}}{{{b}}}"))
        else:
            pairs.append((f"{a}", rng.choice(["", "x", "\\frac{", "}{", "NaN", "1/0", f"{a}{a}"])))
    return pairs


MATH_VERIFY_CODE = """
import json, sys, time
from math_verify import parse, verify
pairs = json.load(sys.stdin)
verdicts, started = [], time.perf_counter()
for gold, answer in pairs:
    try:
        verdicts.append(bool(verify(parse("$" + gold + "$"), parse("$" + answer + "$"))))
    except Exception:
        verdicts.append(False)
print(json.dumps({"verdicts": verdicts, "seconds": time.perf_counter() - started}))
"""


def compare_math(n: int, rng: random.Random) -> tuple[str, list[str]]:
    from rewards.math_equivalence import math_equal

    pairs = math_cases(n, rng)
    peer = _run_peer(_peer_dir("math-verify", MATH_VERIFY), MATH_VERIFY_CODE, pairs)
    started = time.perf_counter()
    ours = [math_equal(answer, gold)[0] for gold, answer in pairs]
    seconds = time.perf_counter() - started
    return _row(
        "math equivalence vs math-verify 0.9.0", pairs, ours, peer["verdicts"], seconds, peer["seconds"]
    )


# ---- JSON schema ---------------------------------------------------------------------------
def compare_json(n: int, rng: random.Random) -> tuple[str, list[str]]:
    import gymnasium as gym
    import jsonschema

    import atropos_envs  # noqa: F401
    from atropos_envs.core import Trajectory
    from atropos_envs.envs.schema_tasks import corrupt, generate_schema_task

    env = gym.make("atropos_envs/JsonSchema-v0").unwrapped
    cases = []
    while len(cases) < n:  # four replies per schema, as a sampled group would give
        _, schema, value = generate_schema_task(rng, rng.randint(1, 3))
        for i in range(4):
            instance = corrupt(rng, schema, value, edits=rng.randint(1, 2)) if i % 2 else value
            cases.append((schema, json.dumps(instance)))
    tasks = [{"mode": "generate", "entity": "thing", "schema": s, "allow_wrapped": False} for s, _ in cases]
    started = time.perf_counter()
    ours = []
    for task, (_, text) in zip(tasks, cases):
        score = env.score(
            Trajectory(task, [{"role": "user", "content": "x"}, {"role": "assistant", "content": text}], {})
        )
        ours.append(score.components.get("valid", 0.0) == 1.0)
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    peer = []
    for schema, text in cases:
        cls = jsonschema.validators.validator_for(schema)
        peer.append(cls(schema, format_checker=cls.FORMAT_CHECKER).is_valid(json.loads(text)))
    peer_seconds = time.perf_counter() - started
    version = importlib.metadata.version("jsonschema")
    return _row(
        f"JsonSchema-v0 validity (whole scoring path) vs plain jsonschema {version}",
        [t for _, t in cases],
        ours,
        peer,
        seconds,
        peer_seconds,
    )


# ---- BFCL tool calls -----------------------------------------------------------------------
TYPES = {
    "integer": lambda r: r.randint(1, 99),
    "float": lambda r: round(r.uniform(0, 50), 1),
    "string": lambda r: r.choice(["New York", "Paris", "celsius", "blue whale", "2024-05-01"]),
    "boolean": lambda r: r.random() < 0.5,
    "array": lambda r: [r.randint(1, 9) for _ in range(r.randint(1, 3))],
}


def bfcl_cases(n: int, rng: random.Random) -> list[dict]:
    cases = []
    for i in range(n):
        params = {f"p{k}": rng.choice(list(TYPES)) for k in range(rng.randint(1, 4))}
        required = [p for p in params if rng.random() < 0.7] or [next(iter(params))]
        truth = {p: [TYPES[t](rng)] + ([""] if p not in required else []) for p, t in params.items()}
        args = {p: allowed[0] for p, allowed in truth.items() if p in required or rng.random() < 0.5}
        name = f"tool_{i % 7}"
        mutation = rng.randrange(9)
        pick = rng.choice(list(params))
        if mutation == 1:
            args[pick] = TYPES[params[pick]](rng)  # maybe another value
        elif mutation == 2 and params[pick] == "float" and pick in args:
            args[pick] = int(args[pick]) if float(args[pick]).is_integer() else args[pick]
        elif mutation == 3 and pick in args:
            args[pick] = str(args[pick])  # right value, wrong type
        elif mutation == 4:
            args.pop(pick, None)
        elif mutation == 5:
            args["extra"] = 1
        elif mutation == 6 and params[pick] == "string" and pick in args:
            args[pick] = args[pick].upper() + "."
        elif mutation == 7:
            name = name + "_x"
        description = {
            "name": f"tool_{i % 7}",
            "description": "d",
            "parameters": {
                "type": "dict",
                "properties": {p: _param(t) for p, t in params.items()},
                "required": required,
            },
        }
        cases.append(
            {
                "function": description,
                "call": {"name": name, "arguments": args},
                "truth": {f"tool_{i % 7}": truth},
            }
        )
    return cases


def _param(kind: str) -> dict:
    return {
        "type": kind,
        "description": "a parameter",
        **({"items": {"type": "integer"}} if kind == "array" else {}),
    }


BFCL_CODE = """
import json, sys, time, types
stub = types.ModuleType("bfcl_eval.constants.model_config")
stub.MODEL_CONFIG_MAPPING = {}
sys.modules["bfcl_eval.constants.model_config"] = stub
from bfcl_eval.constants.enums import Language
from bfcl_eval.eval_checker.ast_eval.ast_checker import ast_checker
cases = json.load(sys.stdin)
verdicts, started = [], time.perf_counter()
for c in cases:
    output = [{c["call"]["name"]: c["call"]["arguments"]}]
    result = ast_checker([c["function"]], output, [c["truth"]], Language.PYTHON, "simple", "m")
    verdicts.append(bool(result["valid"]))
print(json.dumps({"verdicts": verdicts, "seconds": time.perf_counter() - started}))
"""


def _bfcl_dir() -> Path:
    """The bfcl-eval wheel's checker modules and its data (records and possible answers)."""
    target = CACHE / "bfcl-eval"
    wanted = (
        "bfcl_eval/constants/enums",
        "bfcl_eval/constants/type_mappings",
        "bfcl_eval/eval_checker/ast_eval/",
        "bfcl_eval/data/BFCL_",
        "bfcl_eval/data/possible_answer/",
    )
    if not (target / "bfcl_eval" / "data" / "possible_answer" / "BFCL_v4_simple_python.json").exists():
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(CACHE), BFCL], check=True
        )
        wheel = next(CACHE.glob("bfcl_eval-*.whl"))
        with zipfile.ZipFile(wheel) as zf:
            for name in zf.namelist():
                if name.startswith(wanted):
                    zf.extract(name, target)
        for package in ("bfcl_eval", "bfcl_eval/constants", "bfcl_eval/eval_checker"):
            (target / package / "__init__.py").touch()
    return target


def compare_bfcl(n: int, rng: random.Random) -> tuple[str, list[str]]:
    from rewards.tool_calls import match_calls

    cases = bfcl_cases(n, rng)
    peer = _run_peer(_bfcl_dir(), BFCL_CODE, cases)
    started = time.perf_counter()
    ours = [match_calls([c["call"]], [c["truth"]], [c["function"]])[0] for c in cases]
    seconds = time.perf_counter() - started
    return _row(
        f"tool calls vs BFCL ast_checker ({BFCL})",
        [json.dumps(c["call"]) for c in cases],
        ours,
        peer["verdicts"],
        seconds,
        peer["seconds"],
    )


# ---- report --------------------------------------------------------------------------------
def _row(label, inputs, ours, peer, seconds, peer_seconds) -> tuple[str, list[str]]:
    agree = sum(a == b for a, b in zip(ours, peer))
    disagreements = [
        f"{label}: ours={a} reference={b} on {str(x)[:160]}" for x, a, b in zip(inputs, ours, peer) if a != b
    ]
    row = (
        f"| {label} | {len(ours)} | {100 * agree / len(ours):.1f} % | {sum(ours)} / {sum(peer)} | "
        f"{1000 * seconds / len(ours):.3f} / {1000 * peer_seconds / len(ours):.3f} | "
        f"{seconds / max(peer_seconds, 1e-9):.2f} |"
    )
    return row, disagreements


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rows, notes = [], []
    for compare in (compare_math, compare_json, compare_bfcl):
        row, disagreements = compare(args.cases, random.Random(args.seed))
        rows.append(row)
        notes += disagreements[:5]
        print(row, f"({len(disagreements)} disagreements)", flush=True)
    header = (
        f"\n## {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.machine()}, {os.cpu_count()} "
        f"cores, {args.cases} cases each (seed {args.seed})\n\n| comparison | cases | agreement | accepted "
        "(ours / reference) | ms per case (ours / reference) | time ratio |\n|---|---|---|---|---|---|\n"
    )
    text = (
        header
        + "\n".join(rows)
        + "\n"
        + ("\nFirst disagreements:\n\n" + "\n".join(f"- {n}" for n in notes) + "\n" if notes else "")
    )
    print(text)
    if not RESULTS.exists():
        RESULTS.write_text(
            "# Scoring vs reference implementations\n\nWritten by `python -m benchmarks.scoring_agreement`.\n"
        )
    with RESULTS.open("a") as f:
        f.write(text)


if __name__ == "__main__":
    main()
