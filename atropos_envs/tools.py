"""Tools for tool-use environments, written as plain typed Python functions.

``Tool.from_function(fn)`` builds the OpenAI/JSON-Schema function spec from the signature
(types, defaults) and the docstring (first paragraph = description; ``Args:`` lines =
parameter descriptions). Calls are validated strictly against that schema before the
function runs; a tool that needs per-episode state declares a ``state`` parameter, which
is filled in by the env and never shown to the model.
"""

from __future__ import annotations

import functools
import inspect
import json
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jsonschema

_JSON_TYPES = {int: "integer", float: "number", str: "string", bool: "boolean", dict: "object", list: "array"}


def _schema_for(annotation: Any) -> dict[str, Any]:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return {"enum": list(args)}
    if origin in (list, tuple):
        return {"type": "array", **({"items": _schema_for(args[0])} if args else {})}
    if origin is dict:
        return {"type": "object"}
    if annotation in _JSON_TYPES:
        return {"type": _JSON_TYPES[annotation]}
    raise TypeError(
        f"unsupported parameter type {annotation!r}; use int, float, str, bool, list, dict or Literal"
    )


def _docstring_parts(doc: str) -> tuple[str, dict[str, str]]:
    doc = inspect.cleandoc(doc or "")
    description = doc.split("\n\n", 1)[0].replace("\n", " ").strip()
    params = (
        dict(re.findall(r"^\s+(\w+)(?: \([^)]*\))?:\s*(.+)$", doc.split("Args:", 1)[1], flags=re.MULTILINE))
        if "Args:" in doc
        else {}
    )
    return description, params


@dataclass
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]
    fn: Callable[..., Any]
    wants_state: bool = False

    @classmethod
    def from_function(cls, fn: Callable[..., Any]) -> Tool:
        hints = typing.get_type_hints(fn)
        description, param_docs = _docstring_parts(fn.__doc__ or "")
        properties, required, wants_state = {}, [], False
        for name, param in inspect.signature(fn).parameters.items():
            if name == "state":
                wants_state = True
                continue
            schema = _schema_for(hints.get(name, str))
            if name in param_docs:
                schema["description"] = param_docs[name]
            properties[name] = schema
            if param.default is inspect.Parameter.empty:
                required.append(name)
        parameters = {
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": False,
        }
        return cls(fn.__name__, description or fn.__name__, parameters, fn, wants_state)

    def spec(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }

    @functools.cached_property
    def validator(self) -> jsonschema.Draft202012Validator:
        return jsonschema.Draft202012Validator(self.parameters)

    def call(self, arguments: dict[str, Any], state: dict[str, Any]) -> tuple[bool, Any]:
        """(ok, result or error text): arguments are validated before anything runs."""
        errors = sorted(self.validator.iter_errors(arguments), key=lambda e: e.path)
        if errors:
            return False, f"invalid arguments for {self.name}: {errors[0].message}"
        try:
            result = self.fn(**arguments, **({"state": state} if self.wants_state else {}))
        except Exception as exc:  # the tool's own error is the model's feedback
            return False, f"{self.name} failed: {type(exc).__name__}: {exc}"
        return True, result


def tools_system_prompt(tools: list[Tool]) -> str:
    """The Hermes function-calling system prompt: the specs inside <tools></tools>."""
    specs = "\n".join(json.dumps(t.spec()) for t in tools)
    return (
        "You are a function calling AI model. You may call one or more functions to assist with the user "
        f"query. Here are the available tools: <tools>\n{specs}\n</tools>\nFor each function call return a "
        "JSON object with the function name and arguments within "
        '<tool_call></tool_call> tags:\n<tool_call>\n{"name": <function-name>, "arguments": '
        "<args-dict>}\n</tool_call>\n"
        "Tool results come back inside <tool_response></tool_response>. When you have the result, reply "
        "without any tool call and put the final answer inside <answer></answer>."
    )
