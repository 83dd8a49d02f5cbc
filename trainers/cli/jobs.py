"""sample and evaluate (options derived from SamplingJob), and reading outputs: compare, overlap, view."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from trainers.cli.common import (
    DtypeOpt,
    EnvArgOpt,
    EnvServerOpt,
    EnvTokenOpt,
    GiveUpOpt,
    ModelOpt,
    ServerOpt,
    app,
    clear_errors,
    command_from,
    console,
    make_env,
    option_parameter,
    progress_bar,
    remote_env_pool,
    rollout_servers,
)
from trainers.server import DTYPES, ServerConfig


def _run_sampling(
    job,
    env,
    *,
    urls: list[str],
    out: Path,
    overwrite: bool,
    title: str,
    give_up_s: float,
    sides: dict[str, Path | None] | None = None,
) -> dict[str, Any]:
    from trainers.client import RolloutClient
    from trainers.rejection_sampling import run_job

    async def main() -> dict[str, Any]:
        with progress_bar() as progress:
            bar = progress.add_task(title, total=None)

            def on_task_done(done: int, total: int) -> None:
                progress.update(bar, completed=done, total=total)

            async with RolloutClient(urls, model=None, give_up_after_s=give_up_s) as client:
                return await run_job(
                    job, env, client, out, overwrite=overwrite, on_task_done=on_task_done, **(sides or {})
                )

    return asyncio.run(main())


def _print_summary(summary: dict[str, Any], out: Path) -> None:
    table = Table(title=f"summary ({out.name}.summary.json)")
    table.add_column("metric")
    table.add_column("value", justify="right")
    intervals = summary.get("ci95", {})
    for key, value in summary.items():
        if isinstance(value, dict) or key == "ci95_method":  # provenance, intervals: in the JSON file
            continue
        text = f"{value:.3f}" if isinstance(value, float) else str(value)
        if key in intervals:  # 95 % bootstrap interval over tasks (trainers/stats.py)
            text += " [{:.3f}, {:.3f}]".format(*intervals[key])
        table.add_row(key, escape(text))
    if intervals:
        method = summary.get("ci95_method", "bootstrap over tasks")
        table.caption = escape(f"[low, high]: 95 % confidence interval, {method}")
    Console().print(table)


COMMON_JOB_OPTIONS = {  # what sample and evaluate take besides the SamplingJob fields
    "env": (str, "Format", typer.Option(help="environment, e.g. Format or atropos_envs/Format-v0")),
    "tasks": (
        Path | None,
        None,
        typer.Option(help="task file (JSONL/JSON/parquet) instead of the generator"),
    ),
    "env_arg": (list[str], [], typer.Option("--env-arg", help=EnvArgOpt.__metadata__[0].help)),
    "server": (list[str], [], ServerOpt.__metadata__[0]),
    "model": (str, "", ModelOpt.__metadata__[0]),
    "dtype": (Literal[DTYPES], ServerConfig.dtype, DtypeOpt.__metadata__[0]),
    "overwrite": (bool, False, typer.Option(help="start again, deleting an existing output")),
    "server_timeout": (float, 120.0, GiveUpOpt.__metadata__[0]),
    # episodes on env servers (atropos_envs/remote.py): where they run, not what the job is
    "env_server": (list[str], [], EnvServerOpt.__metadata__[0]),
    "env_token": (str | None, None, EnvTokenOpt.__metadata__[0]),
}


SIDE_OUTPUTS = {  # sample's extra outputs (trainers/pairs.py, trainers/think.py): files, not job settings
    "pairs_out": (
        Path | None,
        None,
        typer.Option(help="also write DPO preference pairs (prompt, chosen, rejected) here (resumable)"),
    ),
    "termination_out": (
        Path | None,
        None,
        typer.Option(
            help="also write termination-training records (reasoning cut at --think-budget, only the "
            "inserted </think> trained: input_ids + labels) here (resumable)"
        ),
    ),
}


def _job_command(
    title: str,
    summary: str,
    *,
    out: tuple[Path, str],
    defaults: dict[str, Any],
    fixed: dict[str, Any],
    side_outputs: bool,
):
    """sample or evaluate: one option per SamplingJob (and SamplingParams) field, with this
    command's defaults; ``fixed`` fields are set here and are not options."""
    import inspect

    from trainers.client import SamplingParams
    from trainers.config import options
    from trainers.rejection_sampling import SamplingJob, check_side_outputs, written_line

    side_options = SIDE_OUTPUTS if side_outputs else {}

    job_options = [o for o in options(SamplingJob) if o.name not in fixed]
    sampling_options = options(SamplingParams)
    parameters = [
        inspect.Parameter(
            name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=Annotated[kind, opt]
        )
        for name, (kind, default, opt) in {
            **COMMON_JOB_OPTIONS,
            "out": (Path, out[0], typer.Option(help=out[1])),
            **side_options,
        }.items()
    ]
    for option in job_options + sampling_options:
        parameters.append(option_parameter(option, defaults.get(option.name, option.default), option.help))

    def run(**given: Any) -> None:
        with clear_errors():
            if given["env_server"]:  # episodes run on env servers (atropos_envs/remote.py)
                env_id, kwargs, env_obj = remote_env_pool(
                    given["env"],
                    given["env_arg"],
                    given["tasks"],
                    given["env_server"],
                    token=given["env_token"],
                    give_up_s=given["server_timeout"],
                )
            else:
                env_id, kwargs, env_obj = make_env(given["env"], given["env_arg"], given["tasks"])
            job_fields = {o.name: given[o.name] for o in job_options}
            job_fields["num_tasks"] = job_fields["num_tasks"] or None  # 0: every task of the file
            if given["tasks"] is not None and job_fields["first_task"] == defaults.get("first_task"):
                job_fields["first_task"] = 0  # evaluate's held-out default is for generated tasks
            sampling = SamplingParams(**{o.name: given[o.name] for o in sampling_options})
            job = SamplingJob(env_id=env_id, env_kwargs=kwargs, sampling=sampling, **job_fields, **fixed)
            job.validate(env_obj.reward_range)  # before any server is started
            sides = {name: given[name] for name in side_options}
            check_side_outputs(job, **sides)
            with rollout_servers(given["server"], given["model"], given["dtype"]) as (urls, model_name):
                job.model = model_name
                summary_ = _run_sampling(
                    job,
                    env_obj,
                    urls=urls,
                    out=given["out"],
                    overwrite=given["overwrite"],
                    title=f"{title} {job.env_id}",
                    give_up_s=given["server_timeout"],
                    sides=sides,
                )
        _print_summary(summary_, given["out"])
        if title == "sampling":
            console.print(escape(written_line(summary_, job, given["out"])))
        every = job.samples_path(given["out"])
        if every is not None:
            console.print(f"every sample: {every} (atropos-envs view {every})")

    return command_from(parameters, summary, run)


