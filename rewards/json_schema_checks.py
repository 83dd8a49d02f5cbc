"""What JSON Schema means where Python's defaults differ: ECMA-262 patterns and e-mail formats.

Pure functions, used by ``rewards.json_schema`` to build its validators.

- ``pattern``/``patternProperties`` are ECMA-262 regular expressions (JSON Schema 2020-12,
  section 6.4). Python's ``re`` reads them differently in ways a reply can use: ``$``
  also matches before a trailing newline (``"ABC-12345\\n"`` matches ``^[A-Z]{3}-[0-9]{5}$``),
  and ``\\d``/``\\w`` match any Unicode digit or letter (fullwidth ``"１２３"`` is ``\\d+``).
  ``ecma_pattern`` rewrites a pattern so that Python gives it the ECMA meaning.
- ``format: email`` in jsonschema accepts any string with an ``@``; ``is_mailbox`` is RFC 5321's
  Mailbox (RFC 6531's for ``idn-email``).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Callable

import idna
from jsonschema.exceptions import ValidationError

#: ECMA ``$`` without the multiline flag: the very end of the input (Python's ``\\Z``), written
#: as a lookahead so a user pattern that already says ``\\Z`` keeps its own key in patternProperties.
END_OF_INPUT = "(?!(?s:.))"
#: ECMA's "." matches no line terminator (Python's matches \\r, U+2028 and U+2029).
_OUTSIDE_CLASSES = {"$": END_OF_INPUT, ".": "[^\\n\\r\\u2028\\u2029]"}
#: ECMA's empty class matches nothing, its negation any character.
_EMPTY_CLASSES = {"[^]": "(?s:.)", "[]": "(?!)"}
#: ECMA's \\d and \\w are ASCII; inside a character class only the ranges are written.
_ASCII_CLASSES = {"d": "0-9", "w": "A-Za-z0-9_"}


def ecma_pattern(pattern: str) -> str:
    """The pattern with ECMA-262 meaning under Python's ``re``: outside a character class ``$``
    matches only at the end of the input and ``.`` no line terminator; ``\\d``/``\\D``/``\\w``/``\\W``
    are ASCII classes.

    ``[]`` matches nothing and ``[^]`` any character, as in ECMA (Python would read a literal
    ``]`` there and go on), so classes are delimited as both engines delimit them."""
    out: list[str] = []
    i, in_class = 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            letter = pattern[i + 1]
            if letter.lower() in _ASCII_CLASSES:
                ranges = _ASCII_CLASSES[letter.lower()]
                if in_class:  # \D or \W inside a class has no range form: keep Python's (stricter) one
                    out.append(ranges if letter.islower() else pattern[i : i + 2])
                else:
                    out.append(f"[{ranges}]" if letter.islower() else f"[^{ranges}]")
            else:
                out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            empty = next((e for e in _EMPTY_CLASSES if pattern.startswith(e, i)), None)
            if empty:  # ECMA's [] and [^]; Python would read a literal ] and go on
                out.append(_EMPTY_CLASSES[empty])
                i += len(empty)
                continue
            in_class = True
            negated = pattern.startswith("[^", i)
            out.append(pattern[i : i + 1 + negated])
            i += 1 + negated
            continue
        elif ch in _OUTSIDE_CLASSES:
            out.append(_OUTSIDE_CLASSES[ch])
            i += 1
            continue
        out.append(ch)
        i += 1
    return "".join(out)


#: Keywords whose values are instance data, not subschemas.
DATA_KEYWORDS = ("const", "enum", "default", "examples")
#: Keywords whose values map names (property names, definition names) to subschemas.
NAME_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas", "dependencies")


def ecma_schema(schema: Any) -> tuple[Any, dict[str, str]]:
    """A copy of the schema with every ``pattern`` and ``patternProperties`` key rewritten by
    ecma_pattern, and {rewritten: original} for the patterns that changed (for messages)."""
    originals: dict[str, str] = {}

    def rewrite(pattern: str) -> str:
        new = ecma_pattern(pattern)
        if new != pattern:
            originals[new] = pattern
        return new

    def copy(node: Any) -> Any:
        if isinstance(node, list):
            return [copy(item) for item in node]
        if not isinstance(node, dict):
            return node
        out = {}
        for key, value in node.items():
            if key in DATA_KEYWORDS:
                out[key] = value
            elif key == "pattern" and isinstance(value, str):
                out[key] = rewrite(value)
            elif key in NAME_MAPS and isinstance(value, dict):
                names = (rewrite(name) if key == "patternProperties" else name for name in value)
                out[key] = {name: copy(sub) for name, sub in zip(names, value.values())}
            else:
                out[key] = copy(value)
        return out

    return copy(schema), originals


# ---- RFC 5321 Mailbox (RFC 6531 for internationalized addresses) -------------------------------
_ATEXT = r"A-Za-z0-9!#$%&'*+/=?^_`{|}~\-"
_QTEXT = r"\x20\x21\x23-\x5b\x5d-\x7e"
_NON_ASCII = r"\u0080-\U0010ffff"


def _local_part(international: bool) -> str:
    extra = _NON_ASCII if international else ""
    atom = f"[{_ATEXT}{extra}]+"
    quoted = f'"(?:[{_QTEXT}{extra}]|\\\\[\\x20-\\x7e])+"'  # "" (empty) is no mailbox
    return f"(?:{atom}(?:\\.{atom})*|{quoted})"


_MAILBOX = {flag: re.compile(f"({_local_part(flag)})@(.+)", re.DOTALL) for flag in (False, True)}
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
MAX_LOCAL_OCTETS, MAX_DOMAIN_OCTETS, MAX_MAILBOX_OCTETS = 64, 255, 254


def _ldh_label(label: str) -> bool:
    """RFC 1123 label; "--" at positions 3-4 only in an A-label (xn--), as RFC 5891 reserves it."""
    return bool(_LABEL.fullmatch(label)) and (label[2:4] != "--" or label[:4].lower() == "xn--")


def is_hostname(domain: str) -> bool:
    """RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens, 1-63
    characters each, 255 in all; no trailing dot."""
    return len(domain) <= MAX_DOMAIN_OCTETS and all(map(_ldh_label, domain.split(".")))


def _address_literal(literal: str) -> bool:
    """``[192.0.2.1]`` or ``[IPv6:2001:db8::1]`` (RFC 5321 section 4.1.3)."""
    if not (literal.startswith("[") and literal.endswith("]")):
        return False
    body = literal[1:-1]
    version, text = (
        (ipaddress.IPv6Address, body[5:]) if body.startswith("IPv6:") else (ipaddress.IPv4Address, body)
    )
    if "%" in text:  # Python reads a scope id (fe80::1%eth0); an address literal has none
        return False
    try:
        version(text)
    except ValueError:
        return False
    return True


def _idn_domain(domain: str) -> bool:
    if domain.isascii():
        return is_hostname(domain)
    if domain.endswith("."):
        return False
    try:
        return len(idna.encode(domain)) <= MAX_DOMAIN_OCTETS
    except (idna.IDNAError, UnicodeError):
        return False


def is_mailbox(text: Any, international: bool = False) -> bool:
    """RFC 5321 Mailbox: a dot-atom or quoted local part of at most 64 octets, ``@``, and a
    host name (RFC 1123 labels) or an address literal; 254 octets in all. ``international``:
    RFC 6531's, where the local part may hold non-ASCII characters and the domain may be an
    internationalized one (IDNA 2008). Non-strings pass (format checks apply to strings only)."""
    if not isinstance(text, str):
        return True
    try:
        octets = len(text.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate: not text
        return False
    match = _MAILBOX[international].fullmatch(text)
    if octets > MAX_MAILBOX_OCTETS or not match:
        return False
    local, domain = match.groups()
    if len(local.encode("utf-8")) > MAX_LOCAL_OCTETS:
        return False
    if domain.startswith("["):
        return _address_literal(domain)
    return _idn_domain(domain) if international else is_hostname(domain)


# ---- date-time leap seconds (RFC 3339 section 5.7) ---------------------------------------------
_LEAP_SECOND = re.compile(r"(\d\d):(\d\d):60(\.\d+)?(?:[zZ]|([+-])(\d\d):(\d\d))", re.ASCII)


def allows_leap_second(check: Callable[[str], bool], text: Any, *, prefix: str = "") -> bool:
    """``check`` (an RFC 3339 date-time check) that also accepts second 60 where RFC 3339 allows
    one: at the end of minute 23:59 in UTC (``23:59:60Z``, ``15:59:60-08:00``). ``prefix`` is
    put before the text for the check (``"1970-01-01T"`` for a time)."""
    if not isinstance(text, str):
        return True
    where = _LEAP_SECOND.search(text)
    if where is None or where.end() != len(text):
        return check(prefix + text)
    hour, minute, _, sign, off_hour, off_minute = where.groups()
    offset = (int(off_hour) * 60 + int(off_minute)) * (-1 if sign == "-" else 1) if sign else 0
    if (int(hour) * 60 + int(minute) - offset) % 1440 != 23 * 60 + 59:
        return False
    return check(prefix + text[: where.start()] + f"{hour}:{minute}:59" + text[where.start() + 8 :])


# ---- uniqueItems in linear time ----------------------------------------------------------------
def json_key(value: Any) -> Any:
    """A hashable key equal for JSON-equal values: 1 and 1.0 alike, true and 1 not, object key
    order ignored (jsonschema's uniqueness check compares objects pairwise: quadratic)."""
    if isinstance(value, bool) or value is None:
        return ("literal", value)
    if isinstance(value, (int, float)):
        return ("number", value)  # Python hashes equal numbers alike
    if isinstance(value, str):
        return ("string", value)
    if isinstance(value, list):
        return ("array", tuple(json_key(item) for item in value))
    return ("object", frozenset((key, json_key(item)) for key, item in value.items()))


def unique_items(validator, unique, instance, schema):
    """``uniqueItems`` by hashing each item's json_key (linear)."""
    if not unique or not validator.is_type(instance, "array"):
        return
    seen: set = set()
    for index, item in enumerate(instance):
        key = json_key(item)
        if key in seen:
            yield ValidationError(f"item {index} repeats an earlier one (uniqueItems)")
            return
        seen.add(key)
