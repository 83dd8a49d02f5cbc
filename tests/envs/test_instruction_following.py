import json
import time

import gymnasium as gym
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import atropos_envs  # noqa: F401
from atropos_envs import TaskFileError
from atropos_envs.envs.if_constraints import conflicts, contradictory
from tests.envs.helpers import reply


def make(**kwargs):
    return gym.make("atropos_envs/InstructionFollowing-v0", **kwargs).unwrapped


def test_loads_ifeval_files_as_they_are(tmp_path):
    rows = [
        {
            "key": 1000,
            "prompt": "Write a haiku. Do not use commas. Include a title like <<t>>.",
            "instruction_id_list": ["punctuation:no_comma", "detectable_format:title"],
            "kwargs": [{}, {}],
        },
        # the Hugging Face copy of IFEval carries every keyword, mostly null
        {
            "key": 1001,
            "prompt": "Answer in at least 5 words.",
            "instruction_id_list": ["length_constraints:number_words"],
            "kwargs": [{"num_words": 5, "relation": "at least", "keyword": None, "letter": None}],
        },
    ]
    path = tmp_path / "ifeval.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    env = make(tasks=str(path))
    assert env.task_ids() == ["1000", "1001"]
    reward, info = reply(env, "<<Autumn>>\nleaves fall slowly down\nacross the quiet river", "1000")
    assert reward == 1.0 and info["components"]["strict:punctuation:no_comma"] == 1.0
    reward, info = reply(env, "<<Autumn>>\nleaves, falling slowly\nacross the quiet river", "1000")
    assert reward == 0.5 and info["reason"] == "not followed: punctuation:no_comma"
    assert info["components"]["strict_all"] == 0.0
    assert reply(env, "one two three", "1001")[0] == 0.0


