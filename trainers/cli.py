"""The ``atropos-envs`` command line."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console
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
    job, env, urls: list[str], out: Path, overwrite: bool, title: str, give_up_s: float
) -> dict[str, Any]:
    from trainers.client import RolloutClient
    from trainers.rejection_sampling import run_job

    async def main() -> dict[str, Any]:
        with _progress() as progress:
            bar = progress.add_task(title, total=None)

            def on_task_done(done: int, total: int) -> None:
                progress.update(bar, completed=done, total=total)

            async with RolloutClient(urls, model=None, give_up_after_s=give_up_s) as client:
                return await run_job(job, env, client, out, overwrite=overwrite, on_task_done=on_task_done)

    return asyncio.run(main())


def _print_summary(summary: dict[str, Any], out: Path) -> None:
    table = Table(title=f"summary ({out.name}.summary.json)")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in summary.items():
        if isinstance(value, dict):  # provenance: in the JSON file
            continue
        table.add_row(key, f"{value:.3f}" if isinstance(value, float) else str(value))
    Console().print(table)


def _run_job_command(
    title: str,
    *,
    env: str,
    env_arg: list[str],
    tasks: Path | None,
    server: list[str],
    model: str,
    out: Path,
    overwrite: bool,
    server_timeout: float,
    sampling: dict[str, Any],
    dtype: str = "auto",
    env_server: list[str] | None = None,
    env_token: str | None = None,
    **job_fields: Any,
) -> dict[str, Any]:
    """What sample and evaluate share: build the env and the job, get servers, run, summarise."""
    from trainers.client import SamplingParams
    from trainers.rejection_sampling import SamplingJob

    with clear_errors():
        if env_server:  # episodes run on env servers (atropos_envs/remote.py)
            env_id, kwargs, env_obj = remote_env_pool(
                env, env_arg, tasks, env_server, token=env_token, give_up_s=server_timeout
            )
        else:
            env_id, kwargs, env_obj = make_env(env, env_arg, tasks)
        if (tasks is not None or "tasks" in kwargs) and not job_fields.get("num_tasks"):
            job_fields["num_tasks"] = None  # every task of the file
        job = SamplingJob(env_id=env_id, env_kwargs=kwargs, sampling=SamplingParams(**sampling), **job_fields)
        job.validate(env_obj.reward_range)  # before any server is started
        with rollout_servers(server, model, dtype) as (urls, model_name):
            job.model = model_name
            summary = _run_sampling(
                job, env_obj, urls, out, overwrite, f"{title} {job.env_id}", server_timeout
            )
    _print_summary(summary, out)
    return summary


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
    model: ModelOpt = "", port: int = 8000, max_model_len: int = 2048, dtype: DtypeOpt = ServerConfig.dtype
) -> None:
    """Start a vLLM server with the model and keep it up until Ctrl-C."""
    from trainers.models import resolve_model
    from trainers.server import ServerConfig, VLLMServer

    with clear_errors():
        path = resolve_model(model or None)
        server = VLLMServer(
            ServerConfig(
                model=path, served_name=path.name, port=port, max_model_len=max_model_len, dtype=dtype
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


@app.command()
def sample(
    env: Annotated[str, typer.Option(help="environment, e.g. Format or atropos_envs/Format-v0")] = "Format",
    out: Annotated[Path, typer.Option(help="SFT JSONL to write (resumed if it exists)")] = Path(
        "data/sft.jsonl"
    ),
    num_tasks: Annotated[int, typer.Option(help="tasks to sample (generator); 0 with --tasks: all")] = 32,
    n: Annotated[int, typer.Option(help="completions per task")] = 8,
    keep: Annotated[int, typer.Option(help="distinct verified samples kept per task at most")] = 2,
    threshold: Annotated[float, typer.Option(help="minimum reward to keep a sample")] = 1.0,
    max_tokens: Annotated[int, typer.Option(help="token budget per sample")] = 256,
    temperature: float = 0.8,
    top_p: float = 1.0,
    seed: int = 0,
    assistant_prefix: Annotated[
        str, typer.Option(help="force replies to start with this text, e.g. '<think>'")
    ] = "",
    tasks: Annotated[
        Path | None, typer.Option(help="task file (JSONL/JSON/parquet) instead of the generator")
    ] = None,
    env_arg: EnvArgOpt = [],  # noqa: B006 - typer reads the default
    server: ServerOpt = [],  # noqa: B006
    model: ModelOpt = "",
    dtype: DtypeOpt = ServerConfig.dtype,
    overwrite: bool = False,
    server_timeout: GiveUpOpt = 120.0,
    env_server: EnvServerOpt = [],  # noqa: B006
    env_token: EnvTokenOpt = None,
) -> None:
    """Rejection sampling: keep verified completions as an SFT dataset (resumable)."""
    summary = _run_job_command(
        "sampling",
        env=env,
        env_arg=env_arg,
        tasks=tasks,
        server=server,
        model=model,
        out=out,
        overwrite=overwrite,
        server_timeout=server_timeout,
        sampling={"max_tokens": max_tokens, "temperature": temperature, "top_p": top_p},
        dtype=dtype,
        env_server=env_server,
        env_token=env_token,
        num_tasks=num_tasks or None,
        samples_per_task=n,
        keep_per_task=keep,
        threshold=threshold,
        seed=seed,
        assistant_prefix=assistant_prefix,
    )
    console.print(f"wrote {summary['kept']} verified samples to {out}")


@app.command()
def evaluate(
    env: Annotated[str, typer.Option(help="environment, e.g. Format")] = "Format",
    out: Annotated[Path, typer.Option(help="JSONL of every scored sample (resumed if it exists)")] = Path(
        "runs/eval.jsonl"
    ),
    num_tasks: int = 32,
    first_task: Annotated[
        int,
        typer.Option(
            help=(
                "position of the first task; generated tasks from 1,000,000 on are never used by "
                "sample/train defaults"
            )
        ),
    ] = 1_000_000,
    n: Annotated[int, typer.Option(help="samples per task (pass@n is reported)")] = 4,
    threshold: Annotated[float, typer.Option(help="reward that counts as a pass")] = 1.0,
    max_tokens: int = 256,
    temperature: float = 0.8,
    top_p: float = 1.0,
    seed: Annotated[
        int, typer.Option(help="sampling seed; use a seed other than training's for held-out runs")
    ] = 1000,
    assistant_prefix: str = "",
    tasks: Annotated[Path | None, typer.Option(help="held-out task file")] = None,
    env_arg: EnvArgOpt = [],  # noqa: B006
    server: ServerOpt = [],  # noqa: B006
    model: ModelOpt = "",
    dtype: DtypeOpt = ServerConfig.dtype,
    overwrite: bool = False,
    server_timeout: GiveUpOpt = 120.0,
    env_server: EnvServerOpt = [],  # noqa: B006
    env_token: EnvTokenOpt = None,
) -> None:
    """Mean reward and pass@k of a model on an env."""
    _run_job_command(
        "evaluating",
        env=env,
        env_arg=env_arg,
        tasks=tasks,
        server=server,
        model=model,
        out=out,
        overwrite=overwrite,
        server_timeout=server_timeout,
        sampling={"max_tokens": max_tokens, "temperature": temperature, "top_p": top_p},
        dtype=dtype,
        env_server=env_server,
        env_token=env_token,
        num_tasks=num_tasks or None,
        first_task=first_task if tasks is None else 0,
        samples_per_task=n,
        keep_per_task=0,
        threshold=threshold,
        seed=seed,
        assistant_prefix=assistant_prefix,
    )


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
    for name, kind, default, text in settings:
        flag = "--" + name.replace("_", "-")
        opt = typer.Option(
            f"{flag}/--no-{flag[2:]}" if kind is bool else flag, help=f"{text} [default: {default}]"
        )
        parameters.append(
            inspect.Parameter(
                name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[kind | None, opt]
            )
        )

    def command(**given: Any) -> None:
        overrides = {name: given[name] for name, *_ in settings}
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

    command.__signature__ = inspect.Signature(parameters)
    command.__doc__ = summary
    return command


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
