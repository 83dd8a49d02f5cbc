"""Verified environments for training language models, as gymnasium envs.

``import atropos_envs`` registers every environment (built-ins and plugins) so that
``gymnasium.make("atropos_envs/Format-v0")`` works.
"""

from atropos_envs.core import Episode, Score, TextEnv, Trajectory
from atropos_envs.registry import register_all, registered_env_ids, resolve_env_id
from atropos_envs.tasks import TaskFileError

register_all()

__all__ = [
    "Episode",
    "Score",
    "TaskFileError",
    "TextEnv",
    "Trajectory",
    "register_all",
    "registered_env_ids",
    "resolve_env_id",
]
