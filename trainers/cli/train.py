"""train grpo|ppo: one option per field of the algorithm's config dataclass."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from trainers.cli.common import (
    EnvServerOpt,
    EnvTokenOpt,
    app,
    clear_errors,
    command_from,
    console,
    make_env,
    option_parameter,
    progress_bar,
    remote_env_pool,
)
from trainers.config import GRPOConfig, PPOConfig
from trainers.server import ServerConfig

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
    from trainers.server import VLLMServer

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
            with progress_bar() as progress:
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
        parameters.append(option_parameter(option, None, f"{option.help} {shown}", optional=True))

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

    return command_from(parameters, summary, run)


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
