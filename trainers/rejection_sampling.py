"""Rejection sampling: N completions per task, keep the verified ones as SFT data.

For each task, N episodes run concurrently against the rollout server; each is scored by
the env; samples at or above the threshold that did not hit the token limit are kept, at
most K per task, exact and near duplicates dropped. Records are written in the
``messages`` format that ``datasets`` and TRL's SFTTrainer read unchanged. The same loop,
keeping every sample, is ``evaluate`` (mean reward, pass@k).

Every sample's outcome (ok, invalid, timeout, truncated, error: see atropos_envs.core) is
counted in the summary, so a zero from malformed output or from an env failure is never
mistaken for a wrong answer; an env failing on one reply scores that sample 0 (outcome
``error``, see trainers/rollout.py) and the job goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from atropos_envs.core import OUTCOMES, TextEnv
from trainers.client import RolloutClient, SamplingParams
from trainers.config import setting
from trainers.machine import provenance
from trainers.pairs import pair_record, preference_pairs
from trainers.rollout import Rollout, run_episode
from trainers.selection import SELECTIONS, choose, distinct  # noqa: F401 - distinct: the public helper
from trainers.stats import BOOTSTRAP_RESAMPLES, summary_intervals
from trainers.task_log import OutputMismatch, TaskLog, atomic_write_text
from trainers.think import ThinkBudget, termination_record
from trainers.think import think_budget as budget_of


@dataclass
class SamplingJob:
    """What ``sample`` and ``evaluate`` run; each documented field is also their command-line option."""

    env_id: str = field(metadata={"help": "the env (set by --env)", "cli": False})
    env_kwargs: dict[str, Any] = setting({}, "the env's settings (set by --env-arg)", cli=False)
    num_tasks: int | None = setting(32, "tasks to sample (generator); 0 with --tasks: every task of the file")
    first_task: int = setting(
        0, "position of the first task; generated tasks from 1,000,000 on are held out (evaluate's default)"
    )
    samples_per_task: int = setting(8, "completions per task (pass@n is reported)", flag="n")
    keep_per_task: int = setting(
        2,
        "distinct verified samples kept per task at most; 0 keeps every sample (failed ones too: the "
        "summary's acceptance_rate is then the verified share)",
        flag="keep",
    )
    threshold: float = setting(1.0, "reward at which a sample counts as verified (kept; a pass)")
    near_duplicate: float = setting(0.9, "similarity (difflib, 0-1] at which two kept samples count as one")
    keep_truncated: bool = setting(False, "keep verified samples that hit the token limit")
    sampling: SamplingParams = setting(
        SamplingParams(), "sampling settings (options of their own)", cli=False
    )
    seed: int = setting(0, "sampling seed; use another than training's for held-out runs")
    assistant_prefix: str = setting("", "force replies to start with this text, e.g. '<think>'")
    model: str = setting("", "the served model's name (set from the server)", cli=False)
    tasks_in_flight: int = setting(8, "tasks sampled at once (scheduling only: the output does not change)")
    samples_out: str = setting(  # where, not what: not part of the settings a resume must match
        "",
        "JSONL of every sample, kept or rejected, with reward, components, reason, outcome, token counts "
        "and sampling settings (resumable like the output); default <out stem>.samples.jsonl, 'none': off",
    )
    # selection and thinking budget (trainers/selection.py, trainers/think.py)
    select: str = setting("first", f"which verified samples are kept: {', '.join(SELECTIONS)}")
    think_budget: int = setting(0, "tokens of reasoning before </think> is forced; 0: no budget")
    answer_budget: int = setting(0, "tokens of the answer after </think> (with think_budget); 0: max_tokens")

    def validate(self, reward_range: tuple[float, float] | None = None) -> None:
        """Raise ValueError (one line, naming the field) for settings no job can run with."""
        positive = {
            "samples_per_task": self.samples_per_task,
            "tasks_in_flight": self.tasks_in_flight,
            "sampling.max_tokens": self.sampling.max_tokens,
        }
        if self.num_tasks is not None:
            positive["num_tasks"] = self.num_tasks
        for name, value in positive.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name, value in {"first_task": self.first_task, "keep_per_task": self.keep_per_task}.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
        if not (isinstance(self.threshold, (int, float)) and math.isfinite(self.threshold)):
            raise ValueError(f"threshold must be a finite number, got {self.threshold!r}")
        if reward_range is not None:
            low, high = reward_range
            if not low < self.threshold <= high:
                raise ValueError(
                    f"threshold must be in ({low}, {high}], the env's reward range without its floor "
                    f"(at {low} every sample, failures included, would count), got {self.threshold}"
                )
        if not 0.0 < self.near_duplicate <= 1.0:
            raise ValueError(f"near_duplicate must be in (0, 1], got {self.near_duplicate}")
        if not (math.isfinite(self.sampling.temperature) and self.sampling.temperature >= 0):
            raise ValueError(f"temperature must be >= 0, got {self.sampling.temperature}")
        if not 0.0 < self.sampling.top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {self.sampling.top_p}")
        self._validate_selection()

    def _validate_selection(self) -> None:
        if self.select not in SELECTIONS:
            raise ValueError(f"select must be one of {SELECTIONS}, got {self.select!r}")
        for name in ("think_budget", "answer_budget"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
        self.budget()

    def budget(self) -> ThinkBudget | None:
        return budget_of(self.think_budget, self.answer_budget, self.sampling.max_tokens)

    def settings(self) -> dict[str, Any]:
        """What must match for a run to resume an existing output: scheduling and where the
        every-sample file goes may change, and fields added later are left out at their
        defaults, so outputs written before them still resume."""
        settings = json.loads(json.dumps(asdict(self)))
        del settings["tasks_in_flight"], settings["samples_out"]
        for name in ADDED_FIELDS:
            if settings.get(name) == getattr(SamplingJob, name):
                settings.pop(name)
        return settings

    def samples_path(self, out: Path) -> Path | None:
        """The every-sample file of an output: ``samples_out``, or beside it; None when 'none'."""
        if self.samples_out.lower() == "none":
            return None
        path = Path(self.samples_out) if self.samples_out else out.with_name(f"{out.stem}.samples.jsonl")
        if path.resolve() == Path(out).resolve():
            raise ValueError(f"--samples-out must differ from --out ({out})")
        return path


ADDED_FIELDS = ("select", "think_budget", "answer_budget")


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples of which c passed (Chen et al., 2021)."""
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def to_record(rollout: Rollout, job: SamplingJob) -> dict[str, Any]:
    sampling = {
        **job.sampling.as_dict(),
        "seed": job.seed,
        "assistant_prefix": job.assistant_prefix,
        **_budget_fields(job),
    }
    return rollout.record(job.env_id, model=job.model, sampling=sampling, **_think_fields(rollout, job))


