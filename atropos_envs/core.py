"""The environment contract: a language-model environment is a ``gymnasium.Env`` whose
observation is the conversation so far and whose action is the assistant's text.

A subclass supplies four things (see ``atropos_envs/envs/answer_format.py``):
``generate_task`` (a seeded generator), ``prompt`` (task -> messages), ``score``
(trajectory -> Score), and optionally ``respond`` for multi-turn environments.
State lives in ``Episode`` objects, so drivers can run many episodes of one env
concurrently while ``reset``/``step`` drive a single current episode, gym-style.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from atropos_envs.spaces import AssistantText, Conversation
from atropos_envs.tasks import FileTasks, GeneratedTasks, TaskSource

Message = dict[str, str]


#: How an episode ended. ``ok``: the reply was judged on its merits (right or wrong);
#: ``invalid``: malformed output (no answer found, unparseable); ``timeout``: a time budget
#: ran out; ``truncated``: the turn or token limit ended the episode; ``error``: the env
#: itself failed on this reply (reported, scored 0, never silently folded into zeros).
OUTCOMES = ("ok", "invalid", "timeout", "truncated", "error")


@dataclass(frozen=True)
class Score:
    """A reward in the env's documented range, its named components, why, and the outcome."""

    reward: float
    components: dict[str, float] = field(default_factory=dict)
    reason: str = ""
    outcome: str = "ok"

    def __post_init__(self) -> None:
        if not math.isfinite(self.reward):
            raise ValueError(f"reward must be finite, got {self.reward}")
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, got {self.outcome!r}")

    def as_info(self) -> dict[str, Any]:
        return {
            "reward": self.reward,
            "components": dict(self.components),
            "reason": self.reason,
            "outcome": self.outcome,
        }


@dataclass
class Trajectory:
    """One episode: the task and the whole conversation, assistant turns included."""

    task: dict[str, Any]
    messages: list[Message]
    state: dict[str, Any] = field(default_factory=dict)  # what respond() recorded (e.g. tool-call outcomes)

    @property
    def completions(self) -> list[str]:
        return [m["content"] for m in self.messages if m["role"] == "assistant"]

    @property
    def last_completion(self) -> str:
        completions = self.completions
        return completions[-1] if completions else ""


def step_action(action: Any, *, done: bool) -> str:
    """The assistant's text a step was given (bytes decoded), or the error every episode raises:
    ResetNeeded after the episode ended, TypeError for anything but text."""
    if done:
        raise gym.error.ResetNeeded("the episode is over; call reset() to start a new one")
    if isinstance(action, bytes):
        action = action.decode("utf-8", errors="replace")
    if not isinstance(action, str):
        raise TypeError(f"the action is the assistant's text (str), got {type(action).__name__}")
    return action


class Episode:
    """The state of one conversation with an env; ``step`` has gymnasium's signature."""

    def __init__(self, env: TextEnv, task: dict[str, Any]):
        self.env, self.task = env, task
        self.messages: list[Message] = env.prompt(task)
        self.state: dict[str, Any] = env.initial_state(task)  # per-episode scratch (tool state, files)
        self.turns = 0
        self.done = False
        self.score: Score | None = None

    @property
    def observation(self) -> list[Message]:
        return copy.deepcopy(self.messages)

    @property
    def trajectory(self) -> Trajectory:
        return Trajectory(self.task, copy.deepcopy(self.messages), copy.deepcopy(self.state))

    def step(self, action: str) -> tuple[list[Message], float, bool, bool, dict[str, Any]]:
        action = step_action(action, done=self.done)
        self.messages.append({"role": "assistant", "content": action})
        self.turns += 1
        follow_up = self.env.respond(self.task, copy.deepcopy(self.messages), self.state)
        terminated = follow_up is None
        truncated = not terminated and self.turns >= self.env.max_turns
        if follow_up:
            self.messages.extend(follow_up)
        info: dict[str, Any] = {"task_id": self.task["id"], "turn": self.turns}
        reward = 0.0
        if terminated or truncated:
            self.done = True
            self.score = self.env.score(self.trajectory)
            if truncated and self.score.outcome == "ok":
                self.score = dataclasses.replace(self.score, outcome="truncated")
            reward = self.score.reward
            info.update(self.score.as_info())
        else:
            info.update({"components": {}, "reason": "episode continues", "outcome": "continues"})
        return self.observation, reward, terminated, truncated, info