@pytest.mark.parametrize(
    "row,message",
    [
        ({"prompt": "p", "instruction_id_list": ["nope:nope"], "kwargs": [{}]}, "unknown instruction id"),
        (
            {"prompt": "p", "instruction_id_list": ["punctuation:no_comma"], "kwargs": []},
            "one dict per instruction",
        ),
        (
            {
                "prompt": "p",
                "instruction_id_list": ["length_constraints:number_words"],
                "kwargs": [{"num_words": 5}],
            },
            "missing a required argument: 'relation'",
        ),
        (
            {"prompt": "p", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [[1]]},
            r"field 'kwargs\[0\]': expected an object of keyword arguments, got \[1\] \(list\)",
        ),
        (
            {
                "prompt": "p",
                "instruction_id_list": ["length_constraints:number_words"],
                "kwargs": [{"num_words": "100", "relation": "less than"}],
            },
            (
                r"field 'kwargs\[0\].num_words': length_constraints:number_words: "
                r"expected an integer from 0 to 100000, got '100'"
            ),
        ),
        (
            {
                "prompt": "p",
                "instruction_id_list": ["length_constraints:number_words"],
                "kwargs": [{"num_words": 100, "relation": "fewer than"}],
            },
            r"field 'kwargs\[0\].relation': .*expected one of",
        ),
        (
            {
                "prompt": "p",
                "instruction_id_list": ["keywords:forbidden_words"],
                "kwargs": [{"forbidden_words": "cat"}],
            },
            r"field 'kwargs\[0\].forbidden_words': .*expected a non-empty list of non-empty strings",
        ),
        (
            {
                "prompt": "p",
                "instruction_id_list": ["keywords:letter_frequency"],
                "kwargs": [{"letter": "ab", "let_frequency": 2, "let_relation": "at least"}],
            },
            "expected a single character",
        ),
        (
            {
                "prompt": "p",
                "instruction_id_list": ["atropos:nth_word_language"],
                "kwargs": [{"n": 2, "language": "xx"}],
            },
            "expected one of ar, el, he, hi, ko, ru",
        ),
        (
            {"prompt": "p", "instruction_id_list": [3], "kwargs": [{}]},
            r"field 'instruction_id_list\[0\]': unknown",
        ),
        (
            {"prompt": "", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]},
            "field 'prompt': expected a non-empty",
        ),
        (
            {"prompt": "p", "instruction_id_list": [], "kwargs": []},
            "field 'instruction_id_list': expected a non-empty list",
        ),
    ],
)
def test_bad_ifeval_rows_are_named(tmp_path, row, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(TaskFileError, match="line 1, .*" + message) as err:
        make(tasks=str(path))
    assert "\n" not in str(err.value)


def test_reward_variants_are_selectable():
    task = {
        "prompt": "Is there a comma in 'no commas here'? Wrap your answer in double quotes.",
        "instruction_id_list": ["punctuation:no_comma", "startend:quotation"],
        "kwargs": [{}, {}],
    }
    text = 'Here you go, friend:\n"no commas here"'
    _, info = reply(make(tasks=[task]), text)
    assert info["components"]["strict_fraction"] == 0.0 and info["components"]["loose_all"] == 1.0
    assert reply(make(tasks=[task], reward="loose_all"), text)[0] == 1.0


def test_generated_tasks_are_deterministic_and_never_contradictory():
    a, b = make(max_constraints=4), make(max_constraints=4)
    for i in range(300):
        task = a.get_task(i)
        assert task == b.get_task(i)
        ids = task["instruction_id_list"]
        assert 1 <= len(ids) <= 4
        assert not any(conflicts(x, y) for n, x in enumerate(ids) for y in ids[n + 1 :]), ids
        assert all(sentence_part in task["prompt"] for sentence_part in ["."])


def test_generator_covers_every_kind_including_new_ones():
    env = make(max_constraints=3)
    seen = {iid for i in range(600) for iid in env.get_task(i)["instruction_id_list"]}
    assert {"atropos:nth_word_language", "atropos:word_at_position", "atropos:nested_bullets"} <= seen
    assert len(seen) == 30
    assert not any(
        i.startswith("atropos:")
        for n in range(200)
        for i in make(include_new=False).get_task(n)["instruction_id_list"]
    )


def test_value_level_contradictions_are_rejected():
    letter = (
        "keywords:letter_frequency",
        {"letter": "r", "let_frequency": 2, "let_relation": "less than"},
        "",
    )
    keyword = ("keywords:existence", {"keywords": ["river", "orbit"]}, "")
    assert contradictory([letter, keyword])
    forbidden = ("keywords:forbidden_words", {"forbidden_words": ["river", "x"]}, "")
    assert contradictory([forbidden, keyword])


def test_a_generated_task_can_be_satisfied():
    task = {
        "prompt": "Where did we go?",
        "instruction_id_list": ["atropos:nth_word_language", "detectable_content:postscript"],
        "kwargs": [{"n": 3, "language": "el"}, {"postscript_marker": "P.S."}],
    }
    assert reply(make(tasks=[task]), "We went καλά home now σήμερα P.S. ναι")[0] == 1.0


def test_hostile_replies_are_bounded():
    env = make(max_constraints=6, min_constraints=6)
    started = time.monotonic()
    for text in ["[" * 50_000, "\n" * 50_000, "<<" * 30_000, " " * 100_000 + "p.s."]:
        for task_id in ("0", "1"):
            reward, info = reply(env, text, task_id)
            assert 0.0 <= reward <= 1.0 and info["reason"]
    assert time.monotonic() - started < 60


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300), st.integers(0, 50))
def test_any_reply_scores_in_range(text, task_id):
    reward, info = reply(make(max_constraints=4), text, str(task_id))
    assert 0.0 <= reward <= 1.0 and info["reason"] and "strict_all" in info["components"]


NEGATIVE_ONLY = {
    "prompt": "Explain why the sky looks blue. Do not use any commas. Answer with less than 60 words.",
    "instruction_id_list": ["punctuation:no_comma", "length_constraints:number_words"],
    "kwargs": [{}, {"num_words": 60, "relation": "less than"}],
}
SYSTEM = "You are a helpful assistant. Follow every instruction in the request exactly."


@pytest.mark.parametrize(
    "text,why",
    [
        (".", "not an answer: no words"),
        ("   \n", "empty reply"),
        (NEGATIVE_ONLY["prompt"], "echoes the request"),
        (NEGATIVE_ONLY["prompt"] + " ok", "echoes the request"),
        (SYSTEM, "echoes the request"),
    ],
)
def test_file_tasks_pay_nothing_for_no_reply_or_an_echo(text, why):
    reward, info = reply(make(tasks=[NEGATIVE_ONLY]), text)
    assert (reward, info["outcome"], info["components"]["responds"]) == (0.0, "invalid", 0.0)
    assert why in info["reason"]
    assert "strict_fraction" in info["components"]  # IFEval's verdicts stay reported


