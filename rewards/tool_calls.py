"""Hermes tool calls: parsing them from text, and matching them against expected calls.

Parsing: every ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>`` after any
``<think>`` block; malformed ones (bad JSON, no name, arguments nested deeper than
``MAX_DEPTH``) are reported, not dropped silently.

Matching follows the Berkeley Function-Calling Leaderboard's Python AST checker, typed by
the function description: the name, required parameters present, no parameter outside the
description and the ground truth, each top-level value of the declared type (``type()``
exactly: a bool is not an int, ``1`` is not ``True``; an int is accepted for a float; one
level of array item types), then the value among the allowed ones: strings (also inside
lists and dicts) compared without spaces, ``,./-_*^`` and case; dicts key by key; lists of
dicts element by element; ``""`` among the allowed values marks an optional parameter. A
value whose type is the ground truth's rather than the declared one is taken as a variable
and compared as is. Parallel calls match in any order, greedily, as BFCL does.

Where BFCL compares by ``==`` rather than by type, so do we, on purpose (verified against
bfcl-eval 2026.3.23's ``ast_checker``): values *inside a dict parameter* are not
type-checked, so ``{"breakfast": 1}`` matches ``[True]`` and ``{"guests": 2.0}`` matches
``[2]``; and the items of an *optional* array (``""`` among its allowed values) are not
type-checked, so ``[True, 2]`` and ``[1.0, 2.0]`` match ``[[1, 2]]`` (refused when the
array is required). Changing either would break agreement with BFCL's own verdicts.
"""

from __future__ import annotations

import json
import re
from typing import Any

OPEN, CLOSE = "<tool_call>", "</tool_call>"
MAX_CALLS = 32
MAX_DEPTH = 32

#: BFCL parameter types -> JSON Schema (None: no type constraint).
BFCL_TO_JSON_SCHEMA = {"dict": "object", "float": "number", "tuple": "array", "any": None}
#: Declared types (BFCL's or JSON Schema's) -> the Python type BFCL's checker expects.
_PYTHON_TYPES = {
    "string": str,
    "integer": int,
    "float": float,
    "number": float,
    "boolean": bool,
    "array": list,
    "tuple": list,
    "dict": dict,
    "object": dict,
    "any": str,
}


def json_depth(value: Any, limit: int = MAX_DEPTH) -> int:
    """Nesting depth of a JSON value (iterative; stops counting past ``limit``)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
            stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


def close_trailing_call(text: str) -> str:
    """The text with a last ``<tool_call>`` left open at its end closed: a driver that stops
    generation at ``</tool_call>`` gets the call without its closing tag."""
    if text.count(OPEN) == text.count(CLOSE) + 1 and text.rfind(OPEN) > text.rfind(CLOSE):
        return text + CLOSE
    return text


def parse_tool_calls(text: str) -> tuple[list[dict[str, Any]], list[str]]:
    """(well-formed calls as {"name", "arguments"}, one error message per malformed call)."""
    if "</think>" in text:
        text = text.rsplit("</think>", 1)[1]
    calls, errors, start = [], [], 0
    while (at := text.find(OPEN, start)) >= 0 and len(calls) + len(errors) < MAX_CALLS:
        end = text.find(CLOSE, at)
        if end < 0:
            errors.append("a <tool_call> is never closed")
            break
        body, start = text[at + len(OPEN) : end].strip(), end + len(CLOSE)
        try:
            call = json.loads(body)
        except (ValueError, RecursionError):
            errors.append(f"tool call is not valid JSON: {body[:80]!r}")
            continue
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            errors.append('a tool call needs a "name" string')
            continue
        arguments = call.get("arguments", call.get("parameters", {}))
        if isinstance(arguments, str):  # some models send the arguments JSON-encoded
            try:
                arguments = json.loads(arguments)
            except (ValueError, RecursionError):
                pass
        if not isinstance(arguments, dict):
            errors.append(f'"arguments" of {call["name"][:80]!r} must be an object')
            continue
        if json_depth(arguments) > MAX_DEPTH:
            errors.append(f"arguments of {call['name'][:80]!r} are nested deeper than {MAX_DEPTH} levels")
            continue
        calls.append({"name": call["name"], "arguments": arguments})
    return calls, errors


def bfcl_schema(parameters: Any) -> Any:
    """A BFCL parameter schema ("dict", "float", "tuple", "any" types) as JSON Schema.

    Walks the schema's structure (``properties`` maps names to schemas, so a parameter
    named ``type`` is a parameter, not a type)."""
    if isinstance(parameters, list):
        return [bfcl_schema(p) for p in parameters]
    if not isinstance(parameters, dict):
        return parameters
    out = {}
    for key, value in parameters.items():
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: bfcl_schema(schema) for name, schema in value.items()}
        elif key in ("items", "additionalProperties", "anyOf", "oneOf", "allOf") and isinstance(
            value, (dict, list)
        ):
            out[key] = bfcl_schema(value)
        elif key == "type" and isinstance(value, str) and value in BFCL_TO_JSON_SCHEMA:
            if BFCL_TO_JSON_SCHEMA[value] is not None:
                out[key] = BFCL_TO_JSON_SCHEMA[value]
        else:
            out[key] = value
    return out


# ---- BFCL's checker ---------------------------------------------------------------------------
def _standardize(value: str) -> str:
    return re.sub(r"[ ,./\-_*^]", "", value).lower().replace("'", '"')


def _std(value: Any) -> Any:
    return _standardize(value) if type(value) is str else value


def _first_type(allowed: list[Any]) -> type | None:
    return next((type(a) for a in allowed if a != ""), None)


def _type_ok(value: Any, allowed: list[Any], expected: type, item_type: type | None) -> tuple[bool, bool]:
    """(type accepted, value is a "variable") as BFCL's type_checker decides."""
    answer_type = _first_type(allowed)
    variable = answer_type is not None and answer_type is not expected
    if type(value) is expected:
        if item_type is None:
            return True, variable
        for option in allowed:
            if not isinstance(option, list) or all(_type_ok(v, option, item_type, None)[0] for v in value):
                return True, variable
        return False, variable
    if answer_type is not None and type(value) is answer_type:
        return True, True
    return False, variable


