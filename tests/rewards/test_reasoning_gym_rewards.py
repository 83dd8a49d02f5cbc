"""rewards.reasoning_gym: generator configs, and scoring that survives noisy generators in the
bounded worker."""

import pytest

from atropos_envs.bounded import BoundedPool
from rewards import reasoning_gym as rg


def noisy_score(name, config, item, answer):
    """A generator that prints while scoring."""
    with rg._quiet():
        print("progress....\x00\x00\x00\x00\x00\x00\xff\xff garbage", flush=True)
    return rg.score_entry(name, config, item, answer)["score"]


def test_printing_in_the_worker_does_not_corrupt_its_replies():
    pool = BoundedPool(size=1)
    try:
        config = rg.resolve_config("chain_sum", None, None, 0)
        item = rg.entry("chain_sum", config, 4)
        assert pool.call(noisy_score, "chain_sum", config, item, item["answer"], timeout=60) == 1.0
        assert pool.call(noisy_score, "chain_sum", config, item, "seven", timeout=60) == 0.0
    finally:
        pool.close()


def test_configs_resolve_with_levels_and_overrides():
    base = rg.resolve_config("chain_sum", None, None, 7)
    assert base == {"seed": 7, "size": rg.DEFAULT_SIZE}
    leveled = rg.resolve_config("chain_sum", {"max_terms": 3}, 4, 7)
    assert leveled["max_terms"] == 3 and leveled["max_digits"] > 1
    with pytest.raises(ValueError, match="no curriculum"):
        rg.resolve_config(next(n for n in rg.dataset_names() if n not in rg.curriculum_names()), None, 1, 0)
    with pytest.raises(ValueError, match="unknown reasoning-gym dataset 'composite'"):
        rg.resolve_config("composite", None, None, 0)
