"""JsonSchema-v0: produce a JSON object that satisfies a JSON Schema, or repair an invalid
object so it does, changing as little as possible.

Nothing from the task or the reply is ever executed: the reply is parsed as JSON and
validated with ``jsonschema`` (the schema's declared draft, format checking on) in a
time-bounded worker, since user schemas may hold patterns that backtrack badly.

Task schema: ``mode`` (``generate`` | ``repair``), ``schema`` (a JSON Schema object),
``entity`` (what the object describes), ``invalid`` (repair: the object to fix),
``allow_wrapped`` (accept a fenced block or surrounding prose; default false).
Reward in [0, 1]. generate: 0.1 x parseable + 0.9 x valid. repair: valid x (0.5 + 0.5 x
closeness to the original), or 0.1 when it parses but is still invalid.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any

from atropos_envs.bounded import BoundedTimeout, shared_pool
from atropos_envs.core import Score, TextEnv, Trajectory
from atropos_envs.envs.schema_tasks import corrupt, generate_schema_task
from rewards.json_schema import extract_json, json_closeness, schema_errors

MODES = ("generate", "repair")


@dataclass
class JsonSchemaConfig:
    mode: str = "mixed"  # generate, repair or mixed
    complexity: int = 2  # 1: flat objects; 2: + $defs/$ref; 3: + arrays of objects
    allow_wrapped: bool = False
    score_timeout_s: float = 5.0

    def validate(self) -> None:
        if self.mode not in (*MODES, "mixed"):
            raise ValueError(f"mode must be one of {MODES} or 'mixed'")
        if self.complexity not in (1, 2, 3):
            raise ValueError("complexity must be 1, 2 or 3")


class JsonSchemaEnv(TextEnv):
    task_schema = {
        "mode": "generate | repair",
        "schema": "a JSON Schema object",
        "entity": "what the object describes (generate)",
        "invalid": "the object to repair (repair)",
        "allow_wrapped": "accept a fenced block or prose around the JSON (default false)",
    }

    Config = JsonSchemaConfig
    config: JsonSchemaConfig

    def generate_task(self, rng: random.Random) -> dict[str, Any]:
        entity, schema, value = generate_schema_task(rng, self.config.complexity)
        mode = rng.choice(MODES) if self.config.mode == "mixed" else self.config.mode
        task = {"mode": mode, "entity": entity, "schema": schema, "allow_wrapped": self.config.allow_wrapped}
        if mode == "repair":
            for _ in range(10):  # a corruption can happen to stay valid; draw again
                invalid = corrupt(rng, schema, value, edits=rng.randint(1, 3))
                if schema_errors(invalid, schema):
                    break
            task["invalid"] = invalid
        return task

    def task_from_record(self, record: dict[str, Any]) -> dict[str, Any]:
        schema = record.get("schema")
        if isinstance(schema, str):
            schema = json.loads(schema)
        if not isinstance(schema, dict):
            raise ValueError("needs a 'schema' object (or a JSON string of one)")
        schema_errors({}, schema)  # raises ValueError on an invalid schema
        mode = record.get("mode") or ("repair" if "invalid" in record else "generate")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        if mode == "repair" and "invalid" not in record:
            raise ValueError("a repair task needs an 'invalid' object")
        task = {"mode": mode, "schema": schema, "entity": str(record.get("entity", "object")),
                "allow_wrapped": bool(record.get("allow_wrapped", False))}  # fmt: skip
        if mode == "repair":
            task["invalid"] = record["invalid"]
        return task

    def prompt(self, task: dict[str, Any]) -> list[dict[str, str]]:
        reply_rule = (
            "Reply with the JSON object only." if not task.get("allow_wrapped") else "Put the JSON object in a code block."
        )
        system = f"You write JSON that conforms exactly to a given JSON Schema. {reply_rule}"
        schema_text = json.dumps(task["schema"], indent=1)
        if task["mode"] == "generate":
            user = f"Write a JSON object describing a {task['entity']} that is valid against this schema:\n{schema_text}"
        else:
            user = (
                f"This JSON object is not valid against the schema below. Fix it with as few changes as possible "
                f"and reply with the corrected object.\nObject:\n{json.dumps(task['invalid'])}\nSchema:\n{schema_text}"
            )
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    def score(self, trajectory: Trajectory) -> Score:
        task = trajectory.task
        value, why = extract_json(trajectory.last_completion, bool(task.get("allow_wrapped")))
        zero = {"parseable": 0.0, "valid": 0.0, **({"closeness": 0.0} if task["mode"] == "repair" else {})}
        if value is None and why != "ok":
            return Score(0.0, zero, why)
        try:
            errors = shared_pool().call(schema_errors, value, task["schema"], timeout=self.config.score_timeout_s)
        except BoundedTimeout as exc:
            return Score(0.0, zero, f"validation {exc}")
        except RuntimeError as exc:
            return Score(0.0, zero, f"validation failed: {exc}")
        components = {"parseable": 1.0, "valid": float(not errors)}
        if task["mode"] == "repair":
            components["closeness"] = json_closeness(task["invalid"], value)
        if errors:
            return Score(0.1, components, f"invalid: {'; '.join(errors)}")
        if task["mode"] == "repair":
            return Score(0.5 + 0.5 * components["closeness"], components,
                         f"valid; {components['closeness']:.2f} of the original kept")  # fmt: skip
        return Score(1.0, components, "valid")
