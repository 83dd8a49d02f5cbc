"""ReasoningGym-v0: reasoning-gym's own generators and scorers behind our answer format, with
partial and substring credit refused (the generators' data and scorers are not ours)."""

import json

import pytest

from atropos_envs.checker import check_text_env
from atropos_envs.envs.reasoning_gym import ReasoningGymEnv
from atropos_envs.probes import PASS_BAR, play, run_probes
from rewards.reasoning_gym import (
    EVALS_ONLY_ITS_REFERENCE,
    REFUSED,
    adds_to_reference,
    dataset_names,
    describe,
    resolve_config,
    score_entry,
    scorer_runs_code,
)
from tests.envs.helpers import reply

# generators with a single exact answer, from several of reasoning-gym's categories
EXACT = [
    "chain_sum",
    "basic_arithmetic",
    "gcd",
    "lcm",
    "letter_counting",
    "spell_backward",
    "number_sorting",
    "prime_factorization",
    "word_sorting",
]


def answer(text):
    return f"<think>I work it out.</think>\n<answer>{text}</answer>"


def test_tasks_are_deterministic_per_seed_and_id_and_differ_across_seeds():
    a, b = ReasoningGymEnv(seed=1), ReasoningGymEnv(seed=1)
    assert [a.get_task(i) for i in range(5)] == [b.get_task(i) for i in range(5)]
    other = ReasoningGymEnv(seed=2)
    assert [a.get_task(i)["question"] for i in range(5)] != [other.get_task(i)["question"] for i in range(5)]
    task = a.get_task(3)
    json.dumps({k: v for k, v in task.items() if k != "entry"})  # the item itself may hold more
    assert task["dataset"] == "chain_sum" and task["config"]["seed"] == 1


def test_a_weighted_mix_draws_every_generator_roughly_by_weight():
    env = ReasoningGymEnv(datasets={"chain_sum": 1.0, "gcd": 3.0}, configs={"gcd": {"max_value": 50}})
    drawn = [env.get_task(i)["dataset"] for i in range(200)]
    assert 20 < drawn.count("chain_sum") < 80 and drawn.count("gcd") == 200 - drawn.count("chain_sum")
    gcd = next(env.get_task(i) for i in range(20) if env.get_task(i)["dataset"] == "gcd")
    assert gcd["config"]["max_value"] == 50


def test_curriculum_level_sets_the_generator_config_and_configs_win():
    low = ReasoningGymEnv(level=0).get_task(0)["config"]
    high = ReasoningGymEnv(level=3).get_task(0)["config"]
    assert low["max_digits"] < high["max_digits"]
    both = ReasoningGymEnv(level=3, configs={"chain_sum": {"max_digits": 2, "min_digits": 1}})
    assert both.get_task(0)["config"]["max_digits"] == 2


@pytest.mark.parametrize(
    "settings,message",
    [
        ({"dataset": "no_such"}, "unknown reasoning-gym dataset 'no_such'; list them with"),
        ({"configs": {"chain_sum": {"bogus": 1}}}, "chain_sum has no config field"),
        ({"configs": {"gcd": {}}}, "configs names generators not in the mix"),
        ({"level": 99}, "level for 'chain_sum' must be an integer in 0.."),
        ({"datasets": {"chain_sum": 0}}, "weights must be numbers > 0"),
        ({"datasets": {}}, "at least one generator"),
        ({"format_weight": 0.5}, "format_weight"),
        ({"partial_cap": 0.5}, "partial_cap"),
        ({"configs": {"chain_sum": {"min_terms": 5, "max_terms": 2}}}, "bad config for chain_sum"),
    ],
)
def test_bad_settings_name_the_fix(settings, message):
    with pytest.raises(ValueError, match=message):
        ReasoningGymEnv(**settings)


def test_reward_table():
    env = ReasoningGymEnv()
    ref = env.get_task("0")["answer"]
    table = {
        "right": (answer(ref), 1.0, "ok"),
        "right, spaced": (f"<think>ok</think> <answer>  {ref} </answer>", 1.0, "ok"),
        "wrong": (answer(int(ref) + 1), 0.1, "ok"),
        "substring credit": (answer(f"{ref} or {int(ref) + 1}"), 0.1, "ok"),
        "no think": (f"<answer>{ref}</answer>", 0.0, "invalid"),
        "two think blocks": (f"<think>a</think><think>b</think>{answer(ref)}", 0.0, "invalid"),
        "no answer tag": ("<think>a</think> " + ref, 0.0, "invalid"),
        "empty answer": ("<think>a</think><answer></answer>", 0.0, "invalid"),
        "huge": ("<think>" + "a" * 30_000 + f"</think><answer>{ref}</answer>", 0.0, "invalid"),
    }
    for name, (text, want, outcome) in table.items():
        reward, info = reply(env, text)
        assert (reward, info["outcome"]) == (pytest.approx(want), outcome), (name, info["reason"])
        assert set(info["components"]) == {"format", "correct"}


def test_partial_credit_is_refused_by_default_and_capped_below_the_bar_when_asked():
    strict = ReasoningGymEnv(dataset="basic_arithmetic")  # its scorer: the package's default one
    partial = ReasoningGymEnv(dataset="basic_arithmetic", partial_credit=True)
    ref = strict.get_task("0")["answer"]
    text = answer(f"{ref}.")  # the default scorer: len(ref) / len(answer)
    reward, info = reply(strict, text)
    assert reward == pytest.approx(0.1) and "partial credit refused" in info["reason"]
    reward, info = reply(partial, text)
    assert 0 < info["components"]["correct"] < 1 and 0.1 < reward <= 0.4