def sample_record(rollout: Rollout, job: SamplingJob, kept: bool) -> dict[str, Any]:
    """One line of the every-sample file: the SFT record plus whether it was kept and its tokens."""
    record = to_record(rollout, job)
    record["metadata"].update(
        kept=kept,
        prompt_tokens=len(rollout.turns[0].prompt_token_ids) if rollout.turns else 0,
        turns=len(rollout.turns),
        hit_token_limit=rollout.hit_token_limit,
        finish_reasons=[t.finish_reason for t in rollout.turns],
    )
    return record


ERROR_EXAMPLES = 3  # per task, and in the summary: the reasons of env failures, to fix them


def task_stats(rollouts: list[Rollout], threshold: float, keep_truncated: bool = False) -> dict[str, Any]:
    errors = [r.reason for r in rollouts if r.outcome == "error"]
    return {
        "rewards": [r.reward for r in rollouts],
        "outcomes": dict(Counter(r.outcome for r in rollouts)),
        "errors": list(dict.fromkeys(errors))[:ERROR_EXAMPLES],
        "passed": sum(r.reward >= threshold for r in rollouts),
        "verified": len(_verified(rollouts, threshold, keep_truncated)),
        "hit_token_limit": sum(r.hit_token_limit for r in rollouts),
        "completion_tokens": sum(r.completion_tokens for r in rollouts),
        "think_forced": sum(r.think_forced for r in rollouts),
        "think_tokens": sum(r.think_tokens for r in rollouts),
    }


async def _sample_task(env: TextEnv, task_id: str, job: SamplingJob, client: RolloutClient) -> list[Rollout]:
    return list(
        await asyncio.gather(
            *(
                run_episode(
                    env,
                    task_id,
                    sample_index=i,
                    client=client,
                    sampling=job.sampling,
                    base_seed=job.seed,
                    assistant_prefix=job.assistant_prefix,
                    think_budget=job.budget(),
                )
                for i in range(job.samples_per_task)
            )
        )
    )


def _verified(rollouts: list[Rollout], threshold: float, keep_truncated: bool) -> list[Rollout]:
    """The samples a job may keep: at or above the threshold, and not cut at the token limit."""
    return [r for r in rollouts if r.reward >= threshold and (keep_truncated or not r.hit_token_limit)]


def select(rollouts: list[Rollout], job: SamplingJob) -> list[Rollout]:
    if job.keep_per_task == 0:
        return rollouts
    verified = _verified(rollouts, job.threshold, job.keep_truncated)
    return choose(verified, job.select, job.keep_per_task, job.near_duplicate)


