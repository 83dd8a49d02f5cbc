"""The time-bounded scoring worker: a reply's time limit covers the call, not the worker's start."""

import os
import time

import pytest

from atropos_envs.bounded import BoundedPool, BoundedTimeout
from rewards.math_equivalence import math_equal


def test_cold_start_is_not_charged_to_the_reply():
    # A fresh worker imports sympy and latex2sympy2 (seconds on a loaded machine) before the
    # first check; that start must not turn an honest answer into a timeout.
    pool = BoundedPool(size=1)
    try:
        assert pool.call(math_equal, "\\frac{1}{2}", "0.5", timeout=1.0)[0] is True
    finally:
        pool.close()


def test_an_overrunning_call_is_killed_and_the_next_call_gets_a_fresh_worker():
    pool = BoundedPool(size=1)
    try:
        started = time.monotonic()
        with pytest.raises(BoundedTimeout):
            pool.call(time.sleep, 30, timeout=0.5)
        assert time.monotonic() - started < 20  # killed, not waited for
        assert pool.call(math_equal, "2", "2", timeout=1.0)[0] is True
    finally:
        pool.close()


def test_scoring_code_that_prints_cannot_corrupt_the_reply_pipe():
    pool = BoundedPool(size=1)
    try:
        assert pool.call(print, "x" * 100_000, timeout=30.0) is None  # printed text is not a reply
        assert pool.call(os.write, 1, b"raw bytes on fd 1\n", timeout=30.0) == 18
        assert pool.call(math_equal, "2", "2", timeout=30.0)[0] is True
    finally:
        pool.close()
