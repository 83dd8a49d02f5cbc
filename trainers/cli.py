"""The ``atropos-envs`` command line."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from trainers.config import GRPOConfig, PPOConfig
from trainers.server import DTYPES, ServerConfig

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Verified RL environments for language models."
)
console = Console(stderr=True)

ServerOpt = Annotated[
    list[str],
    typer.Option("--server", help="URL of a running vLLM server (repeat for several); default: start one"),
]
GiveUpOpt = Annotated[float, typer.Option(help="seconds without any server answering before the job stops")]
ModelOpt = Annotated[
    str, typer.Option(help="Hugging Face model folder; default: the embedded SmolLM2-135M-Instruct")
]
EnvArgOpt = Annotated[
    list[str],
    typer.Option("--env-arg", help="env setting as key=value (value parsed as JSON when it can be)"),
]
EnvServerOpt = Annotated[
    list[str],
    typer.Option(
        "--env-server",
        help="URL of a running `atropos-envs env-server` (repeat for several): episodes run there, not here",
    ),
]
EnvTokenOpt = Annotated[
    str | None,
    typer.Option("--env-token", envvar="ATROPOS_ENV_TOKEN", help="bearer token of the env servers"),
]
DtypeOpt = Annotated[
    Literal[DTYPES], typer.Option(help=ServerConfig.help("dtype"))
]  # from the ServerConfig field


def _fail(message: str) -> None:
    console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(2)


@contextlib.contextmanager
def clear_errors():
    """Known failures end in one line naming the fix; ATROPOS_DEBUG=1 shows the traceback."""
    from atropos_envs.remote import EnvServerUnavailable
    from atropos_envs.sandbox import SandboxUnavailable
    from atropos_envs.tasks import TaskFileError
    from trainers.client import RequestRejected, ServerUnavailable
    from trainers.models import ModelError
    from trainers.server import ServerError
    from trainers.task_log import OutputMismatch

    known = (
        TaskFileError,
        ServerUnavailable,
        RequestRejected,
        ModelError,
        ServerError,
        OutputMismatch,
        SandboxUnavailable,
        EnvServerUnavailable,
        KeyError,
        ValueError,
    )
    try:
        yield
    except known as exc:
        if os.environ.get("ATROPOS_DEBUG"):
            raise
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        _fail(str(message))


def parse_env_args(pairs: list[str]) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--env-arg takes key=value, got {pair!r}")
        try:
            settings[key] = json.loads(value)
        except ValueError:
            settings[key] = value
    return settings


def make_env(name: str, env_args: list[str], tasks: Path | None):
    import gymnasium as gym

    import atropos_envs

    env_id = atropos_envs.resolve_env_id(name)
    kwargs = parse_env_args(env_args)
    if tasks is not None:
        kwargs["tasks"] = str(tasks)
    try:
        return env_id, kwargs, gym.make(env_id, **kwargs).unwrapped
    except TypeError as exc:
        raise ValueError(f"bad setting for {env_id}: {exc}") from None


def remote_env_pool(
    name: str,
    env_args: list[str],
    tasks: Path | None,
    urls: list[str],
    *,
    token: str | None,
    give_up_s: float,
):
    """(env id, settings, pool) of running env servers, which must serve the env named."""
    from atropos_envs.registry import NAMESPACE, env_id
    from atropos_envs.remote import RemoteEnvPool

    if env_args or tasks is not None:
        raise ValueError(
            "with --env-server the env's settings and tasks are the servers': pass --env-arg and --tasks "
            "to `atropos-envs env-server`"
        )
    pool = RemoteEnvPool(urls, token=token, give_up_after_s=give_up_s)
    wanted = name if name.startswith(f"{NAMESPACE}/") else env_id(name)
    if pool.env_id != wanted:
        raise ValueError(f"the env servers serve {pool.env_id}, not {wanted}: pass --env {pool.env_id}")
    return pool.env_id, pool.env_kwargs, pool


@contextlib.contextmanager
def rollout_servers(servers: list[str], model: str, dtype: str = ServerConfig.dtype):
    """URLs of the given servers, or of a local vLLM server started (and stopped) here."""
    if servers:
        yield servers, model or "external"
        return
    from trainers.models import resolve_model
    from trainers.server import ServerConfig, VLLMServer

    with console.status("preparing the model"):
        path = resolve_model(model or None)
    with console.status(f"starting a vLLM server for {path.name} (~30-60 s on CPU)"):
        server = VLLMServer(ServerConfig(model=path, served_name=path.name, dtype=dtype)).start()
    console.print(f"vLLM server for {path.name} at {server.url} (log: {server.log_path})")
    try:
        yield [server.url], path.name
    finally:
        server.stop()


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


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
        with _progress() as progress:
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


@app.command("list")
def list_envs() -> None:
    """List every registered environment, plugins included."""
    from atropos_envs.registry import register_all

    table = Table()
    for column in ("id", "entry point", "from"):
        table.add_column(column)
    for entry in sorted(register_all(), key=lambda e: e.env_id):
        table.add_row(entry.env_id, entry.entry_point, entry.source)
    Console().print(table)


# ---- reasoning-gym-list: ReasoningGym-v0's generators (atropos_envs/envs/reasoning_gym.py) --------------
@app.command("reasoning-gym-list")
def reasoning_gym_list(
    category: Annotated[str | None, typer.Option(help="only this category, e.g. arithmetic")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="one JSON object per generator")] = False,
) -> None:
    """List the reasoning-gym generators ReasoningGym-v0 can use (--env-arg dataset=NAME)."""
    from atropos_envs.envs.reasoning_gym import list_generators

    generators = list_generators(category)
    if not generators:
        _fail(f"no reasoning-gym generator in category {category!r}; run without --category to see all")
    if json_out:
        for generator in generators:
            print(json.dumps(generator, default=str))
        return
    table = Table()
    for column in ("generator", "category", "levels", "config fields"):
        table.add_column(column)
    for g in generators:
        table.add_row(g["name"], g["category"], str(g["levels"] or "-"), ", ".join(g["config"]))
    Console().print(table)


# ---- probe: exploit probes against an env (atropos_envs/probes.py) ------------------------------------
@app.command()
def probe(
    env: Annotated[
        str, typer.Option(help="environment, e.g. Format or atropos_envs/Format-v0 (plugins too)")
    ] = "Format",
    tasks: Annotated[int, typer.Option(help="tasks to probe (the first N; all of --task-file when 0)")] = 20,
    json_out: Annotated[
        str | None, typer.Option("--json", help="write the report as JSON to FILE, or - for stdout")
    ] = None,
    bar: Annotated[float, typer.Option(help="reward at which a probe counts as getting paid")] = 0.5,
    task_file: Annotated[
        Path | None, typer.Option(help="task file (JSONL/JSON/parquet) instead of the generator")
    ] = None,
    env_arg: EnvArgOpt = [],  # noqa: B006
) -> None:
    """Run degenerate and adversarial policies against an env; exit 1 when any reaches the bar."""
    from atropos_envs.probes import run_probes, write_report

    with clear_errors():
        if tasks < 0:
            raise ValueError(f"--tasks must be >= 0, got {tasks}")
        env_id, _, env_obj = make_env(env, env_arg, task_file)
        with _progress() as progress:
            bar_id = progress.add_task(f"probing {env_id}", total=None)
            report = run_probes(
                env_obj,
                env_id=env_id,
                task_ids=env_obj.task_ids(tasks or None),
                bar=bar,
                on_task_done=lambda done, total: progress.update(bar_id, completed=done, total=total),
            )
    write_report(report, Console(stderr=json_out == "-"), json_out)
    raise typer.Exit(1 if report.exploits else 0)


@app.command()
def model() -> None:
    """Convert the embedded model once (cached) and print its folder."""
    from trainers.models import ensure_default_model

    with clear_errors():
        print(ensure_default_model())


@app.command()
def serve(
    model: ModelOpt = "",
    port: int = 8000,
    max_model_len: int = 2048,
    dtype: DtypeOpt = ServerConfig.dtype,
    # -- dist15: a GPU memory share, so that a trainer fits on the same GPU --
    gpu_memory_utilization: Annotated[
        float,
        typer.Option(help="share of the GPU's memory vLLM takes (weights + KV cache); 0: vLLM's 0.9"),
    ] = 0.0,
) -> None:
    """Start a vLLM server with the model and keep it up until Ctrl-C."""
    from trainers.models import resolve_model
    from trainers.server import ServerConfig, VLLMServer

    with clear_errors():
        path = resolve_model(model or None)
        server = VLLMServer(
            ServerConfig(
                model=path,
                served_name=path.name,
                port=port,
                max_model_len=max_model_len,
                dtype=dtype,
                extra_args=(  # dist15
                    ["--gpu-memory-utilization", str(gpu_memory_utilization)]
                    if gpu_memory_utilization
                    else []
                ),
            )
        )
        with console.status(f"starting vLLM for {path.name}"):
            server.start()
    console.print(f"serving {path.name} at {server.url}/v1 (log: {server.log_path}); Ctrl-C stops it")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        while server.alive():
            time.sleep(1.0)
        console.print(f"[bold red]the vLLM server exited[/]; see {server.log_path}")
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.stop()


def _option_parameter(option, default: Any, help_text: str, *, optional: bool = False):
    """A keyword-only typer parameter for one documented config field (``optional``: None when
    left out)."""
    import inspect

    flag = option.flag
    decl = f"{flag}/--no-{flag[2:]}" if option.kind is bool else flag
    kind = option.kind | None if optional else option.kind
    return inspect.Parameter(
        option.name,
        inspect.Parameter.KEYWORD_ONLY,
        default=default,
        annotation=Annotated[kind, typer.Option(decl, help=help_text)],
    )


def _command(parameters: list, summary: str, run: Callable[..., None]) -> Callable[..., None]:
    """A typer command with the given keyword-only parameters that calls run(**given)."""
    import inspect

    def command(**given: Any) -> None:
        run(**given)

    command.__signature__ = inspect.Signature(parameters)
    command.__doc__ = summary
    return command


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
    from trainers.rejection_sampling import SamplingJob, check_side_outputs

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
        parameters.append(_option_parameter(option, defaults.get(option.name, option.default), option.help))

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
            console.print(f"wrote {summary_['kept']} verified samples to {given['out']}")
        every = job.samples_path(given["out"])
        if every is not None:
            console.print(f"every sample: {every} (atropos-envs view {every})")

    return _command(parameters, summary, run)


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


# ---- env-server: one env over OpenEnv's wire protocol (atropos_envs/server.py) -------------------------
@app.command("env-server")
def env_server(
    env: Annotated[str, typer.Option(help="environment, e.g. Code or atropos_envs/Code-v0 (plugins too)")],
    env_arg: EnvArgOpt = [],  # noqa: B006
    tasks: Annotated[
        Path | None, typer.Option(help="task file (JSONL/JSON/parquet) instead of the generator")
    ] = None,
    host: Annotated[str, typer.Option(help="address to bind; any but loopback needs --token")] = "127.0.0.1",
    port: int = 8100,
    max_sessions: Annotated[
        int, typer.Option(help="sessions at once, then CAPACITY_REACHED; 0: 32 per core, at least 16")
    ] = 0,
    token: Annotated[
        str | None, typer.Option(envvar="ATROPOS_ENV_TOKEN", help="bearer token clients must send")
    ] = None,
    idle_timeout: Annotated[float, typer.Option(help="seconds a silent session stays open")] = 600.0,
    step_timeout: Annotated[
        float, typer.Option(help="seconds a reset/step may take; then the episode ends")
    ] = 300.0,
    max_message_bytes: Annotated[int, typer.Option(help="largest message accepted")] = 4 * 2**20,
) -> None:
    """Serve an environment over OpenEnv's WebSocket protocol until Ctrl-C."""
    from atropos_envs.server import ServerSettings, check_bind, default_max_sessions, serve

    with clear_errors():
        settings = ServerSettings(
            max_sessions=max_sessions or default_max_sessions(),
            idle_timeout_s=idle_timeout,
            step_timeout_s=step_timeout,
            max_message_bytes=max_message_bytes,
            token=token or None,
        )
        settings.validate()
        check_bind(host, settings.token)
        kwargs = parse_env_args(env_arg)
        if tasks is not None:
            kwargs["tasks"] = str(tasks)
        console.print(f"serving {env} at ws://{host}:{port}/ws ({settings.max_sessions} sessions at most)")
        serve(env, kwargs, host=host, port=port, settings=settings)


