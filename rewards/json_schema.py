"""Strict JSON parsing and extraction, JSON-Schema checks and validation, closeness of two
JSON values.

Pure functions. Inputs are size- and depth-checked before parsing (linear scans), so a
huge or deeply nested reply is rejected with a reason instead of exhausting the stack.
Replies are parsed as strict JSON (RFC 8259): ``NaN``, ``Infinity``, numbers that overflow
to infinity and duplicate object keys are refused (Python's ``json`` accepts them all).
Schemas are self-contained: ``$ref`` may only point inside the schema (``#...``), and
validation runs with a ``referencing`` registry that cannot retrieve anything, so a
schema never reaches the network or the file system.
"""

from __future__ import annotations

import decimal
import functools
import json
import re
from typing import Any

import jsonschema
from jsonschema.exceptions import SchemaError, ValidationError
from referencing import Registry
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012, specification_with

MAX_CHARS = 200_000
MAX_DEPTH = 64
MAX_ERRORS = 5
JSON_WHITESPACE = " \t\r\n"  # RFC 8259's; U+00A0 and other Unicode spaces are not JSON


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
        body, start = text[line_end + 1 : close_at], close_at + 3
    return body


def _outermost_object(text: str) -> str | None:
    start, end = text.find("{"), text.rfind("}")
    return text[start : end + 1] if 0 <= start < end else None


class NotStrictJSON(ValueError):
    """Text that Python's json reads but JSON does not allow (NaN, Infinity, duplicate keys)."""


def _refuse_constant(name: str) -> Any:
    raise NotStrictJSON(f"{name} is not a JSON value")


MAX_SIGNIFICANT_DIGITS = 17  # a double holds 15-17: more would be rounded before validation


def _finite_float(text: str) -> float:
    digits = text.lstrip("-").split("e")[0].split("E")[0].replace(".", "").lstrip("0").rstrip("0")
    if len(digits) > MAX_SIGNIFICANT_DIGITS:
        raise NotStrictJSON(
            f"number {text[:30]} has more than {MAX_SIGNIFICANT_DIGITS} significant digits "
            "(it would be rounded before validation)"
        )
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise NotStrictJSON(f"number {text[:20]} overflows to infinity")
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise NotStrictJSON(f"duplicate key {key[:40]!r} (which one counts is undefined)")
        out[key] = value
    return out


def strict_loads(text: str) -> Any:
    """json.loads that refuses what JSON does not allow; raises ValueError (NotStrictJSON for
    NaN/Infinity/overflow/duplicate keys, json.JSONDecodeError for syntax)."""
    return json.loads(
        text, parse_constant=_refuse_constant, parse_float=_finite_float, object_pairs_hook=_unique_keys
    )


def extract_json(text: str, allow_wrapped: bool = False) -> tuple[Any, str]:
    """The JSON value the reply gives, and why not when there is none.

    Strict: the reply, less JSON whitespace (space, tab, CR, LF) around it, must be
    JSON. With allow_wrapped, a fenced code block or
    the outermost {...} inside surrounding prose is accepted too. Returns (None, reason)
    on failure; a JSON null reply is reported as not an object by the caller."""
    if len(text) > MAX_CHARS:
        return None, f"reply longer than {MAX_CHARS} characters"
    candidates = [text.strip(JSON_WHITESPACE)]
    if allow_wrapped:  # a fenced block, else the outermost {...}: junk inside a fence is not skipped
        fenced = _last_fenced_block(text)
        wrapped = fenced if fenced is not None else _outermost_object(text)
        candidates += [wrapped.strip(JSON_WHITESPACE)] if wrapped else []
    refused = None
    for candidate in candidates:
        if nesting_depth(candidate) > MAX_DEPTH:
            return None, f"JSON nested deeper than {MAX_DEPTH}"
        try:
            return strict_loads(candidate), "ok"
        except NotStrictJSON as exc:
            refused = refused or f"not strict JSON: {exc}"
        except (ValueError, RecursionError):
            continue
    if refused:
        return None, refused
    prose = text.strip(JSON_WHITESPACE).startswith(("Here", "Sure"))
    if not allow_wrapped and (_last_fenced_block(text) or prose):
        return None, "reply must be the JSON value alone (no code fence or prose)"
    return None, "reply is not valid JSON"


_REF_KEYS = ("$ref", "$dynamicRef", "$recursiveRef")
#: Keywords whose values are instance data, not subschemas: a "$ref" or "format" key in
#: them is data.
_DATA_KEYWORDS = ("const", "enum", "default", "examples")


