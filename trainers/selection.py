"""Which verified samples of a task are kept: ``--select first|best|shortest|diverse``.

Every mode keeps up to K samples whose paths (the replies, and in multi-turn envs the tool
results between them) are distinct (neither identical nor near-identical after folding case and
white space: difflib similarity below ``near``):
- ``first`` (the default, as before): highest reward first, then sample order;
- ``best``: highest reward, ties to the shortest (fewest completion tokens), then sample order;
- ``shortest``: fewest completion tokens, ties to the higher reward, then sample order;
- ``diverse``: greedy max-min dissimilarity: the best sample first, then each time the one whose
  closest kept sample is least similar to it (ties in ``best`` order).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from trainers.rollout import Rollout

SELECTIONS = ("first", "best", "shortest", "diverse")
SIMILARITY_CHARS = 20_000  # difflib is quadratic: near-duplicates are judged on the first 20k characters


def _matcher(a: str, b: str) -> difflib.SequenceMatcher:
    return difflib.SequenceMatcher(None, a[:SIMILARITY_CHARS], b[:SIMILARITY_CHARS], autojunk=False)


def _similar(a: str, b: str, near: float) -> bool:
    if a == b:
        return True
    matcher = _matcher(a, b)
    return matcher.real_quick_ratio() >= near and matcher.quick_ratio() >= near and matcher.ratio() >= near


def similarity(a: str, b: str) -> float:
    """difflib's ratio of two folded replies (1.0: the same)."""
    return 1.0 if a == b else _matcher(a, b).ratio()


def folded(rollout: Rollout) -> str:
    """The path (every message from the first reply on: one reply in single-turn envs, the calls,
    tool results and answer in multi-turn ones), case and white space folded: what distinctness
    is judged on."""
    messages = rollout.messages
    first = next((i for i, m in enumerate(messages) if m.get("role") == "assistant"), len(messages) - 1)
    return " ".join(" ".join(m.get("content") or "" for m in messages[first:]).split()).lower()


def distinct(rollouts: list[Rollout], limit: int, near: float) -> list[Rollout]:
    """Up to limit rollouts whose paths are neither identical nor near-identical
    (difflib similarity >= near after folding case and white space)."""
    kept: list[str] = []
    chosen = []
    for rollout in rollouts:
        text = folded(rollout)
        if any(_similar(text, other, near) for other in kept):
            continue
        kept.append(text)
        chosen.append(rollout)
        if len(chosen) == limit:
            break
    return chosen


ORDERS: dict[str, Callable[[Rollout], tuple]] = {
    "first": lambda r: (-r.reward, r.sample_index),
    "best": lambda r: (-r.reward, r.completion_tokens, r.sample_index),
    "shortest": lambda r: (r.completion_tokens, -r.reward, r.sample_index),
}


def diverse(rollouts: list[Rollout], limit: int, near: float) -> list[Rollout]:
    """Greedy max-min dissimilarity among distinct replies, starting from the best one."""
    pool = distinct(sorted(rollouts, key=ORDERS["best"]), len(rollouts), near)
    if not pool:
        return []
    texts = {id(r): folded(r) for r in pool}
    chosen = [pool.pop(0)]
    closest = {id(r): similarity(texts[id(r)], texts[id(chosen[0])]) for r in pool}
    while pool and len(chosen) < limit:
        pick = min(pool, key=lambda r: closest[id(r)])  # min() keeps the first (best-ordered) of ties
        pool.remove(pick)
        chosen.append(pick)
        for r in pool:
            closest[id(r)] = max(closest[id(r)], similarity(texts[id(r)], texts[id(pick)]))
    return chosen


def choose(rollouts: list[Rollout], how: str, limit: int, near: float) -> list[Rollout]:
    """Up to ``limit`` distinct rollouts (already verified) in the order of selection ``how``."""
    if how == "diverse":
        return diverse(rollouts, limit, near)
    if how not in ORDERS:
        raise ValueError(f"select must be one of {SELECTIONS}, not {how!r}")
    return distinct(sorted(rollouts, key=ORDERS[how]), limit, near)
