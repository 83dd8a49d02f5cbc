"""What JSON Schema means where Python's defaults differ: ECMA-262 patterns and e-mail formats.

Pure functions, used by ``rewards.json_schema`` to build its validators.

- ``pattern``/``patternProperties`` are ECMA-262 regular expressions (JSON Schema 2020-12,
  section 6.4). Python's ``re`` reads them differently in ways a reply can use: ``$``
  also matches before a trailing newline (``"ABC-12345\\n"`` matches ``^[A-Z]{3}-[0-9]{5}$``),
  ``\\d``/``\\w``/``\\s``/``\\b`` are Unicode-wide (fullwidth ``"１２３"`` is ``\\d+``; U+001C is
  ``\\s``), ``a{,3}`` is a quantifier (ECMA: text). ``ecma_pattern`` rewrites a pattern so that
  Python gives it the ECMA meaning, and refuses Python-only syntax (``(?P<n>...)``, ``(?i)``,
  ``\\Z``...) with one line; an ECMA pattern Python cannot run (``\\q``, a lookbehind of
  variable width) is refused at load by the caller. ``format: regex`` is checked the same way.
- RFC 3339 leap seconds (``23:59:60Z``) in ``date-time``/``time``; ``uniqueItems`` in linear time.
- ``format: email`` in jsonschema accepts any string with an ``@``; ``is_mailbox`` is RFC 5321's
  Mailbox (RFC 6531's for ``idn-email``).
"""

from __future__ import annotations

import decimal
import functools
import ipaddress
import json
import re
from collections.abc import Callable
from typing import Any

import idna
import jsonschema
from jsonschema.exceptions import ValidationError

#: ECMA ``$`` without the multiline flag: the very end of the input (Python's ``\\Z``), written
#: as a lookahead so a user pattern that already says ``\\Z`` keeps its own key in patternProperties.
END_OF_INPUT = "(?!(?s:.))"
#: ECMA's "." matches no line terminator (Python's matches \\r, U+2028 and U+2029).
_OUTSIDE_CLASSES = {"$": END_OF_INPUT, ".": "[^\\n\\r\\u2028\\u2029]"}
#: ECMA's empty class matches nothing, its negation any character.
_EMPTY_CLASSES = {"[^]": "(?s:.)", "[]": "(?!)"}
#: ECMA's \\d, \\w and \\s as class ranges: ASCII digits and word characters; WhiteSpace and
#: LineTerminator (Python's \\s adds U+001C-U+001F and U+0085 and lacks U+FEFF).
_CLASS_RANGES = {
    "d": "0-9",
    "w": "A-Za-z0-9_",
    "s": "\\t\\n\\x0b\\x0c\\r \\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff",
}
_WORD = "[A-Za-z0-9_]"
#: ECMA's \\b and \\B: a boundary between an ASCII word character and anything else.
_BOUNDARIES = {
    "b": f"(?:(?<={_WORD})(?!{_WORD})|(?<!{_WORD})(?={_WORD}))",
    "B": f"(?:(?<={_WORD})(?={_WORD})|(?<!{_WORD})(?!{_WORD}))",
}
#: Escapes Python reads but ECMA-262 reads as the bare letter (or a different thing).
_PYTHON_ESCAPES = {
    "A": "use ^ for the start",
    "Z": "use $ for the end",
    "a": "write \\x07 for a bell",
    "U": "write \\uXXXX (a surrogate pair for astral characters)",
    "N": "write the character or \\uXXXX",
}
#: Group openings both engines read alike (after "(?").
_ECMA_GROUPS = (":", "=", "!", "<=", "<!")
_NAMED_GROUP = re.compile(r"<([A-Za-z_$][A-Za-z0-9_$]*)>")
_PYTHON_QUANTIFIER = re.compile(r"\{,[0-9]*\}")  # Python's {,n}; ECMA reads these characters literally


class NotEcmaPattern(ValueError):
    """A pattern written with Python-only regex syntax."""


def _control(letter: str) -> str | None:
    """ECMA's \\cX, a control character, as Python's \\xNN (Python has no \\c)."""
    return f"\\x{ord(letter) % 32:02x}" if letter.isascii() and letter.isalpha() else None