app.command("sample")(
    _job_command(
        "sampling",
        "Rejection sampling: keep verified completions as an SFT dataset (resumable).",
        out=(Path("data/sft.jsonl"), "SFT JSONL to write (resumed if it exists)"),
        defaults={},
        fixed={},
        side_outputs=True,
    )
)
app.command("evaluate")(
    _job_command(
        "evaluating",
        "Mean reward and pass@k of a model on an env (held-out tasks by default).",
        out=(Path("runs/eval.jsonl"), "JSONL of every scored sample (resumed if it exists)"),
        defaults={"first_task": 1_000_000, "samples_per_task": 4, "seed": 1000},
        # every sample kept
        fixed={"keep_per_task": 0, "near_duplicate": 0.9, "keep_truncated": False, "select": "first"},
        side_outputs=False,
    )
)


# ---- compare / overlap / view: reading outputs (trainers/stats.py, overlap.py, viewer/) -------------
@app.command()
def compare(
    a: Annotated[Path, typer.Argument(help="evaluate output A (its --out, .progress or .summary.json)")],
    b: Annotated[Path, typer.Argument(help="evaluate output B, of the same tasks")],
    seed: Annotated[int, typer.Option(help="seed of the bootstrap and the sampled permutations")] = 0,
    json_out: Annotated[Path | None, typer.Option("--json", help="also write the report as JSON")] = None,
) -> None:
    """B - A paired by task: difference, 95 % bootstrap CI, paired sign-flip permutation test."""
    from trainers.stats import compare_evaluations, print_comparison

    with clear_errors():
        report = compare_evaluations(a, b, seed=seed)
    print_comparison(report, Console(), console)
    if json_out is not None:
        json_out.write_text(json.dumps(report, indent=2) + "\n")


@app.command()
def overlap(
    train: Annotated[
        str, typer.Argument(help="training source: task file, SFT/sample output, gen:ENV:FIRST:COUNT")
    ],
    eval_set: Annotated[str, typer.Argument(metavar="EVAL", help="evaluation set, in the same forms")],
    env: Annotated[str | None, typer.Option(help="render task files through this env's prompts")] = None,
    jaccard: Annotated[
        float, typer.Option(help="Jaccard / contained share at which tasks count as one")
    ] = 0.5,
    common: Annotated[
        int | None,
        typer.Option(help="spans in more training tasks than this are template (default 1 %, >= 10)"),
    ] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="also write the report as JSON")] = None,
) -> None:
    """Near-duplicate tasks between a training source and an eval set (13-grams, 8-gram Jaccard);
    exit 1 when any is found."""
    from trainers.overlap import overlap_report, print_overlap, write_json

    with clear_errors():
        report = overlap_report(train, eval_set, env=env, jaccard_at=jaccard, common=common)
    print_overlap(report, Console())
    if json_out is not None:
        write_json(report, json_out)
    raise typer.Exit(1 if report["duplicates"] else 0)


@app.command()
def view(
    paths: Annotated[
        list[Path], typer.Argument(help="sample/SFT/evaluate JSONL files and training run folders")
    ],
    port: Annotated[int, typer.Option(help="port on 127.0.0.1 (0: any free one)")] = 8765,
) -> None:
    """Browse samples, training runs and comparisons in the browser (served on 127.0.0.1 only)."""
    from trainers.viewer import Index, ViewerServer

    with clear_errors():
        with console.status("indexing"):
            index = Index(paths)
        try:
            server = ViewerServer(index, port).start()
        except OSError as exc:
            raise ValueError(f"cannot listen on 127.0.0.1:{port} ({exc.strerror}); pass --port N") from None
    skipped = sum(s.skipped for s in index.sources)
    note = f" ({skipped} lines that are no sample skipped)" if skipped else ""
    console.print(f"{len(index.rows)} samples from {len(index.sources)} source(s){note}: open {server.url}")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server.wait()  # until Ctrl-C
