"""Every environment is registered with gymnasium as ``atropos_envs/<Name>-v0``.

Every env, built-in or plugin, is declared in one place: the entry-point group
``atropos_envs.envs`` of the package that provides it (name = "MyEnv" or "MyEnv-v1",
value = "package.module:EnvClass"). Ours are in this project's ``pyproject.toml``; a
plugin's appear in ``atropos-envs list`` and the contract tests without code changes here.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import entry_points

import gymnasium as gym

NAMESPACE = "atropos_envs"
ENTRY_POINT_GROUP = "atropos_envs.envs"

DISTRIBUTION = "atropos-envs"


@dataclass(frozen=True)
class EnvEntry:
    env_id: str
    entry_point: str
    source: str  # "built-in" or the distribution that provides it


def env_id(name: str) -> str:
    versioned = name if "-v" in name else f"{name}-v0"
    return f"{NAMESPACE}/{versioned}"


def discover() -> list[EnvEntry]:
    entries = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist.name if ep.dist is not None else "unknown package"
        entries.append(EnvEntry(env_id(ep.name), ep.value, "built-in" if dist == DISTRIBUTION else dist))
    if not any(entry.source == "built-in" for entry in entries):
        raise RuntimeError(
            f"the {DISTRIBUTION} package is not installed, so its environments are not registered: "
            "run `bash scripts/setup` (or `pip install -e .`)"
        )
    return entries


def builtin_env_ids() -> list[str]:
    """The ids of the envs this project ships (declared in its pyproject.toml)."""
    return sorted(entry.env_id for entry in discover() if entry.source == "built-in")


def register_all() -> list[EnvEntry]:
    """Register built-ins and plugins with gymnasium (idempotent); return what is known."""
    entries = discover()
    for entry in entries:
        if entry.env_id not in gym.registry:
            gym.register(id=entry.env_id, entry_point=entry.entry_point, disable_env_checker=True)
    return entries


def registered_env_ids() -> list[str]:
    return sorted(entry.env_id for entry in register_all())


def resolve_env_id(name: str) -> str:
    """Accept 'Format', 'Format-v0' or 'atropos_envs/Format-v0'; raise naming the known ids."""
    full = name if name.startswith(f"{NAMESPACE}/") else env_id(name)
    known = registered_env_ids()
    if full not in known:
        raise KeyError(f"unknown environment {name!r}; known: {', '.join(known)} (see `atropos-envs list`)")
    return full