def _escape(pattern: str, i: int, in_class: bool) -> tuple[str, int]:
    """(Python text, characters read) for the escape at pattern[i] == "\\"."""
    letter = pattern[i + 1]
    if letter.lower() in _CLASS_RANGES:
        ranges = _CLASS_RANGES[letter.lower()]
        return (ranges if in_class else f"[{ranges}]") if letter.islower() else f"[^{ranges}]", 2
    if letter in _BOUNDARIES and not in_class:
        return _BOUNDARIES[letter], 2
    if letter in _PYTHON_ESCAPES:
        raise NotEcmaPattern(
            f"\\{letter} is Python-only (ECMA-262 reads the letter {letter}); {_PYTHON_ESCAPES[letter]}"
        )
    if letter == "c" and i + 2 < len(pattern) and (control := _control(pattern[i + 2])):
        return control, 3
    if letter == "k" and not in_class and (name := _NAMED_GROUP.match(pattern, i + 2)):
        return f"(?P={name.group(1)})", 2 + len(name.group(0))
    return pattern[i : i + 2], 2


def _group_opening(pattern: str, i: int) -> tuple[str, int]:
    """(Python text, characters read) for "(?" at pattern[i]; Python-only groups refused."""
    rest = pattern[i + 2 : i + 4]
    if rest.startswith(_ECMA_GROUPS):
        return "(?", 2
    if name := _NAMED_GROUP.match(pattern, i + 2):
        return f"(?P<{name.group(1)}>", 2 + len(name.group(0))
    raise NotEcmaPattern(
        f"the group {pattern[i : i + 4]!r}... is Python-only syntax (ECMA-262 has (?:, (?=, (?!, (?<=, "
        "(?<! and (?<name>; no inline flags, comments, (?P...) or atomic groups)"
    )


def _class(pattern: str, i: int) -> tuple[str, int]:
    """(Python text, characters read) for the class opening at pattern[i] == "[": delimited as
    both engines delimit it, class escapes as ECMA ranges; a \\D, \\S or \\W inside becomes an
    alternative of the complement (Python's would be Unicode)."""
    negated = pattern.startswith("[^", i)
    j, items, complements = i + 1 + negated, [], []
    while j < len(pattern) and pattern[j] != "]":
        if pattern[j] == "\\" and j + 1 < len(pattern):
            text, used = _escape(pattern, j, in_class=True)
            (complements if text.startswith("[^") else items).append(text)
            j += used
        else:
            items.append(pattern[j])
            j += 1
    if j >= len(pattern):
        raise NotEcmaPattern(f"the class at position {i} is never closed")
    if not complements:
        return "[" + "^" * negated + "".join(items) + "]", j + 1 - i
    alternatives = ([f"[{''.join(items)}]"] if items else []) + complements
    union = f"(?:{'|'.join(alternatives)})"
    return (f"(?:(?!{union})(?s:.))" if negated else union), j + 1 - i


def ecma_pattern(pattern: str) -> str:
    """The pattern with ECMA-262 meaning under Python's ``re``; raises NotEcmaPattern (a
    ValueError, one line) for Python-only syntax.

    Outside a class ``$`` matches only at the end of the input and ``.`` no line terminator.
    ``\\d``/``\\w``/``\\s`` and their negations are ECMA's classes (ASCII digits and word
    characters; ECMA's white space), in a class too, and ``\\b``/``\\B`` are boundaries of ASCII
    word characters. ``[]`` matches nothing and ``[^]`` any character. ``(?<name>...)``,
    ``\\k<name>`` and ``\\cX`` are translated; ``{,n}`` is literal text, as in ECMA. Refused:
    ``(?P...)``, ``(?#...)``, inline flags, atomic groups, possessive quantifiers, ``\\A``, ``\\Z``,
    ``\\a``, ``\\U``, ``\\N``. What Python cannot compile (an ECMA identity escape such as ``\\q``,
    a lookbehind of variable width) is refused by the caller. Not translated: without the ``u``
    flag ECMA's ``.`` matches half of an astral character (a UTF-16 code unit), Python's the
    whole character; a backreference to a group that did not take part matches the empty string
    in ECMA and fails in Python."""
    out: list[str] = []
    i, after_quantifier = 0, False
    while i < len(pattern):
        ch, quantifier = pattern[i], False
        if ch == "\\" and i + 1 < len(pattern):
            text, used = _escape(pattern, i, in_class=False)
        elif ch == "[":
            empty = next((e for e in _EMPTY_CLASSES if pattern.startswith(e, i)), None)
            text, used = (_EMPTY_CLASSES[empty], len(empty)) if empty else _class(pattern, i)
        elif ch == "(" and pattern.startswith("(?", i):
            text, used = _group_opening(pattern, i)
        elif ch in _OUTSIDE_CLASSES:
            text, used = _OUTSIDE_CLASSES[ch], 1
        elif ch == "{" and (literal := _PYTHON_QUANTIFIER.match(pattern, i)):
            text, used = "\\" + literal.group(0), len(literal.group(0))
        elif ch == "+" and after_quantifier:
            raise NotEcmaPattern(f"the possessive quantifier at position {i} is Python-only syntax")
        else:
            quantifier = ch in "*+?" or (ch == "}" and bool(re.search(r"\{[0-9]+(,[0-9]*)?$", pattern[:i])))
            text, used = ch, 1
        out.append(text)
        after_quantifier = quantifier and not (ch == "?" and i and pattern[i - 1] in "*+?}")
        i += used
    return "".join(out)


