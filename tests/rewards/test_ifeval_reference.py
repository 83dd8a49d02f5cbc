"""Differential test: our instruction checks give the reference IFEval verdicts.

The reference checkers come from lm-eval's published wheel (see
benchmarks/reference_ifeval.py); benchmarks/ifeval_agreement.py runs the larger version."""

import random

from atropos_envs.envs.instruction_following import InstructionFollowingEnv
from benchmarks.ifeval_agreement import random_response
from benchmarks.reference_ifeval import load_reference, reference_verdicts
from rewards.instruction_following import IFEVAL_IDS, check_all


def test_verdicts_match_the_reference_on_generated_tasks_and_responses():
    registry = load_reference()
    assert set(IFEVAL_IDS) == set(registry)
    env = InstructionFollowingEnv(include_new=False, max_constraints=3)
    rng = random.Random(123)
    seen = set()
    for i in range(1500):
        task = env.get_task(i)
        response = random_response(rng, task["prompt"])
        ours = check_all(task["instruction_id_list"], task["kwargs"], response)
        ref = reference_verdicts(registry, task["instruction_id_list"], task["kwargs"], response)
        assert ours == ref, (task, response)
        seen.update(task["instruction_id_list"])
    assert seen == set(IFEVAL_IDS)
