"""Error bars for evaluations: bootstrap confidence intervals over tasks, and paired comparisons.

An evaluation's unit of independence is the task (its samples share a prompt), so every
interval resamples tasks with replacement: the percentile bootstrap of the mean of per-task
values (mean reward, pass@1, pass@k of each task), 95 % by default, seeded so a summary is
reproducible. Two evaluations of the same tasks are compared task by task (``paired``): the
difference B - A of the per-task values, a paired bootstrap interval of its mean (the same
task indices resampled for both), and a two-sided paired permutation (sign-flip) test of
"the mean difference is 0": exact over every sign pattern when at most ``EXACT_UP_TO`` tasks
differ, otherwise ``permutations`` random sign patterns (seeded; the observed one counted, so
p is never 0).
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

BOOTSTRAP_RESAMPLES = 10_000
EXACT_UP_TO = 16  # 2**16 sign patterns at most are enumerated
PERMUTATIONS = 20_000


def bootstrap_ci(
    values: Sequence[float], *, confidence: float = 0.95, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (one per task), resampling tasks."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return (math.nan, math.nan)
    if np.all(data == data[0]):
        return (float(data[0]), float(data[0]))
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    for start in range(0, resamples, 1000):  # bounded memory on large evaluations
        count = min(1000, resamples - start)
        means[start : start + count] = data[rng.integers(0, data.size, (count, data.size))].mean(axis=1)
    tail = (1.0 - confidence) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return (float(low), float(high))


def sign_flip_p(differences: Sequence[float], *, permutations: int = PERMUTATIONS, seed: int = 0) -> float:
    """Two-sided p-value of the paired permutation test: under "no difference" each task's
    difference is as likely to have either sign; p is the share of sign patterns whose
    |sum| is at least the observed one."""
    d = np.asarray([x for x in differences if x != 0], dtype=float)
    if d.size == 0:
        return 1.0
    observed = abs(d.sum()) - 1e-12 * max(1.0, float(np.abs(d).sum()))  # ties count as extreme
    if d.size <= EXACT_UP_TO:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=d.size)))
        return float(np.mean(np.abs(signs @ d) >= observed))
    rng = np.random.default_rng(seed)
    extreme = 0
    for start in range(0, permutations, 2000):
        count = min(2000, permutations - start)
        signs = rng.choice((-1.0, 1.0), size=(count, d.size))
        extreme += int(np.sum(np.abs(signs @ d) >= observed))
    return (extreme + 1) / (permutations + 1)


def interval(values: Sequence[float], *, seed: int = 0, confidence: float = 0.95) -> dict[str, Any]:
    """Mean of per-task values and its bootstrap interval."""
    low, high = bootstrap_ci(values, seed=seed, confidence=confidence)
    mean = float(np.mean(values)) if len(values) else math.nan
    return {"mean": mean, "ci95_low": low, "ci95_high": high, "tasks": len(values)}


def paired(
    a: dict[str, float], b: dict[str, float], *, seed: int = 0, confidence: float = 0.95
) -> dict[str, Any]:
    """B - A over the tasks both hold: mean difference, paired bootstrap interval, sign-flip p,
    and how many tasks each side alone wins."""
    common = sorted(set(a) & set(b))
    if not common:
        raise ValueError("the two evaluations share no task id; compare evaluations of the same tasks")
    differences = [b[t] - a[t] for t in common]
    low, high = bootstrap_ci(differences, seed=seed, confidence=confidence)
    return {
        "tasks": len(common),
        "a": float(np.mean([a[t] for t in common])),
        "b": float(np.mean([b[t] for t in common])),
        "difference": float(np.mean(differences)),
        "ci95_low": low,
        "ci95_high": high,
        "p_value": sign_flip_p(differences, seed=seed),
        "b_better": sum(d > 0 for d in differences),
        "a_better": sum(d < 0 for d in differences),
        "ties": sum(d == 0 for d in differences),
    }


def task_values(entries: list[dict[str, Any]], *, k: int = 1) -> dict[str, dict[str, float]]:
    """Per task of an evaluation's progress entries (``rewards``, ``passed``): mean reward,
    pass@1 and pass@k (unbiased estimator)."""
    from trainers.rejection_sampling import pass_at_k

    out: dict[str, dict] = {}
    for index, e in enumerate(entries):
        n = len(e["rewards"])
        if n == 0:
            continue
        out[str(e.get("task_id", f"#{index}"))] = {
            "mean_reward": sum(e["rewards"]) / n,
            "pass@1": pass_at_k(n, e["passed"], 1),
            f"pass@{k}": pass_at_k(n, e["passed"], k),
        }
    return out


def read_evaluation(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The settings and per-task entries of an ``evaluate`` (or ``sample``) output, given as
    the output JSONL, its ``.progress`` or its ``.summary.json``: the progress file holds every
    task's rewards and passes. Lines of another job and repeated tasks are skipped."""
    path = Path(path)
    for suffix in (".summary.json", ".progress"):
        if path.name.endswith(suffix):
            path = path.with_name(path.name[: -len(suffix)])
    progress = path.with_name(path.name + ".progress")
    if not progress.exists():
        raise ValueError(f"{progress} not found: give the --out of an evaluate run (its progress file)")
    lines = progress.read_text(encoding="utf-8").splitlines()
    try:
        header = json.loads(lines[0]) if lines else None
    except ValueError:
        header = None
    if not isinstance(header, dict) or not isinstance(header.get("settings"), dict):
        raise ValueError(f"{progress} has no readable header; is it an evaluate output?")
    entries, seen = [], set()
    for line in lines[1:]:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if not isinstance(entry, dict) or entry.get("job") != header.get("job"):
            continue
        if entry.get("task_id") in seen or not isinstance(entry.get("rewards"), list):
            continue
        seen.add(entry["task_id"])
        entries.append(entry)
    return header["settings"], entries


