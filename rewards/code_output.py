"""Pure helpers for code rewards: find the program in a reply, compare program output."""

from __future__ import annotations

import re

_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
FLOAT_TOLERANCE = 1e-6  # absolute or relative, for expected tokens written as decimals
_OPEN = re.compile(r"(?<![`~])(`{3,}|~{3,})([^\n`~]*)\n")  # at the start of a run of fence characters
_PYTHON_TAG = re.compile(r"(?:python(?:3(?:\.\d+)*)?|py3?)(?:[\s{:,;].*)?", re.IGNORECASE)


def code_blocks(text: str) -> list[tuple[str, str]]:
    """The fenced blocks of ``text`` in order, as (info string, body), line endings as LF. Fences
    pair up from the start, so the closing fence of one block never opens the next. A block
    closes at the first line made of its fence (same character, at least as long), else, when
    no such line follows, at the first run of its fence anywhere (```` ```print(1)``` ````)."""
    text = text.replace("\r\n", "\n")
    blocks: list[tuple[str, str]] = []
    position, no_line_close = 0, set()  # fences with no closing line after ``position``: linear time
    while opening := _OPEN.search(text, position):
        fence, info = opening.group(1), opening.group(2).strip()
        char, size = fence[0], len(fence)
        closing = None
        if (char, size) not in no_line_close:
            line = re.compile(rf"^[ \t]*{re.escape(char)}{{{size},}}[ \t]*$", re.MULTILINE)
            closing = line.search(text, opening.end())
            if closing is None:
                no_line_close.add((char, size))
        closing = closing or re.compile(re.escape(fence)).search(text, opening.end())
        if closing is None:
            break
        blocks.append((info, text[opening.end() : closing.start()]))
        position = closing.end()
    return blocks


def extract_code(text: str) -> str | None:
    """The program in a reply: after any reasoning (``</think>``), the last fenced block tagged
    python, py, python3 or python3.x (attributes after the tag allowed, e.g. ``title="a.py"``),
    else the last untagged block; blocks of other languages are skipped. None when there is none."""
    if "</think>" in text:
        text = text.rsplit("</think>", 1)[1]
    blocks = code_blocks(text)
    for wanted in (lambda info: _PYTHON_TAG.fullmatch(info), lambda info: not info):
        chosen = [body for info, body in blocks if wanted(info)]
        if chosen:
            return chosen[-1]
    return None


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