def test_file_tasks_accept_short_picks_and_edits_of_quoted_text():
    env = make(tasks=[NEGATIVE_ONLY])
    honest = "Sunlight scatters off air molecules and blue light scatters most so the sky looks blue to us."
    assert reply(env, honest)[0] == 1.0
    assert reply(env, "Rayleigh scattering")[0] == 1.0  # a short answer is still an answer
    edit = {
        "prompt": "Fix the grammar of this text: 'the cat sit on the mat and it look happy today in the sun'",
        "instruction_id_list": ["punctuation:no_comma"],
        "kwargs": [{}],
    }
    assert reply(make(tasks=[edit]), "The cat sits on the mat and it looks happy today in the sun.")[0] == 1.0
    options = {
        "prompt": "Is water wet? Answer with one of these options only: My answer is yes., My answer is no., "
        "My answer is maybe.",
        "instruction_id_list": ["detectable_format:constrained_response"],
        "kwargs": [{}],
    }
    assert reply(make(tasks=[options]), "My answer is yes.")[0] == 1.0
    reward, info = reply(make(tasks=[options]), options["prompt"])  # every option at once
    assert reward == 0.0 and "3 of the offered answers" in info["reason"]


def generated(constraint_ids, **config):
    env = make(**config)
    task_id = next(str(i) for i in range(1000) if env.get_task(i)["instruction_id_list"] == constraint_ids)
    return env, task_id


@pytest.mark.parametrize(
    "text,why",
    [
        (".", "not an answer"),
        ("Do not use any commas.", "not an answer: 0 words of its own"),
        ("ok sure fine then", "not an answer: 4 words of its own"),
        ("My uncle repaired the old tractor", "too short for the request"),
        (
            "My uncle repaired the old tractor yesterday afternoon before dinner and then he drove it to the "
            "farm shop where the owner gave him a discount on new tyres for the winter season",
            "off topic",
        ),
        (
            (
                "Write a short note to a neighbour about a lost cat. Do not use any commas. My uncle "
                "repaired the old tractor yesterday afternoon before dinner and then went home to rest"
            ),
            "off topic",
        ),
    ],
)
def test_generated_tasks_want_an_answer_on_the_topic(text, why):
    env, task_id = generated(["punctuation:no_comma"])
    assert env.get_task(task_id)["request"] == "Write a short note to a neighbour about a lost cat."
    reward, info = reply(env, text, task_id)
    assert (reward, info["outcome"]) == (0.0, "invalid") and why in info["reason"], info["reason"]


def test_generated_tasks_pay_honest_answers():
    env, task_id = generated(["punctuation:no_comma"])
    note = (
        "Hello neighbour! Our grey kitten Milo went missing on Tuesday evening. He wears a blue collar and "
        "may be hiding in a garden shed. Please call us if you see him and thank you for looking."
    )
    assert reply(env, note, task_id)[0] == 1.0
    env, task_id = generated(["combination:repeat_prompt"])
    request = env.get_task(task_id)["request"]
    assert request == "Write a short story about a lighthouse keeper."
    story = (
        " Every night old Tom climbed the tower and lit the lamp so the fishing boats came home safely. "
        "One winter storm the light failed and he carried a lantern up the stairs until the last ship "
        "reached the shore."
    )
    assert reply(env, request + story, task_id)[0] == 1.0
    assert reply(env, request, task_id)[0] == 0.0


@pytest.mark.parametrize("config", [{}, {"include_new": False}, {"min_constraints": 1, "max_constraints": 1}])
def test_probes_stay_below_the_pass_bar(config):
    env = make(**config)
    for i in range(200):
        task = env.get_task(i)
        assert env.reference_answer(task) is None
        for name, turns in env.probes(task).items():
            reward, info = reply(env, turns[0], str(i))
            assert reward < 0.5, (name, i, task["instruction_id_list"], info["reason"])


# ---- red-team regressions: junk with topic words, other languages, task-file junk, huge replies ------
JUNK = "marble violet tundra copper glacier"
FILLER = (
    "the quarterly report covers inventory levels and shipping schedules for the northern warehouse "
    "and the accounting team will review the numbers next week"
)