def _dict_ok(value: dict, allowed: list[Any]) -> bool:
    for option in allowed:
        if option == "":
            continue
        if all(k in option and _std(v) in [_std(a) for a in option[k]] for k, v in value.items()) and all(
            k in value or "" in v for k, v in option.items()
        ):
            return True
    return False


def _value_ok(value: Any, allowed: list[Any], expected: type, item_type: type | None) -> bool:
    if expected is dict:
        return _dict_ok(value, allowed)
    if expected is list and item_type is dict:
        return any(
            len(value) == len(option) and all(_dict_ok(v, [o]) for v, o in zip(value, option))
            for option in allowed
        )
    if expected is str:
        return _standardize(value) in [_standardize(a) for a in allowed if type(a) is str]
    if expected is list:
        # an optional marker "" reads as [] here, as in BFCL's list checker
        return [_std(v) for v in value] in [
            [_std(a) for a in option] for option in allowed if isinstance(option, (list, str))
        ]
    return value in allowed


def _declared(schema: dict[str, Any]) -> tuple[type, type | None]:
    kind = schema.get("type", "any")
    expected = _PYTHON_TYPES.get(kind, str) if isinstance(kind, str) else str
    item_type = None
    if kind in ("array", "tuple"):
        item_kind = (schema.get("items") or {}).get("type", "any")
        item_type = _PYTHON_TYPES.get(item_kind, str) if isinstance(item_kind, str) else str
    return expected, item_type


def call_matches(
    call: dict[str, Any], expected: dict[str, dict[str, list[Any]]], function: dict[str, Any] | None = None
) -> str:
    """Why ``call`` does not match one ground-truth entry {name: {param: [allowed]}} ("" if it does).

    ``function`` is the called function's description (``parameters`` with ``properties``
    and ``required``, BFCL or JSON Schema types); without it each parameter's type is taken
    from its allowed values."""
    ((name, params),) = expected.items()
    if call["name"] != name:
        return f"called {call['name']!r} instead of {name}"
    args = call["arguments"]
    described = (function or {}).get("parameters") or {}
    properties = described.get("properties") if function else None
    for param in described.get("required", []):
        if param not in args:
            return f"{name}: missing required parameter {param}"
    for param, value in args.items():
        if param not in params or (properties is not None and param not in properties):
            return f"{name}: unexpected parameter {param!r}"
        allowed = params[param]
        if properties is not None:
            expected, item_type = _declared(properties[param])
        else:
            expected, item_type = _first_type(allowed) or type(value), None
        if expected is float and type(value) is int:
            value = float(value)
        type_ok, variable = _type_ok(value, allowed, expected, item_type)
        if not type_ok:
            return f"{name}: {param}={value!r} is not of type {expected.__name__}"
        if variable:
            ok = value in allowed
        else:
            ok = _value_ok(value, allowed, expected, item_type)
        if not ok:
            return f"{name}: {param}={value!r} is not an allowed value"
    for param, allowed in params.items():
        if param not in args and "" not in allowed:
            return f"{name}: missing parameter {param}"
    return ""


def match_calls(
    calls: list[dict[str, Any]],
    ground_truth: list[dict[str, Any]],
    functions: list[dict[str, Any]] | None = None,
) -> tuple[bool, str]:
    """Whether the calls are exactly the expected ones, in any order (parallel calls)."""
    if len(calls) != len(ground_truth):
        return False, f"made {len(calls)} calls, expected {len(ground_truth)}"
    described = {f["name"]: f for f in functions or []}
    remaining = list(range(len(calls)))
    for expected in ground_truth:
        function = described.get(next(iter(expected))) if functions is not None else None
        reasons = []
        for i in remaining:
            reason = call_matches(calls[i], expected, function)
            if not reason:
                remaining.remove(i)
                break
            reasons.append(reason)
        else:
            return False, f"no call matches {next(iter(expected))}: {'; '.join(reasons)}"[:300]
    return True, "all calls match"
