"""ReasoningGym-v0: the procedural reasoning tasks of the ``reasoning-gym`` package, scored by
each generator's own ``score_answer``.

Settings: ``dataset="chain_sum"``, or a weighted mix ``datasets={"chain_sum": 1, "basic_arithmetic":
2}`` (a generator drawn per task by weight); ``configs={"chain_sum": {"max_terms": 3}}`` (each
generator's own config fields); ``level=2`` or ``{"chain_sum": 2}`` (the generator's curriculum
level, where reasoning-gym has one; ``configs`` win over the level's values); ``seed`` (the
generators' seed). Task ``i`` is item ``index`` of its generator, both drawn from the task id,
so a seed and an id always name the same problem. ``atropos-envs reasoning-gym-list`` shows the
generators. A generator whose scorer gives full credit to a meaningless answer is refused
(``game_of_life_halting`` in reasoning-gym 0.1.25), and any reply's full credit is checked
against the same scorer's verdict on a meaningless answer for that task. Some generators are
not deterministic across processes (``polynomial_multiplication``): an id names the same
problem within one process only, and the item is scored as generated.

The reply: exactly one non-empty ``<think>`` block first, then the answer inside exactly one
``<answer></answer>``. Anything else scores 0 with outcome ``invalid``.

Reward: ``format_weight * format + (1 - format_weight) * correct`` (format_weight 0.1 by
default, at most 0.49, so a well-formed wrong reply stays below the pass bar 0.5). The
generator's ``score_answer`` runs in the time-bounded worker (outcome ``timeout`` when it
overruns). reasoning-gym scorers give partial credit: the default one pays
``len(reference) / len(answer)`` when the reference is a substring of the answer (so
``"42."`` or ``"42 or 43"`` earn 0.3 to 0.8), others 0.01 for any well-formed wrong answer, or
a share of matching items. We decide: ``correct`` is 1 only when the scorer gives full credit
(1.0) and the answer does not add words or numbers to the reference (``not 42``, a list of
candidates); anything less is 0 (``partial_credit=False``, the default). Full credit is withdrawn for NaN or
infinite answers against a finite reference and, for scorers that pay near misses, by the stricter
checks of ``rewards.reasoning_gym.STRICTER``. With
``partial_credit=True`` the scorer's value is the ``correct`` component and the reward of an
answer short of full credit is capped at ``partial_cap`` (0.4 by default, below the bar).
The reason and the expected answer go to ``info`` only.

Task schema (user files): ``dataset`` (generator name), ``index`` (int), optional ``config`` (the
generator's config dict), ``seed`` and ``level``; question and answer are regenerated, never
taken from the file.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from atropos_envs.bounded import BoundedTimeout, shared_pool
from atropos_envs.core import Score, TextEnv, Trajectory
from rewards import extract_answer, split_think
from rewards.composite import weighted_sum
from rewards.reasoning_gym import (
    adds_to_reference,
    dataset_names,
    describe,
    entry,
    resolve_config,
    score_entry,
)

MAX_FORMAT_WEIGHT = 0.49
MAX_ANSWER_CHARS = 20_000
SYSTEM_PROMPT = (
    "Think step by step inside <think> and </think> tags. After </think>, give only the final answer "
    "inside <answer></answer> tags, exactly as the question asks for it.\n\n"
    "Example:\nQuestion: What is 3 + 3?\nAnswer: <think>3 + 3 = 6</think>\n<answer>6</answer>"
)


@dataclass
class ReasoningGymConfig:
    dataset: str = "chain_sum"
    datasets: dict[str, float] | None = None  # a weighted mix; replaces ``dataset``
    configs: dict[str, dict[str, Any]] = field(default_factory=dict)  # generator -> its config fields
    level: int | dict[str, int] | None = None  # curriculum level, for all or per generator
    seed: int = 0
    format_weight: float = 0.1
    partial_credit: bool = False
    partial_cap: float = 0.4
    score_timeout_s: float = 10.0

    def validate(self) -> None:
        mix = self.weights
        if not mix:
            raise ValueError('datasets must name at least one generator, e.g. {"chain_sum": 1.0}')
        bad = {
            k: v for k, v in mix.items() if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0
        }
        if bad:
            raise ValueError(f"dataset weights must be numbers > 0, got {bad}")
        extra = sorted(set(self.configs) - set(mix))
        if extra:
            raise ValueError(f"configs names generators not in the mix: {extra}; the mix is {sorted(mix)}")
        if isinstance(self.level, dict) and set(self.level) - set(mix):
            raise ValueError(f"level names generators not in the mix: {sorted(set(self.level) - set(mix))}")
        if not 0.0 <= self.format_weight <= MAX_FORMAT_WEIGHT:
            raise ValueError(f"format_weight must be between 0 and {MAX_FORMAT_WEIGHT} (below the pass bar)")
        if not 0.0 <= self.partial_cap < 0.5:
            raise ValueError(f"partial_cap must be in [0, 0.5) (below the pass bar), got {self.partial_cap}")
        if not 0 < self.score_timeout_s <= 600:
            raise ValueError(f"score_timeout_s must be in (0, 600], got {self.score_timeout_s}")
        self.resolved = {name: self._resolve(name) for name in mix}  # fails here on a bad generator

    @property
    def weights(self) -> dict[str, float]:
        return dict(self.datasets) if self.datasets is not None else {self.dataset: 1.0}

    def level_of(self, name: str) -> int | None:
        return self.level.get(name) if isinstance(self.level, dict) else self.level

    def _resolve(self, name: str) -> dict[str, Any]:
        if not isinstance(self.configs.get(name, {}), dict):
            raise ValueError(f"configs[{name!r}] must be a dict of {name}'s config fields")
        return resolve_config(name, self.configs.get(name), self.level_of(name), self.seed)


class ReasoningGymEnv(TextEnv):
    """Reward in [0, 1]: ``format_weight`` * format + (1 - format_weight) * correct."""

    task_schema = {
        "dataset": "the reasoning-gym generator",
        "index": "the item of the generator (with the config, it names the problem)",
        "config": "the generator's resolved config (seed and size included)",
        "question": "the generator's question (regenerated)",
        "answer": "the generator's reference answer (regenerated; never shown to the model)",
        "entry": "the generator's item as it was generated (question, answer, metadata), for its scorer",
    }

    Config = ReasoningGymConfig
    config: ReasoningGymConfig

    def _task(self, name: str, config: dict[str, Any], index: int) -> dict[str, Any]:
        item = entry(name, config, index)
        answer = item.get("answer")
        return {
            "dataset": name,
            "index": index,
            "config": config,
            "question": str(item["question"]),
            "answer": None if answer is None else str(answer),
            "entry": item,  # what the scorer sees (it may hold more than JSON: never regenerated)
        }

    def generate_task(self, rng: random.Random) -> dict[str, Any]:
        mix = self.config.weights
        (name,) = rng.choices(sorted(mix), weights=[mix[k] for k in sorted(mix)])
        config = self.config.resolved[name]
        return self._task(name, config, rng.randrange(config["size"]))

    def task_from_record(self, record: dict[str, Any]) -> dict[str, Any]:
        name, index = record.get("dataset"), record.get("index")
        if not isinstance(name, str):
            raise ValueError("needs 'dataset', a reasoning-gym generator name")
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise ValueError("needs 'index', a non-negative integer")
        seed = record.get("seed", self.config.seed)
        config = record.get("config")
        if config is not None and not isinstance(config, dict):
            raise ValueError("'config' must be a dict of the generator's config fields")
        config = {k: v for k, v in (config or {}).items() if k != "seed"}
        resolved = resolve_config(name, config, record.get("level"), seed)
        if index >= resolved["size"]:
            raise ValueError(f"index must be below the config's size {resolved['size']}")
        return self._task(name, resolved, index)

    def prompt(self, task: dict[str, Any]) -> list[dict[str, str]]:
        return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": task["question"]}]

    def score(self, trajectory: Trajectory) -> Score:
        task, text = trajectory.task, trajectory.last_completion
        zero = {"format": 0.0, "correct": 0.0}
        if len(text) > MAX_ANSWER_CHARS:
            return Score(0.0, zero, f"reply longer than {MAX_ANSWER_CHARS} characters", outcome="invalid")
        split = split_think(text)
        if not split.ok:
            return Score(0.0, zero, split.reason, outcome="invalid")
        answer, why = extract_answer(split.answer_part, "answer_tag")
        if answer is None:
            return Score(0.0, zero, why, outcome="invalid")
        outcome, reference = "ok", task["answer"]
        try:
            verdict = shared_pool().call(
                score_entry,
                task["dataset"],
                task["config"],
                task["entry"],
                answer,
                timeout=self.config.score_timeout_s,
            )
            raw = verdict["score"]
            why = f"{task['dataset']} scorer gave {raw:g}"
            if verdict["raised"]:  # malformed for this generator: 0, like any unreadable answer
                why = f"{task['dataset']} scorer could not read the answer ({verdict['raised']})"
                return Score(0.0, zero, why, outcome="invalid")
            if verdict["refused"]:
                why = f"{task['dataset']} scorer's credit withdrawn: {verdict['refused']}"
            if raw >= 1.0 and verdict["control"] >= 1.0:
                raw, why = 0.0, f"{task['dataset']} scorer gives full credit to any answer on this task"
        except BoundedTimeout as exc:
            raw, why, outcome = 0.0, f"{task['dataset']} scorer {exc}", "timeout"
        except RuntimeError as exc:
            raw, why, outcome = 0.0, f"{task['dataset']} scorer failed: {exc}"[:300], "error"
        if raw >= 1.0 and reference is not None and adds_to_reference(answer, reference):
            raw, why = 0.0, "the answer adds other words or numbers to the reference (a list of candidates)"
        full = raw >= 1.0
        correct = 1.0 if full else raw if self.config.partial_credit else 0.0
        if raw > 0 and not full and not self.config.partial_credit:
            why += " (partial credit refused: only full credit counts)"
        components = {"format": 1.0, "correct": correct}
        weights = {"format": self.config.format_weight, "correct": 1.0 - self.config.format_weight}
        reward = weighted_sum(components, weights)
        if not full:  # partial credit never reaches the bar
            reward = min(reward, max(self.config.format_weight, self.config.partial_cap))
        label = "correct" if full else "wrong"
        reason = f"{label}: {answer[:200]!r} vs {str(reference)[:200]!r} ({why})"
        return Score(reward, components, reason, outcome=outcome)

    # ---- for the exploit probes ------------------------------------------------------------
    def probes(self, task: dict[str, Any]) -> dict[str, list[str]]:
        """Replies that try to collect partial or substring credit without the answer."""
        ref = task["answer"] or "0"
        think = "<think>I work it out.</think>\n"
        candidates = {
            "reference_with_words": f"{ref} apples",  # the default scorer pays len(ref)/len(answer)
            "reference_plus_candidate": f"{ref} or {ref}1",
            "negated_reference": f"not {ref}",
            "reference_in_sentence": f"The answer is definitely not {ref}, it is something else",
            "candidate_lines": "\n".join([ref, *(str(i) for i in range(10))]),
            "question_as_answer": task["question"][:2000],
            "placeholder": "...",
            "two_answers": f"{ref}</answer>\n<answer>{ref}1",
        }
        out = {name: [f"{think}<answer>{value}</answer>"] for name, value in candidates.items()}
        out["answer_without_think"] = [f"<answer>{ref}</answer>"]
        out["answer_inside_think"] = [f"<think><answer>{ref}</answer></think>"]
        return out

    def reference_answer(self, task: dict[str, Any]) -> list[str] | None:
        if task["answer"] is None:
            return None
        return [f"<think>I work it out step by step.</think>\n<answer>{task['answer']}</answer>"]


def list_generators(category: str | None = None) -> list[dict[str, Any]]:
    """The installed reasoning-gym generators (name, category, config fields, curriculum levels)."""
    found = [describe(name) for name in dataset_names()]
    return [g for g in found if category is None or g["category"] == category]