def compare_evaluations(a: Path, b: Path, *, seed: int = 0) -> dict[str, Any]:
    """B against A, paired by task, for mean reward, pass@1 and pass@k (k: the smaller sample
    count of the two), plus the tasks one solves (pass@1 > 0) and the other never does."""
    (settings_a, entries_a), (settings_b, entries_b) = read_evaluation(a), read_evaluation(b)
    k = min(int(settings_a.get("samples_per_task", 1)), int(settings_b.get("samples_per_task", 1)))
    values_a, values_b = task_values(entries_a, k=k), task_values(entries_b, k=k)
    report: dict[str, Any] = {
        "a": str(a),
        "b": str(b),
        "env": [settings_a.get("env_id"), settings_b.get("env_id")],
        "tasks_only_in_a": len(set(values_a) - set(values_b)),
        "tasks_only_in_b": len(set(values_b) - set(values_a)),
        "method": (
            f"per-task B - A; 95 % percentile bootstrap over tasks ({BOOTSTRAP_RESAMPLES} resamples, "
            f"seed {seed}); two-sided paired sign-flip permutation test (exact up to {EXACT_UP_TO} "
            f"differing tasks, else {PERMUTATIONS} random sign patterns)"
        ),
        "metrics": {},
    }
    for metric in ("mean_reward", "pass@1", f"pass@{k}"):
        if metric in report["metrics"]:
            continue  # k == 1
        report["metrics"][metric] = paired(
            {t: v[metric] for t, v in values_a.items()},
            {t: v[metric] for t, v in values_b.items()},
            seed=seed,
        )
    common = sorted(set(values_a) & set(values_b), key=_task_order)
    solved_a = {t for t in common if values_a[t]["pass@1"] > 0}
    solved_b = {t for t in common if values_b[t]["pass@1"] > 0}
    report["solved_only_by_a"] = [t for t in common if t in solved_a - solved_b]
    report["solved_only_by_b"] = [t for t in common if t in solved_b - solved_a]
    return report


def _task_order(task_id: str) -> tuple[int, int | str]:
    return (0, int(task_id)) if task_id.isdigit() else (1, task_id)


def summary_intervals(entries: list[dict[str, Any]], *, k: int, seed: int = 0) -> dict[str, Any]:
    """The 95 % bootstrap intervals (over tasks) of an evaluation summary's mean reward,
    pass@1 and pass@k, as [low, high]."""
    values = task_values(entries, k=k)
    intervals = {}
    for metric in dict.fromkeys(("mean_reward", "pass@1", f"pass@{k}")):
        intervals[metric] = [
            round(x, 6) for x in bootstrap_ci([v[metric] for v in values.values()], seed=seed)
        ]
    return intervals


def print_comparison(report: dict[str, Any], out, notes) -> None:
    """The comparison as a table on ``out`` (a rich Console), notes on ``notes``."""
    from rich.markup import escape
    from rich.table import Table

    a, b = Path(report["a"]).name, Path(report["b"]).name
    table = Table(title=f"B - A, paired by task (A: {a}, B: {b})", caption=report["method"])
    for column in ("metric", "tasks", "A", "B", "B - A", "95 % CI", "p", "B better", "A better", "ties"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for metric, r in report["metrics"].items():
        table.add_row(
            metric,
            str(r["tasks"]),
            f"{r['a']:.3f}",
            f"{r['b']:.3f}",
            f"{r['difference']:+.3f}",
            escape(f"[{r['ci95_low']:+.3f}, {r['ci95_high']:+.3f}]"),
            f"{r['p_value']:.4f}",
            str(r["b_better"]),
            str(r["a_better"]),
            str(r["ties"]),
        )
    out.print(table)
    for side in ("a", "b"):
        solved = report[f"solved_only_by_{side}"]
        if solved:
            shown = ", ".join(solved[:20]) + (" ..." if len(solved) > 20 else "")
            out.print(f"solved only by {side.upper()} ({len(solved)}): {shown}")
    for side in ("a", "b"):
        if report[f"tasks_only_in_{side}"]:
            notes.print(f"{report[f'tasks_only_in_{side}']} task(s) only in {side.upper()}: not compared")
