"""Gymnasium spaces for conversations (observations) and free text (actions).

gymnasium's ``Text`` space only admits a fixed character set, which real model output
never respects, so these two spaces accept any Unicode."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium.spaces import Space

ROLES = ("system", "user", "assistant", "tool")

# Samples mix plain text with the markup envs parse, so check_env exercises real paths.
_FRAGMENTS = (
    "<think>",
    "</think>",
    "\\boxed{",
    "}",
    "{",
    "<answer>",
    "</answer>",
    "<tool_call>",
    "</tool_call>",
    '{"answer": 1}',
    "42",
    "\\frac{1}{2}",
    " ",
    "\n",
    "é",
    "漢",
    "\x00",
    "```",
    "hello",
)


class AssistantText(Space[str]):
    """Any string the assistant might produce, up to ``max_length`` characters when sampling."""

    def __init__(self, max_length: int = 256, seed: int | np.random.Generator | None = None):
        super().__init__(shape=None, dtype=None, seed=seed)
        self.max_length = max_length

    def sample(self, mask: Any = None, probability: Any = None) -> str:
        n = int(self.np_random.integers(0, 12))
        picks = self.np_random.integers(0, len(_FRAGMENTS), size=n)
        return "".join(_FRAGMENTS[i] for i in picks)[: self.max_length]

    def contains(self, x: Any) -> bool:
        return isinstance(x, str)

    @property
    def is_np_flattenable(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "AssistantText()"

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, AssistantText)


class Conversation(Space[list]):
    """A list of OpenAI-style chat messages: dicts with a ``role`` and a string ``content``."""

    def __init__(self, seed: int | np.random.Generator | None = None):
        super().__init__(shape=None, dtype=None, seed=seed)

    def sample(self, mask: Any = None, probability: Any = None) -> list[dict[str, str]]:
        return [{"role": "user", "content": "What is 1 + 1?"}]

    def contains(self, x: Any) -> bool:
        return isinstance(x, list) and all(
            isinstance(m, dict) and m.get("role") in ROLES and isinstance(m.get("content"), str) for m in x
        )

    @property
    def is_np_flattenable(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "Conversation()"

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Conversation)