def test_candidates_around_the_reference_never_get_full_credit():
    assert adds_to_reference("42 or 43", "42") and adds_to_reference("not 42", "42")
    assert not adds_to_reference("[42]", "42") and not adds_to_reference("42", "42")
    assert not adds_to_reference("1, 2, 3", "1, 2, 3") and not adds_to_reference("7", "42")


@pytest.mark.parametrize("name", EXACT)
def test_the_generators_own_answers_score_full_marks_and_probes_stay_below_the_bar(name):
    env = ReasoningGymEnv(dataset=name)
    report = run_probes(env, env_id=f"ReasoningGym[{name}]", num_tasks=4, plugins=[])
    paid = {f"{p.source}:{p.name}": p.best[2][:100] for p in report.exploits}
    assert not paid, paid
    assert report.reference is not None and min(report.reference.rewards) == 1.0


def test_user_task_files_name_items_and_questions_are_regenerated(tmp_path):
    path = tmp_path / "tasks.jsonl"
    records = [
        {"dataset": "gcd", "index": 7, "config": {"max_value": 100}, "seed": 3},
        {"dataset": "chain_sum", "index": 0, "level": 1, "question": "ignored", "answer": "ignored"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in records))
    env = ReasoningGymEnv(tasks=str(path))
    gcd = env.get_task("0")
    assert gcd["dataset"] == "gcd" and gcd["config"]["seed"] == 3
    assert env.get_task("1")["question"] != "ignored"
    assert play(env, "0", env.reference_answer(gcd))[0] == 1.0
    with pytest.raises(Exception, match="needs 'index'"):
        ReasoningGymEnv(tasks=[{"dataset": "gcd"}]).get_task("0")


def test_the_contract_and_the_listing():
    check_text_env(ReasoningGymEnv(datasets={"chain_sum": 1, "letter_counting": 1}))
    names = dataset_names()
    assert len(names) > 90 and "chain_sum" in names and "composite" not in names
    info = describe("chain_sum")
    assert info["category"] == "arithmetic" and "max_terms" in info["config"] and info["levels"] > 1


def test_the_scorer_runs_on_a_rebuilt_entry():
    config = resolve_config("chain_sum", None, None, 0)
    env = ReasoningGymEnv()
    task = env.get_task("2")
    assert score_entry("chain_sum", task["config"], task["entry"], task["answer"]) == {
        "score": 1.0,
        "raised": "",
        "refused": "",
        "control": 0.0,
    }
    assert score_entry("chain_sum", config, env.get_task("0")["entry"], "not a number")["score"] == 0.0


def test_a_scorer_that_raises_on_the_answer_refuses_it_as_invalid():
    env = ReasoningGymEnv(dataset="prime_factorization")
    task = env.get_task("0")
    assert play(env, "0", env.reference_answer(task))[0] == 1.0
    reward, outcome, reason = play(env, "0", [answer("five times seventy")])
    assert (reward, outcome) == (0.0, "invalid") and "could not read the answer" in reason


def test_a_scorer_that_pays_any_answer_is_refused():
    with pytest.raises(ValueError, match="game_of_life_halting scorer gives full credit to a meaningless"):
        ReasoningGymEnv(dataset="game_of_life_halting")
    assert PASS_BAR == 0.5


def test_generators_whose_scorers_run_the_answer_as_code_are_refused(tmp_path):
    """sympy.parse_expr and eval run the reply as Python in the scoring worker (found by attack:
    a reply ran a shell command as the trainer's user and rewired scoring for every env)."""
    runs_code = [name for name in dataset_names() if scorer_runs_code(name)]
    assert "puzzle24" in runs_code and "simple_integration" in runs_code
    unsafe = set(runs_code) - EVALS_ONLY_ITS_REFERENCE
    assert unsafe <= set(REFUSED), "a scorer that runs the answer as code must be refused"
    for name in REFUSED:
        with pytest.raises(ValueError, match=f"{name} is refused"):
            ReasoningGymEnv(dataset=name)
        assert describe(name)["refused"]
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text(json.dumps({"id": "t", "dataset": "puzzle24", "index": 0}) + "\n")
    with pytest.raises(ValueError, match="puzzle24 is refused"):
        ReasoningGymEnv(tasks=str(tasks)).get_task("t")


def test_a_reply_written_as_python_does_not_run(tmp_path):
    marker = tmp_path / "ran"
    env = ReasoningGymEnv(datasets={"chain_sum": 1.0, "basic_arithmetic": 1.0, "number_sorting": 1.0})
    payload = f"__import__('os').system('touch {marker}')"
    for task_id in env.task_ids(6):
        reward, _, _ = play(env, task_id, [answer(payload)])
        assert reward < PASS_BAR
    assert not marker.exists()


def test_credit_the_scorer_gives_to_nan_is_withdrawn_with_a_reason():
    env = ReasoningGymEnv(dataset="complex_arithmetic")
    for tid in env.task_ids(10):
        env.reset(options={"task_id": tid})
        _, reward, _, _, info = env.step("<think>x</think><answer>nan</answer>")
        assert reward < 0.5 and "credit withdrawn: NaN" in info["reason"], info["reason"]
        env.reset(options={"task_id": tid})
        _, reward, _, _, info = env.step(f"<think>x</think><answer>{env.get_task(tid)['answer']}</answer>")
        assert reward == 1.0, info["reason"]
