"""A seeded generator of JSON Schemas for described entities, each with a valid instance,
and of corruptions of that instance for repair tasks.

Schemas use what real schemas use: nested objects, arrays (min/max items, unique),
enums, formats (email, date, uuid, ipv4), patterns, numeric and length bounds, required
fields, ``additionalProperties: false``, ``$defs``/``$ref`` and ``oneOf``/``anyOf``.
"""

from __future__ import annotations

import copy
import random
import string
import uuid
from typing import Any

Field = tuple[dict[str, Any], Any]  # (schema of the field, a valid value)

_WORDS = ["alpha", "delta", "harbor", "maple", "orbit", "quartz", "river", "summit", "tango", "violet"]


def _word(rng: random.Random) -> str:
    return rng.choice(_WORDS)


def _string(rng):
    lo, hi = rng.randint(1, 4), rng.randint(8, 30)
    return {"type": "string", "minLength": lo, "maxLength": hi}, f"{_word(rng)} {_word(rng)}"[:hi]


def _email(rng):
    return {"type": "string", "format": "email"}, f"{_word(rng)}.{_word(rng)}@example.com"


def _date(rng):
    return {
        "type": "string",
        "format": "date",
    }, f"20{rng.randint(10, 29)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def _uuid(rng):
    return {"type": "string", "format": "uuid"}, str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _ipv4(rng):
    return {"type": "string", "format": "ipv4"}, ".".join(str(rng.randint(1, 254)) for _ in range(4))


def _code(rng):
    letters = rng.randint(2, 4)
    digits = rng.randint(3, 5)
    value = (
        "".join(rng.choice(string.ascii_uppercase) for _ in range(letters))
        + "-"
        + "".join(rng.choice(string.digits) for _ in range(digits))
    )
    return {"type": "string", "pattern": f"^[A-Z]{{{letters}}}-[0-9]{{{digits}}}$"}, value


def _integer(rng):
    lo = rng.randint(-10, 50)
    hi = lo + rng.randint(5, 500)
    return {"type": "integer", "minimum": lo, "maximum": hi}, rng.randint(lo, hi)


def _number(rng):
    lo = rng.randint(0, 10)
    return {"type": "number", "exclusiveMinimum": lo, "maximum": lo + 100}, lo + rng.randint(1, 99) + 0.5


def _enum(rng):
    options = rng.sample(["draft", "active", "paused", "archived", "pending", "shipped", "closed"], 3)
    return {"type": "string", "enum": options}, rng.choice(options)


def _boolean(rng):
    return {"type": "boolean"}, rng.random() < 0.5


def _tags(rng):
    lo, hi = rng.randint(1, 2), rng.randint(3, 5)
    items = rng.sample(_WORDS, rng.randint(lo, hi))
    return {
        "type": "array",
        "items": {"type": "string", "minLength": 1},
        "minItems": lo,
        "maxItems": hi,
        "uniqueItems": True,
    }, items


def _contact(rng):
    phone = {
        "type": "object",
        "properties": {"phone": {"type": "string", "pattern": "^\\+[0-9]{8,12}$"}},
        "required": ["phone"],
        "additionalProperties": False,
    }
    mail = {
        "type": "object",
        "properties": {"email": {"type": "string", "format": "email"}},
        "required": ["email"],
        "additionalProperties": False,
    }
    value = (
        {"phone": "+" + "".join(rng.choice(string.digits) for _ in range(10))}
        if rng.random() < 0.5
        else {"email": f"{_word(rng)}@example.org"}
    )
    return {"oneOf": [phone, mail]}, value


def _identifier(rng):
    return {"anyOf": [{"type": "integer", "minimum": 1}, {"type": "string", "pattern": "^id-[a-z]+$"}]}, (
        rng.randint(1, 9999) if rng.random() < 0.5 else f"id-{_word(rng)}"
    )


_LEAF_KINDS = {
    "name": _string,
    "title": _string,
    "email": _email,
    "created": _date,
    "due_date": _date,
    "uuid": _uuid,
    "ip_address": _ipv4,
    "sku": _code,
    "quantity": _integer,
    "price": _number,
    "status": _enum,
    "active": _boolean,
    "tags": _tags,
    "contact": _contact,
    "external_id": _identifier,
    "rating": _integer,
}
ENTITIES = ["customer", "product", "order", "server", "event", "library book", "support ticket", "employee"]


def _object(rng: random.Random, n_fields: int, strict: bool) -> Field:
    names = rng.sample(sorted(_LEAF_KINDS), n_fields)
    properties, value = {}, {}
    for name in names:
        properties[name], value[name] = _LEAF_KINDS[name](rng)
    required = sorted(rng.sample(names, rng.randint(max(1, n_fields - 2), n_fields)))
    schema = {"type": "object", "properties": properties, "required": required}
    if strict:
        schema["additionalProperties"] = False
    return schema, value


def generate_schema_task(
    rng: random.Random, complexity: int = 2
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(entity name, schema, a valid instance)."""
    entity = rng.choice(ENTITIES)
    schema, value = _object(rng, rng.randint(2 + complexity, 3 + 2 * complexity), strict=rng.random() < 0.7)
    if complexity >= 2:  # a nested object, referenced through $defs
        nested, nested_value = _object(rng, rng.randint(2, 3), strict=True)
        name = rng.choice(["address", "owner", "location", "metadata"])
        schema["$defs"] = {name: nested}
        schema["properties"][name] = {"$ref": f"#/$defs/{name}"}
        schema["required"] = sorted({*schema["required"], name})
        value[name] = nested_value
    if complexity >= 3:  # an array of nested objects
        item, item_value = _object(rng, 2, strict=True)
        schema["properties"]["items"] = {"type": "array", "items": item, "minItems": 1, "maxItems": 4}
        value["items"] = [item_value]
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": entity, **schema}
    return entity, schema, value


def _wrong_type(value: Any) -> Any:
    """The same content under a type a careless writer might use."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return value[0] if value else ""
    return [value]


def corrupt(
    rng: random.Random, schema: dict[str, Any], value: dict[str, Any], edits: int = 2
) -> dict[str, Any]:
    """A copy of value with a few schema violations of the kinds real outputs have."""
    broken = copy.deepcopy(value)
    props = schema["properties"]
    for _ in range(edits):
        name = rng.choice(sorted(broken)) if broken else None
        kind = rng.choice(["type", "range", "missing", "extra", "enum"])
        field_schema = props.get(name, {}) if name else {}
        if kind == "missing" and name in schema.get("required", []):
            del broken[name]
        elif kind == "extra" and schema.get("additionalProperties") is False:
            broken["notes"] = "added by mistake"
        elif kind == "range" and field_schema.get("type") == "integer":
            broken[name] = field_schema["maximum"] + rng.randint(1, 50)
        elif kind == "enum" and "enum" in field_schema:
            broken[name] = "unknown"
        elif name is not None:
            broken[name] = _wrong_type(broken[name])
    return broken