def _schema_nodes(schema: Any) -> list[dict]:
    """Every object in a schema outside data keywords (iterative: a deep schema cannot
    exhaust the stack)."""
    nodes, stack = [], [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            nodes.append(node)
            stack += [v for k, v in node.items() if k not in _DATA_KEYWORDS]
        elif isinstance(node, list):
            stack += node
    return nodes


def schema_refs(schema: Any) -> list[str]:
    """Every reference string in a schema (not in const/enum/default/examples data)."""
    return [node[k] for node in _schema_nodes(schema) for k in _REF_KEYS if isinstance(node.get(k), str)]


def check_formats(schema: Any, checker: jsonschema.FormatChecker) -> None:
    """Raise ValueError (one line) for a ``format`` the checker cannot check: an unchecked
    format accepts any string, so the task would pay for garbage."""
    for node in _schema_nodes(schema):
        name = node.get("format")
        if isinstance(name, str) and name not in checker.checkers:
            known = ", ".join(sorted(checker.checkers))
            raise ValueError(
                f"format {name[:40]!r} cannot be checked here (checkable: {known}); "
                "remove it or use one of those"
            )


def _local_registry(schema: dict[str, Any]) -> tuple[Registry, str]:
    spec = specification_with(str(schema.get("$schema", "")), default=DRAFT202012)
    resource = spec.create_resource(schema)
    uri = resource.id() or "urn:atropos-envs:task-schema"
    return Registry().with_resource(uri, resource).crawl(), uri  # Registry(): retrieval impossible


def check_refs(schema: dict[str, Any]) -> None:
    """Raise ValueError (one line) for a reference that leaves the schema or points nowhere.

    Only references inside the schema (``#``, ``#/$defs/...``, ``#anchor``) are allowed:
    ``http://...`` would make a network request and ``file:///...`` read a local file."""
    refs = schema_refs(schema)
    if not refs:
        return
    registry, uri = _local_registry(schema)
    resolver = registry.resolver(base_uri=uri)
    for ref in refs:
        if not ref.startswith("#"):
            raise ValueError(
                f"$ref {ref[:80]!r} points outside the schema; only local references (#/...) are allowed"
            )
        try:
            resolver.lookup(ref)
        except Unresolvable:
            raise ValueError(f"$ref {ref[:80]!r} points to nothing in the schema") from None


@functools.lru_cache(maxsize=256)
def _validator(schema_text: str):
    """Checking a schema costs ~4 ms, validating an instance ~0.1 ms: a task's schema is
    checked once and its validator reused for every sample of the task."""
    schema = json.loads(schema_text)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        raise ValueError(f"invalid schema: {exc.message[:200]}") from None
    if isinstance(schema, dict):
        check_refs(schema)
    check_formats(schema, cls.FORMAT_CHECKER)
    exact = jsonschema.validators.extend(cls, {"multipleOf": _exact_multiple_of})
    return exact(schema, format_checker=cls.FORMAT_CHECKER, registry=Registry())


def _exact_multiple_of(validator, divisor, instance, schema):
    """multipleOf in decimal arithmetic on the numbers as written (0.3 is a multiple of
    0.1; binary floats say it is not)."""
    if not validator.is_type(instance, "number"):
        return
    try:
        with decimal.localcontext(decimal.Context(prec=10_000)):  # JSON integers have < 4300 digits
            remainder = decimal.Decimal(repr(instance)) % decimal.Decimal(repr(divisor))
    except (decimal.InvalidOperation, ValueError):
        remainder = None
    if remainder is None or remainder != 0:
        yield ValidationError(f"{instance!r} is not a multiple of {divisor}")


def schema_errors(instance: Any, schema: dict[str, Any]) -> list[str]:
    """Validation errors (at most MAX_ERRORS, readable), under the schema's declared draft
    (2020-12 when it declares none) with every format it uses checked, after the root type the
    schema implies (implied_root_types). Raises ValueError for a schema that is invalid
    or refers outside itself."""
    validator = _validator(json.dumps(schema, sort_keys=True))
    root = root_type_error(instance, schema)
    errors = [root] if root else []
    for error in validator.iter_errors(instance):
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        errors.append(f"{where}: {error.message[:160]}")
        if len(errors) == MAX_ERRORS:
            break
    return errors


_OBJECT_KEYWORDS = {
    "properties",
    "required",
    "additionalProperties",
    "patternProperties",
    "minProperties",
    "maxProperties",
    "propertyNames",
    "dependentRequired",
    "dependentSchemas",
    "dependencies",
    "unevaluatedProperties",
}
_ARRAY_KEYWORDS = {
    "items",
    "prefixItems",
    "additionalItems",
    "minItems",
    "maxItems",
    "uniqueItems",
    "contains",
    "minContains",
    "maxContains",
    "unevaluatedItems",
}
_NUMBER_KEYWORDS = {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"}
_STRING_KEYWORDS = {"minLength", "maxLength", "pattern", "format"}
_KIND_OF = {"object": dict, "array": list, "string": str}
_JSON_TYPE_NAMES = {
    dict: "an object",
    list: "an array",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "a boolean",
    type(None): "null",
}


def implied_root_types(schema: Any) -> tuple[str, ...] | None:
    """The JSON types a reply's root may have when the schema states no root ``type``.

    JSON Schema lets a root without ``type`` accept any value, so ``null`` or ``0`` would be
    valid against ``{"properties": {...}, "required": [...]}``; a task means an object
    there. The root's own keywords imply the type (``properties``/``required``: object,
    ``items``: array, ``minimum``: number, ``pattern``: string); when none does, the reply
    must be an object or an array, as task schemas describe. None: no added requirement
    (the schema declares ``type``, or pins the value with ``enum``/``const``)."""
    if not isinstance(schema, dict) or "type" in schema or "enum" in schema or "const" in schema:
        return None
    keys = set(schema)
    kinds = tuple(
        kind
        for kind, words in (
            ("object", _OBJECT_KEYWORDS),
            ("array", _ARRAY_KEYWORDS),
            ("number", _NUMBER_KEYWORDS),
            ("string", _STRING_KEYWORDS),
        )
        if keys & words
    )
    return kinds or ("object", "array")


def root_type_error(instance: Any, schema: Any) -> str | None:
    """Why the instance's root type is not one the schema implies (see implied_root_types)."""
    got = _JSON_TYPE_NAMES.get(type(instance), type(instance).__name__)
    kinds = implied_root_types(schema)
    if kinds is None:
        return None
    for kind in kinds:
        if kind == "number" and isinstance(instance, (int, float)) and not isinstance(instance, bool):
            return None
        if kind in _KIND_OF and isinstance(instance, _KIND_OF[kind]):
            return None
    return (
        f"(root): expected {' or '.join('an ' + k if k[0] in 'ao' else 'a ' + k for k in kinds)}, got {got}"
    )


def _pointer_token(key: str) -> str:
    """A key escaped as in a JSON Pointer (RFC 6901): "a/b" and "a" + "b" differ."""
    return str(key).replace("~", "~0").replace("/", "~1")


def _leaves(value: Any, path: str = "") -> dict[str, str]:
    if isinstance(value, dict) and value:
        out: dict[str, str] = {}
        for key, item in value.items():
            out.update(_leaves(item, f"{path}/{_pointer_token(key)}"))
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


_CONTAINER_ERRORS = {
    "required",
    "minProperties",
    "dependentRequired",
    "dependencies",
    "minItems",
    "contains",
    "minContains",
}


def _extra_keys(instance: dict, schema: dict) -> list[str]:
    """The keys ``additionalProperties`` judges: neither in properties nor matching a pattern."""
    patterns = [re.compile(p) for p in (schema.get("patternProperties") or {})]
    return [
        key
        for key in instance
        if key not in (schema.get("properties") or {}) and not any(p.search(key) for p in patterns)
    ]


def sound_paths(original: Any, schema: dict[str, Any]) -> set[str]:
    """The original's leaf paths that no validation error touches: what a repair keeps.

    An error marks the leaves under its location, except errors that ask for something
    to be added (``required``, ``minItems``...), which mark nothing, and
    ``additionalProperties``, which marks the extra keys only. When no leaf is sound, the
    bad places themselves, as paths ending in "/"."""
    validator = _validator(json.dumps(schema, sort_keys=True))
    bad = []
    for error in validator.iter_errors(original):
        where = "".join("/" + _pointer_token(p) for p in error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            bad += [f"{where}/{_pointer_token(key)}" for key in _extra_keys(error.instance, error.schema)]
        elif error.validator not in _CONTAINER_ERRORS:
            bad.append(where)
    if root_type_error(original, schema):
        return set()
    sound = {p for p in _leaves(original) if not any(p == b or p.startswith(b + "/") for b in bad)}
    return sound or {b + "/" for b in bad if b}  # none sound: the bad places


def repair_closeness(original: Any, edited: Any, schema: dict[str, Any]) -> tuple[float, float]:
    """(kept, closeness) of a repair: kept, the share of the original's sound leaves
    (sound_paths) the reply keeps unchanged, or when none is sound, of its bad places
    (paths ending in "/") where it still has a value (closeness when there are none);
    closeness, json_closeness. A reply written from scratch keeps next to none of them."""
    closeness = json_closeness(original, edited)
    sound = sound_paths(original, schema)
    if not sound:
        return closeness, closeness
    a, b = _leaves(original), _leaves(edited)

    def kept(path: str) -> bool:  # a sound leaf unchanged, or something at a bad place
        if path.endswith("/"):
            return any(p == path[:-1] or p.startswith(path) for p in b)
        return b.get(path) == a[path]

    return sum(map(kept, sound)) / len(sound), closeness
