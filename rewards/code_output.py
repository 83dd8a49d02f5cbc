"""Pure helpers for code rewards: find the program in a reply, compare program output."""

from __future__ import annotations

import re

_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
FLOAT_TOLERANCE = 1e-6  # absolute or relative, for expected tokens written as decimals
_FENCE = re.compile(r"```[ \t]*(?:python3?|py)?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)


def extract_code(text: str) -> str | None:
    """The last fenced (python) code block, after any reasoning; None when there is none."""
    if "</think>" in text:
        text = text.rsplit("</think>", 1)[1]
    blocks = _FENCE.findall(text)
    return blocks[-1] if blocks else None


def tokens_match(got: str, expected: str) -> bool:
    """Equal tokens; when ``expected`` is a decimal number (it has a '.' or an exponent), a number
    within FLOAT_TOLERANCE of it, absolute or relative, also matches. An integer stays exact
    ("6.0" does not match "6"); nan, inf and forms such as "1_0" never match a decimal."""
    if got == expected:
        return True
    if not (_NUMBER.fullmatch(expected) and _NUMBER.fullmatch(got)) or not any(c in expected for c in ".eE"):
        return False
    want, have = float(expected), float(got)
    return abs(have - want) <= FLOAT_TOLERANCE * max(1.0, abs(want))


def outputs_match(got: str, expected: str) -> bool:
    """Token-by-token equality (whitespace and line breaks are not significant), decimal numbers
    within FLOAT_TOLERANCE (see tokens_match)."""
    got_tokens, expected_tokens = got.split(), expected.split()
    return len(got_tokens) == len(expected_tokens) and all(map(tokens_match, got_tokens, expected_tokens))
