"""Hermes tool calls: parsing them from text, and matching them against expected calls.

Parsing: every ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>`` after any
``<think>`` block; malformed ones are reported, not dropped silently. Matching follows
the Berkeley Function-Calling Leaderboard's AST checker: function name, required
parameters present, no unknown parameters, each value among the allowed ones (strings
compared case- and punctuation-insensitively, an int accepted for a float, "" meaning an
optional parameter may be left out), and parallel calls matched in any order.
"""

from __future__ import annotations

import json
import re
from typing import Any

OPEN, CLOSE = "<tool_call>", "</tool_call>"
MAX_CALLS = 32


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
        body, start = text[at + len(OPEN):end].strip(), end + len(CLOSE)
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
            except ValueError:
                pass
        if not isinstance(arguments, dict):
            errors.append(f'"arguments" of {call["name"]} must be an object')
            continue
        calls.append({"name": call["name"], "arguments": arguments})
    return calls, errors


def _standardize(value: str) -> str:
    return re.sub(r"[ ,./\-_*^]", "", value).lower().replace("'", '"')


def _value_allowed(value: Any, allowed: list[Any]) -> bool:
    for option in allowed:
        if isinstance(option, str) and isinstance(value, str) and _standardize(option) == _standardize(value):
            return True
        if isinstance(option, bool) or isinstance(value, bool):
            if value is option:
                return True
            continue
        if isinstance(option, float) and isinstance(value, (int, float)) and float(value) == option:
            return True
        if isinstance(option, int) and isinstance(value, int) and value == option:
            return True
        if isinstance(option, (list, dict)) and value == option:
            return True
    return False


def call_matches(call: dict[str, Any], expected: dict[str, dict[str, list[Any]]], required: list[str] | None = None) -> str:
    """Why call does not match one BFCL ground-truth entry {name: {param: [allowed]}} ("" if it does)."""
    ((name, params),) = expected.items()
    if call["name"] != name:
        return f"called {call['name']} instead of {name}"
    args = call["arguments"]
    unknown = set(args) - set(params)
    if unknown:
        return f"{name}: unexpected parameters {sorted(unknown)}"
    for param, allowed in params.items():
        optional = "" in allowed
        if param not in args:
            if not optional or (required and param in required):
                return f"{name}: missing parameter {param}"
            continue
        if not _value_allowed(args[param], [a for a in allowed if a != ""]):
            return f"{name}: {param}={args[param]!r} is not an allowed value"
    return ""


def match_calls(calls: list[dict[str, Any]], ground_truth: list[dict[str, Any]]) -> tuple[bool, str]:
    """Whether the calls are exactly the expected ones, in any order (parallel calls)."""
    if len(calls) != len(ground_truth):
        return False, f"made {len(calls)} calls, expected {len(ground_truth)}"
    remaining = list(range(len(calls)))
    for expected in ground_truth:
        hit = next((i for i in remaining if not call_matches(calls[i], expected)), None)
        if hit is None:
            reasons = "; ".join(call_matches(calls[i], expected) for i in remaining)
            return False, f"no call matches {next(iter(expected))}: {reasons}"[:300]
        remaining.remove(hit)
    return True, "all calls match"