def _salad(words: list[str], topic: list[str], every: int = 4) -> str:
    out = []
    for i, word in enumerate(words):
        out += [word] + ([topic[(i // every) % len(topic)]] if topic and i % every == 0 else [])
    return " ".join(out)


def test_generated_tasks_refuse_junk_with_topic_words():
    env = make()
    for i in range(100):
        task = env.get_task(i)
        topic = [w for w in task["request"].lower().rstrip(".").split() if len(w) > 3]
        lorem = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor".split()
        german = "das wetter ist heute sehr kalt und grau im norden und wir bleiben zu hause bei tee"
        for text in (
            f"{topic[-1]} {JUNK}",
            _salad(FILLER.split() * 2, topic),
            _salad(lorem * 3, topic),
            german,
        ):
            reward, info = reply(env, text, str(i))
            assert reward < 0.5, (i, text, info["reason"])


def test_a_response_language_keeps_the_topic_check():
    env, task_id = generated(["language:response_language"], max_constraints=1)
    task = env.get_task(task_id)
    assert task["kwargs"][0]["language"] in ("de", "fr", "es", "it", "pt")
    weather = (
        "das wetter ist heute sehr kalt und grau im norden und wir bleiben heute lieber zu hause bei "
        "einer tasse tee und einem guten buch am warmen ofen"
    )
    reward, info = reply(env, weather, task_id)
    assert reward == 0.0 and ("off topic" in info["reason"] or "not prose" in info["reason"]), info["reason"]


JAPAN = {
    "prompt": "Write a short blog post about a trip to Japan. Do not use any commas in your response.",
    "instruction_id_list": ["punctuation:no_comma"],
    "kwargs": [{}],
}
ROME = {
    "prompt": "Write a 300+ word essay about the history of the Roman Empire. Do not use any commas.",
    "instruction_id_list": ["punctuation:no_comma", "length_constraints:number_words"],
    "kwargs": [{}, {"num_words": 300, "relation": "at least"}],
}


@pytest.mark.parametrize(
    "task,text",
    [
        (JAPAN, "ok"),
        (JAPAN, "Japan"),
        (JAPAN, "x y"),
        (JAPAN, "Write a short blog post about a trip to Japan."),
        (JAPAN, JUNK),
        (JAPAN, "The Eiffel Tower was finished in 1889 and it is the most visited monument in Paris."),
        (JAPAN, "Der Eiffelturm wurde 1889 fertiggestellt und ist heute das meistbesuchte Bauwerk in Paris"),
        (JAPAN, "lorem ipsum dolor sit amet consectetur adipiscing elit " * 20),
        (ROME, "lorem ipsum dolor sit amet consectetur adipiscing elit " * 40),
        (ROME, f"roman {JUNK} " * 60),
        (ROME, "the history of the roman empire essay words about " * 40),
    ],
)
def test_file_tasks_refuse_junk(task, text):
    reward, info = reply(make(tasks=[task]), text)
    assert (reward, info["outcome"]) == (0.0, "invalid"), info["reason"]


def test_file_tasks_pay_an_honest_answer():
    post = (
        "Our trip to Japan began in Tokyo where we ate ramen at midnight and rode the quiet trains. "
        "Then we took the bullet train to Kyoto to see the temples and the bamboo forest."
    )
    assert reply(make(tasks=[JAPAN]), post)[0] == 1.0


def test_huge_replies_are_refused_before_the_checks():
    env, task_id = generated(["punctuation:no_comma"])
    reward, info = reply(env, "P.S. " * 20_000, task_id)  # ran the checks into their 10 s timeout before
    assert (reward, info["outcome"]) == (0.0, "invalid") and "longer than 40000 characters" in info["reason"]


# ---- red-team round 3 (/work/scratch/r3): salads that read as lists, one reply for every task,
# German salads, syllable gibberish on task files. The gate (responds) must refuse them all.
def _topic_nouns(env, task) -> list[str]:
    from atropos_envs.envs.if_topics import ANSWER_WORDS

    return [w for w in ANSWER_WORDS.get(task["request"], ["thing"]) if w.isalpha()][:8]


def _and_the(words: list[str], adjectives: tuple[str, ...] = ("",)) -> str:
    phrases = [f"{adjectives[i % len(adjectives)]} {w}".strip() for i, w in enumerate(words)]
    return ". ".join("The " + " and the ".join(phrases[k:] + phrases[:k]) for k in range(3)) + "."


def _gate_passes(env, texts_of) -> list[str]:
    passed = []
    for i in range(200):
        task = env.get_task(i)
        for text in texts_of(task):
            _, info = reply(env, text, str(i))
            if info["components"]["responds"]:
                passed.append(f"{i}: {text[:60]}")
    return passed


def test_noun_salads_with_topic_words_do_not_respond():
    env = make()
    salads = lambda task: [  # noqa: E731
        _and_the(_topic_nouns(env, task)),
        _and_the(_topic_nouns(env, task), ("big", "warm", "old", "quiet")),
    ]
    assert _gate_passes(env, salads) == []


def test_one_reply_for_every_task_does_not_respond():
    from atropos_envs.envs.if_topics import ANSWER_WORDS

    every_topic = [w for words in ANSWER_WORDS.values() for w in words[:3]]
    salad = _and_the(every_topic)
    verbs = ("keeps", "meets", "brings", "shows", "finds", "leaves")
    prose_shaped = " ".join(
        f"The warm {every_topic[k]} {verbs[k % 6]} my quiet {every_topic[k + 1]}." for k in range(0, 48, 2)
    )
    assert _gate_passes(make(), lambda task: [salad, prose_shaped]) == []


def test_german_salads_do_not_respond_to_a_german_task():
    env = make(max_constraints=1)
    task_id = next(
        str(i)
        for i in range(1000)
        if env.get_task(i)["instruction_id_list"] == ["language:response_language"]
        and env.get_task(i)["kwargs"][0]["language"] == "de"
    )
    from atropos_envs.envs.if_topics import foreign_words

    task = env.get_task(task_id)
    german = [w.capitalize() for w in foreign_words(task["request"], "de")] + ["Tag", "Haus"]
    for words in (german, german[:2] + _topic_nouns(env, task)):  # German nouns; German and English ones
        salad = (
            " ".join(f"{'Der' if i % 2 else 'Die'} {w} und" for i, w in enumerate(words * 3)) + " der Tag."
        )
        reward, info = reply(env, salad, task_id)
        assert (reward, info["components"]["responds"]) == (0.0, 0.0), info["reason"]


def _syllables(n: int, seed: int) -> list[str]:
    import random

    rng = random.Random(seed)
    return ["".join(rng.choice("bcdfgklmnprstvz") + rng.choice("aeiou") for _ in range(3)) for _ in range(n)]


@pytest.mark.parametrize(
    "task",
    [
        JAPAN,
        ROME,
        {
            "prompt": "Write a story about a man who is trying to get his life together. Put the name of the "
            "story in double angular brackets, i.e. <<story of xyz>>.",
            "instruction_id_list": ["detectable_format:title"],
            "kwargs": [{}],
        },
        {
            "prompt": "Write a blog post about the benefits of drinking green tea. Your entire response "
            "should be in English, and in all lowercase letters.",
            "instruction_id_list": ["change_case:english_lowercase"],
            "kwargs": [{}],
        },
        {
            "prompt": "Write a 300+ word summary of the wikipedia page about the French Revolution.",
            "instruction_id_list": ["length_constraints:number_words"],
            "kwargs": [{"relation": "at least", "num_words": 300}],
        },
    ],
)
def test_file_tasks_refuse_a_request_word_with_syllable_gibberish(task):
    env = make(tasks=[task])
    for seed in range(5):
        text = " ".join(["<<roman empire tea life japan>>", *_syllables(320, seed)])
        reward, info = reply(env, text)
        assert reward == 0.0 and "not English words" in info["reason"], info["reason"]


def test_hand_written_honest_replies_still_respond():
    from pathlib import Path

    data = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "if_honest_generated.json"
    env = make()
    for task_id, text in json.loads(data.read_text()).items():
        _, info = reply(env, text, task_id)
        assert info["components"]["responds"] == 1.0, (task_id, info["reason"])


def test_file_tasks_refuse_another_script_unless_the_prompt_asks_for_one():
    junk = "roman вот это мой ответ про всё очень хорошо так и было всегда здесь empire"
    reward, info = reply(make(tasks=[JAPAN]), junk)
    assert reward == 0.0 and "another script" in info["reason"], info["reason"]
    translate = {
        "prompt": "Translate this short note about the Roman Empire into Russian. Do not use any commas.",
        "instruction_id_list": ["punctuation:no_comma"],
        "kwargs": [{}],
    }
    russian = "Римская империя была одним из самых больших государств древнего мира и правила много веков"
    assert reply(make(tasks=[translate]), russian)[0] == 1.0
    spanish = {
        **translate,
        "prompt": "Write a short note about the Roman Empire in Spanish. Do not use any commas.",
    }
    note = "El imperio romano fue uno de los estados más grandes del mundo antiguo y duró muchos siglos"
    assert reply(make(tasks=[spanish]), note)[0] == 1.0
