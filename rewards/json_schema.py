"""JSON extraction, JSON-Schema validation and closeness of two JSON values.

Pure functions. Inputs are size- and depth-checked before parsing (linear scans), so a
huge or deeply nested reply is rejected with a reason instead of exhausting the stack.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import jsonschema
from jsonschema.exceptions import SchemaError

MAX_CHARS = 200_000
MAX_DEPTH = 64
MAX_ERRORS = 5


def nesting_depth(text: str) -> int:
    """Deepest bracket nesting outside JSON strings (a linear scan)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _last_fenced_block(text: str) -> str | None:
    """The body of the last complete ``` block: replies that show a draft and then a
    corrected version put the answer last."""
    body, start = None, 0
    while (open_at := text.find("```", start)) >= 0:
        line_end = text.find("\n", open_at)
        close_at = text.find("```", line_end + 1) if line_end >= 0 else -1
        if close_at < 0:
            break
        body, start = text[line_end + 1:close_at], close_at + 3
    return body


def _outermost_object(text: str) -> str | None:
    start, end = text.find("{"), text.rfind("}")
    return text[start:end + 1] if 0 <= start < end else None


def extract_json(text: str, allow_wrapped: bool = False) -> tuple[Any, str]:
    """The JSON value the reply gives, and why not when there is none.

    Strict: the reply (stripped) must be JSON. With allow_wrapped, a fenced code block or
    the outermost {...} inside surrounding prose is accepted too. Returns (None, reason)
    on failure; a JSON null reply is reported as not an object by the caller."""
    if len(text) > MAX_CHARS:
        return None, f"reply longer than {MAX_CHARS} characters"
    candidates = [text.strip()]
    if allow_wrapped:
        candidates += [c.strip() for c in (_last_fenced_block(text), _outermost_object(text)) if c]
    for candidate in candidates:
        if nesting_depth(candidate) > MAX_DEPTH:
            return None, f"JSON nested deeper than {MAX_DEPTH}"
        try:
            return json.loads(candidate), "ok"
        except (ValueError, RecursionError):
            continue
    if not allow_wrapped and (_last_fenced_block(text) or text.strip().startswith(("Here", "Sure"))):
        return None, "reply must be the JSON value alone (no code fence or prose)"
    return None, "reply is not valid JSON"


@functools.lru_cache(maxsize=256)
def _validator(schema_text: str):
    """Checking a schema costs ~4 ms, validating an instance ~0.1 ms: a task's schema is
    checked once and its validator reused for every sample of the task."""
    schema = json.loads(schema_text)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        raise ValueError(f"invalid schema: {exc.message}") from None
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def schema_errors(instance: Any, schema: dict[str, Any]) -> list[str]:
    """Validation errors (at most MAX_ERRORS, readable), under the schema's declared draft
    (2020-12 when it declares none) with format checking on."""
    validator = _validator(json.dumps(schema, sort_keys=True))
    errors = []
    for error in validator.iter_errors(instance):
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        errors.append(f"{where}: {error.message[:160]}")
        if len(errors) == MAX_ERRORS:
            break
    return errors


def _leaves(value: Any, path: str = "") -> dict[str, str]:
    if isinstance(value, dict) and value:
        out: dict[str, str] = {}
        for key, item in value.items():
            out.update(_leaves(item, f"{path}/{key}"))
        return out
    if isinstance(value, list) and value:
        out = {}
        for i, item in enumerate(value):
            out.update(_leaves(item, f"{path}/{i}"))
        return out
    return {path: json.dumps(value, sort_keys=True)}


def json_closeness(original: Any, edited: Any) -> float:
    """Share of leaf paths (path -> value) the two values have in common, in [0, 1].

    1.0 means nothing changed; each changed, added or removed leaf lowers it."""
    a, b = _leaves(original), _leaves(edited)
    union = set(a) | set(b)
    if not union:
        return 1.0
    same = sum(1 for path in set(a) & set(b) if a[path] == b[path])
    return same / len(union)
