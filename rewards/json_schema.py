"""Strict JSON parsing and extraction, JSON-Schema checks and validation, closeness of two
JSON values.

Pure functions. Inputs are size- and depth-checked before parsing (linear scans), so a
huge or deeply nested reply is rejected with a reason instead of exhausting the stack.
Replies are parsed as strict JSON (RFC 8259): ``NaN``, ``Infinity``, numbers that overflow
to infinity and duplicate object keys are refused (Python's ``json`` accepts them all), and
so are literals with more digits than their double holds (``328.00000000000001``,
``1e-400``; a double's shortest form such as ``1e23`` is fine) and lone surrogates (I-JSON).
Patterns get ECMA-262 meaning, ``email`` a real check, ``date-time`` leap seconds
(``rewards.json_schema_checks``); schemas whose references loop in place are refused.
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

from rewards.json_schema_checks import (
    DATA_KEYWORDS,
    NAME_MAPS,
    ecma_schema,
    exact_multiple_of,
    format_checker,
    json_key,
    metaschema_checker,
    same_content,
    unique_items,
)

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


_SPAN_DECODER = json.JSONDecoder()  # accepts NaN and duplicate keys: only finds where a value ends
_OBJECT_START = re.compile(r'\{[ \t\r\n]*["}]')
#: Decoding attempts from "{" in prose; each failed one costs O(length) (the error's line number).
MAX_OBJECT_TRIES = 256


def _objects_in_prose(text: str) -> list[str]:
    """The separate top-level JSON objects in a text: decoding from each ``{`` that may open
    one, skipping what does not decode ("Use {curly} notation: {...}") and what lies inside
    an object found. Gives up (no objects) after MAX_OBJECT_TRIES failed attempts."""
    found, pos, failures = [], 0, 0
    while failures < MAX_OBJECT_TRIES and (start := _OBJECT_START.search(text, pos)):
        try:
            _, end = _SPAN_DECODER.raw_decode(text, start.start())
        except (ValueError, RecursionError):
            failures, pos = failures + 1, start.start() + 1
            continue
        found.append(text[start.start() : end])
        pos = end
    return found if failures < MAX_OBJECT_TRIES else []


class NotStrictJSON(ValueError):
    """Text that Python's json reads but JSON does not allow (NaN, Infinity, duplicate keys)."""


def _refuse_constant(name: str) -> Any:
    raise NotStrictJSON(f"{name} is not a JSON value")


def _exact_float(text: str) -> float:
    """A JSON number with a fraction or exponent, as the double it becomes (I-JSON, RFC 7493:
    numbers are doubles); refused when the literal has more digits than that double holds,
    so ``328.00000000000001`` is never validated as 328. Accepted: the double's shortest
    round-trip form (``0.1``, ``1e23``, ``6.022e23``, ``1e308``, at any magnitude) and its
    exact value (``1152921504606846976.0``)."""
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise NotStrictJSON(f"number {text[:20]} overflows to infinity")
    try:
        written = decimal.Decimal(text)
    except decimal.InvalidOperation:  # an exponent beyond what Decimal holds (|e| > 10**18)
        raise NotStrictJSON(f"number {text[:30]} has an exponent out of range") from None
    if written != decimal.Decimal(repr(value)) and written != decimal.Decimal(value):
        raise NotStrictJSON(
            f"number {text[:30]} is not exactly a double (it would be read as {value!r}); write "
            "fewer digits (a double holds 15 to 17 significant ones)"
        )
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
    NaN/Infinity/overflow, numbers a double does not hold as written, duplicate keys and lone
    surrogates; json.JSONDecodeError for syntax)."""
    value = json.loads(
        text, parse_constant=_refuse_constant, parse_float=_exact_float, object_pairs_hook=_unique_keys
    )
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:  # "\ud800" alone: not a character (I-JSON, RFC 7493)
        raise NotStrictJSON(
            f"a string holds the lone surrogate \\u{ord(exc.object[exc.start]):04x} (JSON text must be "
            "valid Unicode: a surrogate only as half of a pair)"
        ) from None
    return value


def _strict_candidate(candidate: str) -> tuple[Any, str]:
    """(value, "ok"), or (None, why): nested too deep, not strict JSON, or "" for not JSON."""
    if nesting_depth(candidate) > MAX_DEPTH:
        return None, f"JSON nested deeper than {MAX_DEPTH}"
    try:
        return strict_loads(candidate), "ok"
    except NotStrictJSON as exc:
        return None, f"not strict JSON: {exc}"
    except (ValueError, RecursionError):
        return None, ""


def extract_json(text: str, allow_wrapped: bool = False) -> tuple[Any, str]:
    """The JSON value the reply gives, and why not when there is none.

    Strict: the reply, less JSON whitespace (space, tab, CR, LF) around it, must be JSON.
    With allow_wrapped, the last fenced code block, else the one JSON object in the
    surrounding prose, is accepted too; two or more separate objects are ambiguous and
    refused. Returns (None, reason) on failure; a JSON null reply is reported as not an
    object by the caller."""
    if len(text) > MAX_CHARS:
        return None, f"reply longer than {MAX_CHARS} characters"
    value, why = _strict_candidate(text.strip(JSON_WHITESPACE))
    if why == "ok" or why.startswith("JSON nested"):
        return value, why
    if allow_wrapped:  # junk inside a fence is not skipped; prose around objects is
        fenced = _last_fenced_block(text)
        objects = [fenced] if fenced is not None else _objects_in_prose(text)
        if len(objects) > 1:
            return None, f"reply holds {len(objects)} separate JSON objects; give one"
        if objects:
            value, wrapped_why = _strict_candidate(objects[0].strip(JSON_WHITESPACE))
            if wrapped_why == "ok" or wrapped_why.startswith("JSON nested"):
                return value, wrapped_why
            why = why or wrapped_why
    if why:
        return None, why
    prose = text.strip(JSON_WHITESPACE).startswith(("Here", "Sure"))
    if not allow_wrapped and (_last_fenced_block(text) or prose):
        return None, "reply must be the JSON value alone (no code fence or prose)"
    return None, "reply is not valid JSON"


_REF_KEYS = ("$ref", "$dynamicRef", "$recursiveRef")


def _schema_nodes(schema: Any) -> list[dict]:
    """Every subschema object in a schema, outside data keywords (const, enum...: a "$ref" or
    "format" key there is data) and reading name maps (properties, $defs...) as maps, so a
    property named "enum" is still a schema (iterative: a deep schema cannot exhaust the stack)."""
    nodes, stack = [], [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            nodes.append(node)
            for key, value in node.items():
                if key in NAME_MAPS and isinstance(value, dict):
                    stack += value.values()
                elif key not in DATA_KEYWORDS:
                    stack.append(value)
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


#: Keywords that apply a subschema to the same instance; a loop of them and references never ends.
_IN_PLACE = ("allOf", "anyOf", "oneOf", "not", "if", "then", "else", "dependentSchemas", "dependencies")
_NOT_APPLIED = ("$defs", "definitions", *DATA_KEYWORDS)


def _subschemas(node: dict, keys: tuple[str, ...], *, exclude: bool = False) -> list[tuple[str, dict]]:
    """(JSON-pointer step, subschema) under the given keywords (or under every other keyword)."""
    out = []
    for key, value in node.items():
        if (key in keys) == exclude or key in _NOT_APPLIED or key in _REF_KEYS:
            continue
        if key in NAME_MAPS and isinstance(value, dict):
            out += [(f"/{key}/{name}", sub) for name, sub in value.items() if isinstance(sub, dict)]
        elif isinstance(value, list):
            out += [(f"/{key}/{i}", sub) for i, sub in enumerate(value) if isinstance(sub, dict)]
        elif isinstance(value, dict):
            out.append((f"/{key}", value))
    return out


def check_ref_loops(schema: dict[str, Any]) -> None:
    """Raise ValueError (one line) when references lead a subschema back to itself without
    going deeper into the instance (``{"$id": "x:/a", "$ref": "#"}`` under a property, or
    ``{"allOf": [{"$ref": "#"}]}``): validating would recurse without end.

    Walks the subschemas that apply as jsonschema does (``$id`` sets the base a reference
    resolves against), then looks for a cycle among in-place applicators and references."""
    registry, uri = _local_registry(schema)
    spec = specification_with(str(schema.get("$schema", "")), default=DRAFT202012)
    where, in_place = {}, {}  # id(node) -> its path; id(node) -> ids of the nodes it applies in place
    stack = [(schema, registry.resolver(base_uri=uri), "")]
    while stack:
        node, resolver, path = stack.pop()
        if id(node) in where:
            continue
        where[id(node)], in_place[id(node)] = path or "(root)", []
        for key in _REF_KEYS:
            if isinstance(ref := node.get(key), str):
                try:
                    target = resolver.lookup(ref)
                except Unresolvable:
                    raise ValueError(f"$ref {ref[:80]!r} at {path or '(root)'} points to nothing") from None
                if isinstance(target.contents, dict):
                    in_place[id(node)].append(id(target.contents))
                    stack.append((target.contents, target.resolver, f"{path}/{key}"))
        for exclude in (False, True):
            for step, sub in _subschemas(node, _IN_PLACE, exclude=exclude):
                in_place[id(node)] += [] if exclude else [id(sub)]
                stack.append((sub, resolver.in_subresource(spec.create_resource(sub)), path + step))
    _refuse_cycle(in_place, where)


def _refuse_cycle(edges: dict[int, list[int]], where: dict[int, str]) -> None:
    state: dict[int, bool] = {}  # False: on the current path; True: done
    for start in edges:
        if start in state:
            continue
        state[start], path = False, [(start, iter(edges[start]))]
        while path:
            node, successors = path[-1]
            nxt = next(successors, None)
            if nxt is None:
                state[node] = True
                path.pop()
            elif state.get(nxt) is False:
                raise ValueError(
                    f"the subschema at {where[nxt]} refers back to itself without going deeper into the "
                    "value ($ref loop): validation would never end; break the loop"
                )
            elif nxt not in state:
                state[nxt] = False
                path.append((nxt, iter(edges[nxt])))


@functools.lru_cache(maxsize=256)
def _validator(schema_text: str):
    """Checking a schema costs ~4 ms, validating an instance ~0.1 ms: a task's schema is
    checked once and its validator reused for every sample of the task."""
    schema = json.loads(schema_text)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema, format_checker=metaschema_checker(cls))
    except SchemaError as exc:
        raise ValueError(f"invalid schema: {exc.message[:200]}") from None
    if isinstance(schema, dict) and schema_refs(schema):
        check_refs(schema)
        check_ref_loops(schema)
    check_formats(schema, cls.FORMAT_CHECKER)
    ecma, originals = ecma_schema(schema)
    for new, old in originals.items():
        try:
            re.compile(new)
        except re.error as exc:
            raise ValueError(
                f"pattern {old[:60]!r} cannot be run here with its ECMA-262 meaning (Python's re: {exc}); "
                "rewrite that part (an escaped letter ECMA reads as itself, e.g. \\q: write the letter)"
            ) from None

    def pattern(validator, pattern, instance, schema):  # the message names the pattern as written
        if validator.is_type(instance, "string") and not re.search(pattern, instance):
            yield ValidationError(f"{instance!r} does not match {originals.get(pattern, pattern)!r}")

    exact = jsonschema.validators.extend(
        cls, {"multipleOf": exact_multiple_of, "pattern": pattern, "uniqueItems": unique_items}
    )
    return exact(ecma, format_checker=format_checker(cls), registry=Registry())


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


def _leaves(value: Any, path: str = "", *, loose: bool = False) -> dict[str, str]:
    """Leaf path -> value. loose: a one-item list is looked through (``["x"]`` and ``"x"`` share
    a path) and values compare by content (same_content)."""
    if isinstance(value, dict) and value:
        out: dict[str, str] = {}
        for key, item in value.items():
            out.update(_leaves(item, f"{path}/{_pointer_token(key)}", loose=loose))
        return out
    if isinstance(value, list) and len(value) == 1 and loose:
        return _leaves(value[0], path, loose=loose)
    if isinstance(value, list) and value:
        out = {}
        for i, item in enumerate(value):
            out.update(_leaves(item, f"{path}/{i}", loose=loose))
        return out
    return {path: same_content(value) if loose else json.dumps(value, sort_keys=True)}


def json_closeness(original: Any, edited: Any, *, loose: bool = False) -> float:
    """Share of leaf paths (path -> value) the two values have in common, in [0, 1].

    1.0 means nothing changed; each changed, added or removed leaf lowers it. loose: a value
    wrapped into or unwrapped from a one-item list, or converted between a string and a
    number or boolean, counts as the same leaf (a repair that keeps it is not a deletion)."""
    a, b = _leaves(original, loose=loose), _leaves(edited, loose=loose)
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
    """What a repair keeps: the original's leaf paths that no validation error touches, and
    the bad places themselves, where a fixed value belongs (deleting a bad value is no repair):
    ending in "/~" where the type was wrong (the fix keeps the content, maybe with more:
    ``["x"]`` -> ``"x"``, ``"7"`` -> ``7``, ``"x"`` -> ``["x", "y"]``), in "/" elsewhere (any value).

    An error marks the leaves under its location, except errors that ask for something
    to be added (``required``, ``minItems``...), which mark nothing, and
    ``additionalProperties``, which marks the extra keys only. Extra keys and values a
    ``false`` subschema refuses are to be removed: they are no places to keep."""
    validator = _validator(json.dumps(schema, sort_keys=True))
    bad, places = [], []
    for error in validator.iter_errors(original):
        where = "".join("/" + _pointer_token(p) for p in error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            bad += [f"{where}/{_pointer_token(key)}" for key in _extra_keys(error.instance, error.schema)]
        elif error.validator not in _CONTAINER_ERRORS:
            bad.append(where)
            kind = "/~" if error.validator == "type" else "/"
            places += [where + kind] if where and error.schema is not False else []
    if root_type_error(original, schema):
        return set()
    sound = {p for p in _leaves(original) if not any(p == b or p.startswith(b + "/") for b in bad)}
    return sound | set(places)


def _at(value: Any, pointer: str) -> tuple[bool, Any]:
    """(found, the value at a JSON Pointer)."""
    for token in pointer.split("/")[1:]:
        key = token.replace("~1", "/").replace("~0", "~")
        if isinstance(value, dict) and key in value:
            value = value[key]
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            return False, None
    return True, value


def repair_closeness(original: Any, edited: Any, schema: dict[str, Any]) -> tuple[float, float]:
    """(kept, closeness) of a repair: kept, the share of what it should keep (sound_paths):
    the original's sound leaves unchanged, its mistyped values' content still at their
    place (half for another value there), a value still at its other bad places (closeness
    when there is nothing to keep);
    closeness, json_closeness (loose: a value kept through a type fix is kept, so deleting it
    never scores better). A reply written from scratch keeps next to none of them."""
    closeness = json_closeness(original, edited, loose=True)
    sound = sound_paths(original, schema)
    if not sound:
        return closeness, closeness

    def kept(path: str) -> float:
        if path.endswith("/~"):  # the content at a mistyped place, in whatever type; half for a value
            (_, old), (found, new) = _at(original, path[:-2]), _at(edited, path[:-2])
            same = found and set(_leaves(old, loose=True).values()) <= set(_leaves(new, loose=True).values())
            return 1.0 if same else 0.5 * found  # "202" past a maximum of 150 cannot keep its content
        found, new = _at(edited, path.rstrip("/"))
        if path.endswith("/"):
            return found
        return found and json_key(new) == json_key(_at(original, path)[1])  # JSON equality: 118 is 1.18e2

    return sum(map(kept, sound)) / len(sound), closeness
