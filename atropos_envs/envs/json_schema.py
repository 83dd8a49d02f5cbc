"""JsonSchema-v0: produce a JSON object that satisfies a JSON Schema, or repair an invalid
object so it does, changing as little as possible.

Nothing from the task or the reply is ever executed: the reply is parsed as JSON and
validated with ``jsonschema`` (the schema's declared draft, every format checked) in a
time-bounded worker, since user schemas may hold patterns that backtrack badly.

Task schema: ``mode`` (``generate`` | ``repair``), ``schema`` (a JSON Schema object, or a
JSON string of one), ``entity`` (what the object describes), ``invalid`` (repair: the
object to fix), ``allow_wrapped`` (JSON true/false: accept a fenced block or surrounding
prose; default false). A schema may only refer inside itself (``#/$defs/...``); any
other ``$ref`` is refused at load, so a task never reaches the network or the disk.

Replies are strict JSON (no ``NaN``/``Infinity``, no duplicate keys, no lone surrogates, no
literal with more digits than its double holds: ``328.00000000000001`` is refused, not
validated as 328; ``1e23`` is a double's shortest form and accepted). Patterns have their
ECMA-262 meaning (``$`` at the very end only, ``\\s``/``\\d``/``\\w``/``\\b`` ECMA's classes;
Python-only syntax refused at load), ``email`` is an RFC 5321 mailbox and ``date-time`` takes
a leap second (``rewards.json_schema_checks``); a schema whose references loop without going
deeper into the value is refused at load. With ``allow_wrapped``, the
last fenced block or else the one JSON object in the prose is read (two: refused). When the schema
has no root ``type``, the root type is implied by its keywords (``properties`` or
``required``: an object; see ``rewards.json_schema.implied_root_types``), else the reply
must be an object or an array: ``null``, ``0`` or ``"x"`` never pass an object schema.

Reward in [0, 1]. generate: 0.1 x parseable + 0.9 x valid. repair: valid x (0.7 x kept +
0.3 x closeness), or 0.1 when it parses but is still invalid; kept is the share of what a
repair keeps: the original's sound leaves (those no validation error touches) unchanged, a
mistyped value's content at its place, a value at each other bad place (deleting is no
repair); closeness the share of leaf paths in common, a value wrapped, unwrapped or converted
counting as the same leaf (``rewards.json_schema.repair_closeness``): a valid object written
from scratch keeps next to nothing and stays below 0.5. Every
``format`` a schema uses is checked (jsonschema's checkers with the format-nongpl
extra); a format that cannot be checked is refused at load. Outcome
``invalid`` when the reply holds no strict JSON, ``timeout`` when validation ran out of
time, ``error`` when the validator failed.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any

from atropos_envs.bounded import BoundedTimeout, shared_pool
from atropos_envs.core import Score, TextEnv, Trajectory
from atropos_envs.envs.schema_tasks import corrupt, generate_schema_task
from atropos_envs.tasks import (
    TaskFieldError,
    optional_bool,
    optional_str,
    require_choice,
)
from rewards.json_schema import (
    extract_json,
    repair_closeness,
    schema_errors,
    strict_loads,
)

#: Repair reward weights: kept (the original's sound parts left unchanged) and closeness.
KEPT_WEIGHT, CLOSENESS_WEIGHT = 0.7, 0.3


def _check_repair(value: Any, schema: dict[str, Any], original: Any) -> tuple[list[str], float, float]:
    """Errors, kept and closeness, in one bounded call."""
    return schema_errors(value, schema), *repair_closeness(original, value, schema)


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


def _read_schema(record: dict[str, Any]) -> dict[str, Any]:
    schema = record.get("schema")
    if isinstance(schema, str):
        try:
            schema = strict_loads(schema)
        except (ValueError, RecursionError) as exc:
            raise TaskFieldError("schema", f"the string is not JSON ({str(exc)[:80]})") from None
    if isinstance(schema, bool):  # valid JSON Schema, but no task: any reply (true) or none (false) passes
        raise TaskFieldError(
            "schema",
            f"the boolean schema {str(schema).lower()} accepts "
            f"{'every value' if schema else 'nothing'}; give a schema object",
        )
    if not isinstance(schema, dict):
        raise TaskFieldError("schema", "expected a JSON Schema object (or a JSON string of one)")
    try:
        schema_errors({}, schema)  # checks the schema and its references
    except ValueError as exc:
        raise TaskFieldError("schema", str(exc)) from None
    except RecursionError:
        raise TaskFieldError("schema", "its references loop without end") from None
    return schema


_PLACEHOLDER = "\u0000number\u0000"


def _near_miss_probes(task: dict[str, Any]) -> dict[str, list[str]]:
    """The generated instance with what Python reads leniently and JSON Schema does not allow:
    a newline after each patterned string (Python's ``$`` matches before it), ``"@"`` for each
    e-mail, each bounded integer at its maximum plus a digit a double drops."""
    reference, fields = task.get("reference"), task["schema"].get("properties", {})
    if not isinstance(reference, dict):
        return {}
    out: dict[str, list[str]] = {}
    for name, field in fields.items():
        value = reference.get(name)
        if isinstance(value, str) and "pattern" in field:
            out[f"newline after {name}"] = [json.dumps({**reference, name: value + "\n"})]
        elif isinstance(value, str) and field.get("format") == "email":
            out[f"bare @ as {name}"] = [json.dumps({**reference, name: "@"})]
        elif field.get("type") == "integer" and field.get("maximum"):
            text = json.dumps({**reference, name: _PLACEHOLDER})
            past = f"{field['maximum']}.0000000000000001"  # read as the maximum by a double
            out[f"{name} past its maximum"] = [text.replace(json.dumps(_PLACEHOLDER), past)]
    return out


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
        task = {
            "mode": mode,
            "entity": entity,
            "schema": schema,
            "allow_wrapped": self.config.allow_wrapped,
            "reference": value,
        }
        if mode == "repair":
            for _ in range(10):  # a corruption can happen to stay valid; draw again
                invalid = corrupt(rng, schema, value, edits=rng.randint(1, 3))
                if schema_errors(invalid, schema):
                    break
            task["invalid"] = invalid
        return task

    def task_from_record(self, record: dict[str, Any]) -> dict[str, Any]:
        schema = _read_schema(record)
        mode = require_choice(
            record, "mode", MODES, default="repair" if record.get("invalid") is not None else "generate"
        )
        if mode == "repair" and record.get("invalid") is None:
            raise TaskFieldError("invalid", "a repair task needs an 'invalid' object")
        task = {
            "mode": mode,
            "schema": schema,
            "entity": optional_str(record, "entity", "object"),
            "allow_wrapped": optional_bool(record, "allow_wrapped", False),
        }
        if mode == "repair":
            task["invalid"] = record["invalid"]
        return task

    def prompt(self, task: dict[str, Any]) -> list[dict[str, str]]:
        reply_rule = (
            "Reply with the JSON object only."
            if not task.get("allow_wrapped")
            else "Put the JSON object in a code block."
        )
        system = f"You write JSON that conforms exactly to a given JSON Schema. {reply_rule}"
        schema_text = json.dumps(task["schema"], indent=1)
        if task["mode"] == "generate":
            user = (
                f"Write a JSON object describing a {task['entity']} that is valid against this schema:\n"
                f"{schema_text}"
            )
        else:
            user = (
                "This JSON object is not valid against the schema below. Fix it with as few changes as "
                "possible and reply with the corrected object.\n"
                f"Object:\n{json.dumps(task['invalid'])}\nSchema:\n{schema_text}"
            )
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    def score(self, trajectory: Trajectory) -> Score:
        task = trajectory.task
        value, why = extract_json(trajectory.last_completion, bool(task.get("allow_wrapped")))
        zero = {
            "parseable": 0.0,
            "valid": 0.0,
            **({"kept": 0.0, "closeness": 0.0} if task["mode"] == "repair" else {}),
        }
        if value is None and why != "ok":
            return Score(0.0, zero, why, outcome="invalid")
        repair = task["mode"] == "repair"
        try:
            if repair:
                errors, kept, closeness = shared_pool().call(
                    _check_repair, value, task["schema"], task["invalid"], timeout=self.config.score_timeout_s
                )
            else:
                errors = shared_pool().call(
                    schema_errors, value, task["schema"], timeout=self.config.score_timeout_s
                )
        except BoundedTimeout as exc:
            return Score(0.0, zero, f"validation {exc}", outcome="timeout")
        except RuntimeError as exc:
            return Score(0.0, zero, f"validation failed: {exc}", outcome="error")
        components = {"parseable": 1.0, "valid": float(not errors)}
        if repair:
            components.update(kept=kept, closeness=closeness)
        if errors:
            return Score(0.1, components, f"invalid: {'; '.join(errors)}")
        if repair:
            reward = KEPT_WEIGHT * kept + CLOSENESS_WEIGHT * closeness
            return Score(
                reward,
                components,
                f"valid; {kept:.2f} of the original's sound parts kept, closeness {closeness:.2f}",
            )
        return Score(1.0, components, "valid")

    # ---- probe hooks --------------------------------------------------------------------
    def probes(self, task: dict[str, Any]) -> dict[str, list[str]]:
        """Cheap replies that must not pass: empty or bare values, non-JSON numbers, the
        schema itself, the repair task's object unchanged, a fence where none is allowed, and
        near misses of the generated instance (_near_miss_probes)."""
        out = {
            "empty object": ["{}"],
            "empty array": ["[]"],
            "null": ["null"],
            "zero": ["0"],
            "string": ['"x"'],
            "NaN": ["NaN"],
            "Infinity": ['{"value": Infinity}'],
            "schema itself": [json.dumps(task["schema"])],
        }
        if task["mode"] == "repair":
            out["invalid unchanged"] = [json.dumps(task["invalid"])]
        out.update(_near_miss_probes(task))
        if not task.get("allow_wrapped"):
            body = self.reference_answer(task)
            out["fenced"] = ["```json\n" + (body[0] if body else "{}") + "\n```"]
        return out

    def reference_answer(self, task: dict[str, Any]) -> list[str] | None:
        """The generator's valid instance (generated tasks; for a repair task it keeps every
        sound part, so it scores 0.7 + 0.3 x closeness); None for file tasks."""
        return [json.dumps(task["reference"])] if "reference" in task else None
