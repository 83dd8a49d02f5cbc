"""What the commands share: the app, options, clear one-line errors, envs, servers, progress."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

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


def fail(message: str) -> None:
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
        fail(str(message))


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


def progress_bar() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def option_parameter(option, default: Any, help_text: str, *, optional: bool = False):
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


def command_from(parameters: list, summary: str, run: Callable[..., None]) -> Callable[..., None]:
    """A typer command with the given keyword-only parameters that calls run(**given)."""
    import inspect

    def command(**given: Any) -> None:
        run(**given)

    command.__signature__ = inspect.Signature(parameters)
    command.__doc__ = summary
    return command