def is_ecma_regex(text: Any) -> bool:
    """``format: regex``: an ECMA-262 pattern Python can run with ECMA meaning (ecma_pattern)."""
    if not isinstance(text, str):
        return True
    try:
        re.compile(ecma_pattern(text))
    except (ValueError, re.error, RecursionError, OverflowError):
        return False
    return True


#: Keywords whose values are instance data, not subschemas.
DATA_KEYWORDS = ("const", "enum", "default", "examples")
#: Keywords whose values map names (property names, definition names) to subschemas.
NAME_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas", "dependencies")


def ecma_schema(schema: Any) -> tuple[Any, dict[str, str]]:
    """A copy of the schema with every ``pattern`` and ``patternProperties`` key rewritten by
    ecma_pattern, and {rewritten: original} for every pattern (to compile each, and for messages)."""
    originals: dict[str, str] = {}

    def rewrite(pattern: str) -> str:
        try:
            new = ecma_pattern(pattern)
        except NotEcmaPattern as exc:
            raise NotEcmaPattern(f"pattern {pattern[:60]!r} is not ECMA-262: {exc}") from None
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


# ---- the validators' format and keyword checks -------------------------------------------------
def metaschema_checker(cls) -> jsonschema.FormatChecker:
    """The metaschema's format checks less ``regex`` (Python's re): patterns are checked as
    ECMA-262 right after, with a message that says what to change."""
    checker = jsonschema.FormatChecker(())
    checker.checkers = {k: v for k, v in cls.FORMAT_CHECKER.checkers.items() if k != "regex"}
    return checker


def format_checker(cls) -> jsonschema.FormatChecker:
    """The draft's format checker with RFC 5321/6531 e-mail checks (jsonschema's own accepts
    any string holding an "@"), ECMA-262 ``regex`` and RFC 3339 leap seconds."""
    checker = jsonschema.FormatChecker(())
    checker.checkers = dict(cls.FORMAT_CHECKER.checkers)
    for name, international in (("email", False), ("idn-email", True)):
        if name in checker.checkers:
            checker.checks(name)(functools.partial(is_mailbox, international=international))
    if "regex" in checker.checkers:  # jsonschema's compiles with Python's re
        checker.checks("regex")(is_ecma_regex)
    rfc3339 = checker.checkers.get("date-time", (None,))[0]
    for name, prefix in (("date-time", ""), ("time", "1970-01-01T")):
        if name in checker.checkers and rfc3339:  # second 60 where RFC 3339 allows a leap second
            checker.checks(name)(functools.partial(allows_leap_second, rfc3339, prefix=prefix))
    return checker


def exact_multiple_of(validator, divisor, instance, schema):
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


_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?", re.ASCII)


def same_content(value: Any) -> str:
    """A leaf's content whatever its JSON type: 61, 61.0 and "61" alike, true and "true" alike."""
    if isinstance(value, str) and (_JSON_NUMBER.fullmatch(value) or value in ("true", "false", "null")):
        try:
            value = json.loads(value)  # JSON grammar: no NaN; 1e999 is inf
        except ValueError:
            pass
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return str(decimal.Decimal(repr(value)).normalize())
        except decimal.InvalidOperation:
            pass
    return json.dumps(value, sort_keys=True)