async def run_job(
    job: SamplingJob,
    env: TextEnv,
    client: RolloutClient,
    out: Path,
    overwrite: bool = False,
    on_task_done: Callable[[int, int], None] | None = None,
    *,
    pairs_out: Path | None = None,
    termination_out: Path | None = None,
) -> dict[str, Any]:
    """Run (or resume) a job; returns the summary, also saved as ``<out>.summary.json``.
    ``pairs_out``: DPO preference pairs; ``termination_out``: termination-training records of
    replies whose reasoning ran past the thinking budget (see ``side_outputs``)."""
    started = time.monotonic()
    job.validate(env.reward_range)
    produced_by = await asyncio.to_thread(provenance, [server.url for server in client.servers])
    task_ids = env.task_ids(job.num_tasks, job.first_task)
    samples_path = job.samples_path(out)
    summary_path = out.with_name(out.name + ".summary.json")
    if summary_path.is_dir():
        raise OutputMismatch(f"{summary_path} is a directory; remove it, or choose another --out")
    with contextlib.ExitStack() as files:
        log = files.enter_context(TaskLog(out, job.settings(), overwrite=overwrite))
        # every sample, committed per task before the output's records: a task redone after a kill
        # between the two commits is not written twice; tasks committed before this file was on
        # (an older run, 'none') are not sampled again for it
        samples = None
        if samples_path is not None:
            samples = files.enter_context(TaskLog(samples_path, job.settings(), overwrite=overwrite))
        sides = files.enter_context(
            side_outputs(job, pairs_out=pairs_out, termination_out=termination_out, overwrite=overwrite)
        )
        # a task whose every-sample records were on disk but not committed (a torn commit, a lost
        # progress line, a cut record) is sampled again for that file
        lost = samples.lost if samples is not None else set()
        todo = [
            t
            for t in task_ids
            if t not in log.done or t in lost or any(t not in side.log.done for side in sides)
        ]
        finished = len(task_ids) - len(todo)
        if on_task_done:
            on_task_done(finished, len(task_ids))
        slots = asyncio.Semaphore(job.tasks_in_flight)

        async def one(task_id: str) -> None:
            nonlocal finished
            async with slots:
                rollouts = await _sample_task(env, task_id, job, client)
            chosen = select(rollouts, job)
            if samples is not None and task_id not in samples.done:
                kept = {id(r) for r in chosen}
                samples.commit(
                    task_id,
                    [sample_record(r, job, id(r) in kept) for r in rollouts],
                    {"samples": len(rollouts)},
                )
            for side in sides:  # the side outputs first: a task is done when the main output has it
                if task_id not in side.log.done:
                    side.log.commit(task_id, side.records(rollouts, job), {})
            if task_id not in log.done:
                stats = task_stats(rollouts, job.threshold, job.keep_truncated)
                log.commit(task_id, [to_record(r, job) for r in chosen], stats)
            finished += 1
            if on_task_done:
                on_task_done(finished, len(task_ids))

        pending = [asyncio.ensure_future(one(t)) for t in todo]
        try:
            await asyncio.gather(*pending)
        finally:
            for task in pending:
                task.cancel()
        for task_log in (samples, *(side.log for side in sides), log):  # the output last: it says done
            if task_log is not None:
                task_log.sort(task_ids)  # in task order, whatever order the tasks finished or resumed in
        summary = summarize(log.entries, job, time.monotonic() - started)
        summary["provenance"] = produced_by  # server model, dtype and vLLM version; this machine's CPU/GPU
        summary.update({side.name: sum(e["records"] for e in side.log.entries) for side in sides})
    atomic_write_text(summary_path, json.dumps(summary, indent=2) + "\n")
    return summary