train_app = typer.Typer(
    no_args_is_help=True, help="Train a policy against an env through the vLLM rollout server."
)
app.add_typer(train_app, name="train")


def _train(
    algorithm: str,
    env: str,
    env_arg: list[str],
    out: Path | None,
    config: Path | None,
    server: list[str],
    model: str,
    overrides: dict[str, Any],
    *,
    env_server: list[str] = (),
    env_token: str | None = None,
) -> None:
    """What both train commands do: config from YAML + options, servers, the trainer, the loop."""
    import yaml

    from trainers.models import resolve_model
    from trainers.server import ServerConfig, VLLMServer

    if algorithm == "grpo":
        from trainers.grpo import GRPOTrainer as TrainerClass
    else:
        from trainers.ppo import PPOTrainer as TrainerClass
    Config = GRPOConfig if algorithm == "grpo" else PPOConfig
    out = out or Path("runs") / algorithm
    with clear_errors():
        fields = yaml.safe_load(config.read_text()) if config else {}
        if not isinstance(fields, dict):
            raise ValueError(f"{config} must hold a mapping of {Config.__name__} fields")
        fields.update({k: v for k, v in overrides.items() if v is not None})
        if env_server:  # episodes on env servers (atropos_envs/remote.py)
            env_id, kwargs, env_obj = remote_env_pool(
                env, env_arg, None, list(env_server), token=env_token, give_up_s=120.0
            )
        else:
            env_id, kwargs, env_obj = make_env(env, env_arg, None)
        try:
            settings = Config(env_id=env_id, env_kwargs=kwargs, **fields)
            settings.validate()
        except TypeError as exc:
            raise ValueError(f"bad {algorithm.upper()} setting: {exc}") from None
        path = resolve_model(model or None)
        if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not server:
            raise ValueError("training with several processes needs running vLLM servers: pass --server URL")
        with contextlib.ExitStack() as stack:
            owned, urls = [], list(server)
            if not urls:
                lora = bool(settings.lora_rank)
                with console.status("starting a vLLM server (~1-2 min on CPU)"):
                    owned.append(
                        stack.enter_context(
                            VLLMServer(
                                ServerConfig(
                                    model=path,
                                    served_name=path.name,
                                    enable_lora=lora,
                                    max_lora_rank=max(8, settings.lora_rank),
                                    dev_mode=not lora,
                                    dtype=settings.dtype,
                                )
                            )
                        )
                    )
                urls = [owned[0].url]
            trainer = TrainerClass(settings, env_obj, path, urls, out, owned)
            with _progress() as progress:
                bar = progress.add_task(
                    f"{algorithm.upper()} on {env_id}", total=settings.steps, completed=trainer.step
                )

                def report(m: dict[str, Any]) -> None:
                    progress.update(bar, completed=m["step"])
                    extra = f" value loss {m['value_loss']:.4f}" if "value_loss" in m else ""
                    console.print(
                        f"step {m['step']}: reward {m['mean_reward']:.3f} loss "
                        f"{m.get('loss', 0.0):.4f}{extra} gen {m['generation_s']} s (waited {m['wait_s']} s) "
                        f"train {m['train_s']} s sync {m['sync_s']} s"
                    )

                trainer.train(on_step=report)
    console.print(f"done: {out / 'metrics.jsonl'}, {out / 'curves.png'}, checkpoint in {out / 'checkpoint'}")