class TextEnv(gym.Env):
    """Base class of every atropos-envs environment.

    Constructor keywords: ``tasks`` (path of a JSONL/JSON/parquet task file, or a list of
    task dicts; default: the seeded generator), ``max_turns``, ``render_mode``; every other
    keyword is a setting of the env's ``Config`` (a dataclass, optionally with
    ``validate()``), built and checked here into ``self.config``."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi"], "render_fps": 1}
    reward_range: ClassVar[tuple[float, float]] = (0.0, 1.0)
    default_max_turns: ClassVar[int] = 1
    #: Documents the task fields the env reads (field -> description).
    task_schema: ClassVar[dict[str, str]] = {}
    #: The env's settings: a dataclass whose fields are the constructor's extra keywords.
    Config: ClassVar[type | None] = None
    #: Tasks used when the caller passes none and the env has no generator (a shipped file).
    default_tasks: ClassVar[str | Path | None] = None

    def __init__(
        self,
        tasks: str | Path | list[dict[str, Any]] | None = None,
        max_turns: int | None = None,
        render_mode: str | None = None,
        **settings: Any,
    ):
        super().__init__()
        self.config = self._build_config(settings)
        tasks = tasks if tasks is not None else self.default_tasks
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be one of {self.metadata['render_modes']}, got {render_mode!r}"
            )
        self.render_mode = render_mode
        self.max_turns = max_turns or self.default_max_turns
        self.observation_space = Conversation()
        self.action_space = AssistantText()
        self.tasks: TaskSource
        if tasks is None:
            self.tasks = GeneratedTasks(type(self).__name__, self.generate_task)
            self.tasks.get(0)  # bad generator settings fail here, not mid-run
        else:
            self.tasks = FileTasks(tasks, self.task_from_record)
        self._episode: Episode | None = None

    @classmethod
    def _build_config(cls, settings: dict[str, Any]) -> Any:
        name = cls.__name__
        if cls.Config is None:
            if settings:
                raise TypeError(f"{name} takes no settings, got {sorted(settings)}")
            return None
        valid = [f.name for f in dataclasses.fields(cls.Config)]
        unknown = sorted(set(settings) - set(valid))
        if unknown:
            raise TypeError(
                f"{name} has no setting {', '.join(map(repr, unknown))}; valid: {', '.join(valid)}"
            )
        config = cls.Config(**settings)
        validate = getattr(config, "validate", None)
        if validate is not None:
            validate()
        return config

    # ---- what a subclass writes -------------------------------------------------------
    def generate_task(self, rng: random.Random) -> dict[str, Any]:
        """A new task drawn from rng (without an ``id``; the task source adds it)."""
        raise NotImplementedError(f"{type(self).__name__} has no generator; pass tasks=PATH")

    def task_from_record(self, record: dict[str, Any]) -> dict[str, Any]:
        """A task built from one record of a user file; raise ValueError naming a bad field."""
        return dict(record)

    def prompt(self, task: dict[str, Any]) -> list[Message]:
        raise NotImplementedError

    def score(self, trajectory: Trajectory) -> Score:
        raise NotImplementedError

    def initial_state(self, task: dict[str, Any]) -> dict[str, Any]:
        """Per-episode state for multi-turn envs (passed to respond, kept in the trajectory)."""
        return {}

    def respond(
        self, task: dict[str, Any], messages: list[Message], state: dict[str, Any]
    ) -> list[Message] | None:
        """The env's reply to the assistant's last turn, or None when the episode is over."""
        return None

    # ---- for the exploit probes (``atropos-envs probe``) ------------------------------
    def probes(self, task: dict[str, Any]) -> dict[str, list[str]]:
        """Env-specific adversarial policies for one task: probe name -> the assistant turns
        it plays (one string per turn; the last one repeats if the episode goes on). Each
        should try to get paid without doing the task; none may reach the pass bar."""
        return {}

    def reference_answer(self, task: dict[str, Any]) -> list[str] | None:
        """An honest reply (assistant turns) that does the task, when the env can write one;
        the probe report shows its reward beside the probes'."""
        return None

    # ---- for drivers ------------------------------------------------------------------
    def task_ids(self, limit: int | None = None, start: int = 0) -> list[str]:
        return self.tasks.ids(limit, start)

    def get_task(self, task_id: str | int) -> dict[str, Any]:
        return self.tasks.get(task_id)

    def start(self, task_id: str | int) -> Episode:
        """A fresh, independent episode on one task (drivers run many concurrently)."""
        return Episode(self, self.get_task(task_id))

    # ---- gymnasium API ----------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        options = options or {}
        if "task_id" in options:
            task_id = options["task_id"]
        else:
            task_id = self.tasks.sample_id(self.np_random)
        self._episode = self.start(task_id)
        return self._episode.observation, {"task_id": self._episode.task["id"]}

    def step(self, action: str):
        if self._episode is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        return self._episode.step(action)

    def render(self) -> str | None:
        if self.render_mode != "ansi" or self._episode is None:
            return None
        return "\n\n".join(f"[{m['role']}]\n{m['content']}" for m in self._episode.messages)


def seeded_rng(np_random: np.random.Generator) -> random.Random:
    """A stdlib Random derived from a gymnasium generator (for generators written with random)."""
    return random.Random(int(np_random.integers(0, 2**63 - 1)))
