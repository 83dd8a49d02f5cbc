"""Combining named reward components into one scalar."""

from __future__ import annotations

from collections.abc import Mapping


def weighted_sum(components: Mapping[str, float], weights: Mapping[str, float]) -> float:
    """Sum of weight * component over the weighted names, divided by the total weight.

    The result stays in [0, 1] when every component does. A weight naming a missing
    component is an error: it would silently score 0."""
    missing = set(weights) - set(components)
    if missing:
        raise KeyError(f"no reward component named {sorted(missing)}; have {sorted(components)}")
    total = sum(weights.values())
    if total <= 0:
        raise ValueError("reward weights must sum to a positive number")
    return sum(w * float(components[name]) for name, w in weights.items()) / total