def _train_command(algorithm: str, config_class: type, summary: str):
    """One option per field of the algorithm's config dataclass (its help is the field's), plus
    the env, servers, model, run folder and YAML; options left out keep the YAML's or the default."""
    import inspect

    from trainers.config import options

    fixed = {
        "env": (str, "Format", typer.Option(help="environment, e.g. Format")),
        "out": (
            Path | None,
            None,
            typer.Option(
                help="run folder: metrics.jsonl, tensorboard/, checkpoint/, curves.png (resumed when re-run)"
            ),
        ),
        "config": (
            Path | None,
            None,
            typer.Option(help=f"YAML of {config_class.__name__} fields; options win"),
        ),
        "env_arg": (
            list[str],
            [],
            typer.Option("--env-arg", help="env setting as key=value (JSON when it parses)"),
        ),
        "server": (
            list[str],
            [],
            typer.Option(
                "--server",
                help="running vLLM server(s) (--enable-lora for LoRA, "
                "VLLM_SERVER_DEV_MODE=1 for full weights); default: start one",
            ),
        ),
        "model": (
            str,
            "",
            typer.Option(help="Hugging Face model folder; default: the embedded SmolLM2-135M-Instruct"),
        ),
        "env_server": (list[str], [], EnvServerOpt.__metadata__[0]),  # episodes on env servers
        "env_token": (str | None, None, EnvTokenOpt.__metadata__[0]),
    }
    parameters = [
        inspect.Parameter(
            name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=Annotated[kind, opt]
        )
        for name, (kind, default, opt) in fixed.items()
    ]
    settings = options(config_class)
    for option in settings:  # default None: an option left out keeps the YAML's value or the default
        shown = escape(f"[default: {option.default}]")  # not rich markup
        parameters.append(_option_parameter(option, None, f"{option.help} {shown}", optional=True))

    def run(**given: Any) -> None:
        overrides = {o.name: given[o.name] for o in settings}
        if overrides.get("report_to") == []:
            overrides["report_to"] = None  # typer gives [] for a list option left out
        _train(
            algorithm,
            given["env"],
            given["env_arg"],
            given["out"],
            given["config"],
            given["server"],
            given["model"],
            overrides,
            env_server=given["env_server"],
            env_token=given["env_token"],
        )

    return _command(parameters, summary, run)


train_app.command("grpo")(
    _train_command(
        "grpo",
        GRPOConfig,
        "GRPO: group-relative advantages; rollouts from vLLM, new weights pushed to it after each step.",
    )
)
train_app.command("ppo")(
    _train_command(
        "ppo", PPOConfig, "PPO: a value head, GAE over generated tokens, clipped policy and value losses."
    )
)


if __name__ == "__main__":
    app()