def summarize(entries: list[dict[str, Any]], job: SamplingJob, wall_s: float) -> dict[str, Any]:
    samples = sum(len(e["rewards"]) for e in entries)
    rewards = [r for e in entries for r in e["rewards"]]
    k = job.samples_per_task
    outcomes: Counter = Counter()
    for e in entries:  # progress written before outcomes were counted has none: "unknown"
        outcomes.update(e.get("outcomes") or {"unknown": len(e["rewards"])})
    errors = list(dict.fromkeys(reason for e in entries for reason in e.get("errors", [])))
    kept = sum(e["records"] for e in entries)
    # verified: could be kept (at or above the threshold, not cut); progress written before it was
    # counted has only "passed". With --keep 0 every sample is kept, so the rate is the verified share.
    verified = sum(e.get("verified", e["passed"]) for e in entries)
    accepted = verified if job.keep_per_task == 0 else kept
    summary = {
        "env": job.env_id,
        "model": job.model,
        "tasks": len(entries),
        "samples": samples,
        "kept": kept,
        "passed": sum(e["passed"] for e in entries),
        "verified": verified,
        "acceptance_rate": (accepted / samples) if samples else 0.0,
        "mean_reward": (sum(rewards) / len(rewards)) if rewards else 0.0,
        "pass@1": _mean(pass_at_k(len(e["rewards"]), e["passed"], 1) for e in entries),
        f"pass@{k}": _mean(pass_at_k(len(e["rewards"]), e["passed"], k) for e in entries),
        "hit_token_limit": sum(e["hit_token_limit"] for e in entries),
        "outcomes": {
            o: outcomes[o]
            for o in (*OUTCOMES, *sorted(set(outcomes) - set(OUTCOMES)))
            if o in OUTCOMES or outcomes[o]
        },
        "error_examples": errors[:ERROR_EXAMPLES],
        "completion_tokens": sum(e["completion_tokens"] for e in entries),
        "wall_s_this_run": round(wall_s, 1),
    }
    # error bars: 95 % percentile bootstrap over tasks (trainers/stats.py), seeded by the job
    summary["ci95"] = summary_intervals(entries, k=k, seed=job.seed)
    summary["ci95_method"] = (
        f"percentile bootstrap over tasks, {BOOTSTRAP_RESAMPLES} resamples, seed {job.seed}"
    )
    if job.think_budget:
        summary.update(think_summary(entries, samples))
    return summary


def written_line(summary: dict[str, Any], job: SamplingJob, out: Path) -> str:
    """What ``sample`` says it wrote: verified samples, or with ``--keep 0`` every sample (the
    verified ones counted apart, since the file holds failed ones too)."""
    if job.keep_per_task == 0:
        return f"wrote {summary['kept']} samples ({summary['verified']} verified) to {out}"
    return f"wrote {summary['kept']} verified samples to {out}"


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values) if values else 0.0


# ---- thinking budget, preference pairs, termination records (trainers/think.py, trainers/pairs.py) ----
def _budget_fields(job: SamplingJob) -> dict[str, Any]:
    budget = job.budget()
    return {} if budget is None else {"think_budget": budget.think, "answer_budget": budget.answer}


def _think_fields(rollout: Rollout, job: SamplingJob) -> dict[str, Any]:
    if not job.think_budget:
        return {}
    return {"think_forced": rollout.think_forced, "think_tokens": rollout.think_tokens}


def think_summary(entries: list[dict[str, Any]], samples: int) -> dict[str, Any]:
    """The overlong rate (share of samples whose reasoning hit the budget) and mean thinking length."""
    forced = sum(e.get("think_forced", 0) for e in entries)
    return {
        "overlong_rate": forced / samples if samples else 0.0,
        "think_forced": forced,
        "mean_think_tokens": sum(e.get("think_tokens", 0) for e in entries) / samples if samples else 0.0,
    }


@dataclass
class SideOutput:
    """An output written beside the SFT one, committed task by task with the same guarantees."""

    name: str  # its count in the summary
    log: TaskLog
    records: Callable[[list[Rollout], SamplingJob], list[dict[str, Any]]]


def pair_records(rollouts: list[Rollout], job: SamplingJob) -> list[dict[str, Any]]:
    limit = max(1, job.keep_per_task)
    return [
        pair_record(kind, chosen, rejected, env_id=job.env_id, model=job.model)
        for kind, chosen, rejected in preference_pairs(
            rollouts, threshold=job.threshold, limit=limit, near=job.near_duplicate
        )
    ]


def termination_records(rollouts: list[Rollout], job: SamplingJob) -> list[dict[str, Any]]:
    budget = job.budget()
    records = [termination_record(r, env_id=job.env_id, model=job.model, budget=budget) for r in rollouts]
    return [r for r in records if r is not None]


def check_side_outputs(job: SamplingJob, *, termination_out: Path | None = None, **_: Any) -> None:
    if termination_out is not None and not job.think_budget:
        raise ValueError("--termination-out needs --think-budget (it holds replies cut at the budget)")


@contextlib.contextmanager
def side_outputs(
    job: SamplingJob, *, pairs_out: Path | None, termination_out: Path | None, overwrite: bool
) -> Iterator[list[SideOutput]]:
    """The TaskLogs of the requested side outputs (each with its own progress file)."""
    check_side_outputs(job, termination_out=termination_out)
    wanted = [
        ("pairs", pairs_out, pair_records),
        ("termination_records", termination_out, termination_records),
    ]
    with contextlib.ExitStack() as stack:
        sides = [
            SideOutput(
                name, stack.enter_context(TaskLog(path, {**job.settings(), "output": name}, overwrite)), make
            )
            for name, path, make in wanted
            if path is not None
        ]
        yield sides
