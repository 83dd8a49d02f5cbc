"""list, reasoning-gym-list, probe, model, serve and env-server."""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from trainers.cli.common import (
    DtypeOpt,
    EnvArgOpt,
    ModelOpt,
    app,
    clear_errors,
    console,
    fail,
    make_env,
    parse_env_args,
    progress_bar,
)
from trainers.server import ServerConfig


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
        fail(f"no reasoning-gym generator in category {category!r}; run without --category to see all")
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
        with progress_bar() as progress:
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
