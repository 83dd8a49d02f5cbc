"""Pure helpers for code rewards: find the program in a reply, compare program output."""

from __future__ import annotations

import re

_FENCE = re.compile(r"```[ \t]*(?:python3?|py)?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)


def extract_code(text: str) -> str | None:
    """The last fenced (python) code block, after any reasoning; None when there is none."""
    if "</think>" in text:
        text = text.rsplit("</think>", 1)[1]
    blocks = _FENCE.findall(text)
    return blocks[-1] if blocks else None


def outputs_match(got: str, expected: str) -> bool:
    """Token-by-token equality (whitespace and line breaks are not significant)."""
    return got.split() == expected.split()
