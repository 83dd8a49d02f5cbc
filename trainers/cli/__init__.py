"""The ``atropos-envs`` command line: ``app`` (typer), its commands in the modules beside this one."""

from trainers.cli import jobs, tools, train  # noqa: F401 - importing a module registers its commands
from trainers.cli.common import app

__all__ = ["app"]
