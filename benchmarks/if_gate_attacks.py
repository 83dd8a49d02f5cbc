"""Junk replies for InstructionFollowing-v0's response gate: the red team's kinds (round 3)
and the next ones an attacker would try. Used by benchmarks/if_gate_ifbench.py.

Each generator takes a generated task and returns a reply that does not answer it: topic
nouns strung together, one reply for every task, gibberish. None handles the constraints,
so the figure that matters is how often the gate lets them through (``responds``)."""

from __future__ import annotations

import random

from atropos_envs.envs.if_topics import ANSWER_WORDS

ADJECTIVES = "big small old new warm cold quiet bright long short happy early late fresh good".split()
JOINERS = ["with a", "in the", "of our", "to the", "on a", "for the", "from my", "at the", "by a", "and the"]
VERBS = "sees takes finds makes brings holds keeps shows meets leaves".split()
#: Three answer words of every topic: one reply meant to pass every generated task.
EVERY_TOPIC = [w for words in ANSWER_WORDS.values() for w in words[:3]]


def nouns(task: dict) -> list[str]:
    return [w for w in ANSWER_WORDS.get(task["request"], ["thing"]) if w.isalpha()][:8]


def and_the(words: list[str], rng: random.Random, adjectives: bool = False) -> str:
    """'The weekend and the coffee and the friends ...' (the red team's salad), in three
    sentences; with adjectives: 'The big weekend and the warm coffee ...'."""
    phrases = [f"{rng.choice(ADJECTIVES)} {w}" if adjectives else w for w in words]
    return " ".join("The " + " and the ".join(phrases[k:] + phrases[:k]) + "." for k in range(3))


def joiners(words: list[str], rng: random.Random) -> str:
    """Varied function words and adjectives: 'The big weekend with a warm coffee in the ...'."""
    parts = [f"The {rng.choice(ADJECTIVES)} {words[0]}"]
    parts += [f"{rng.choice(JOINERS)} {rng.choice(ADJECTIVES)} {w}" for w in (words[1:] * 3)]
    return " ".join(parts) + "."


def with_verbs(words: list[str], rng: random.Random) -> str:
    """Sentences of random verbs between topic nouns: 'The warm coffee keeps my quiet park.'"""
    pairs = [(words[k % len(words)], words[(k + 1) % len(words)]) for k in range(0, 2 * len(words), 2)]
    return " ".join(
        f"The {rng.choice(ADJECTIVES)} {a} {rng.choice(VERBS)} {rng.choice(['a', 'the', 'our', 'my'])} "
        f"{rng.choice(ADJECTIVES)} {b}."
        for a, b in pairs
    )


def gibberish(words: list[str], rng: random.Random) -> str:
    """Topic nouns, function words and made-up syllables: 'The weekend with a bakoti ...'."""

    def syllables() -> str:
        return "".join(rng.choice("bcdfgklmnprstvz") + rng.choice("aeiou") for _ in range(3))

    return "The " + " ".join(f"{w} {rng.choice(JOINERS)} {syllables()}" for w in words * 2) + "."


GENERATORS = {
    "'and the' salad": lambda task, rng: and_the(nouns(task), rng),
    "'and the' salad with adjectives": lambda task, rng: and_the(nouns(task), rng, adjectives=True),
    "varied joiners and adjectives": lambda task, rng: joiners(nouns(task), rng),
    "random verbs between topic nouns": lambda task, rng: with_verbs(nouns(task), rng),
    "function words + gibberish": lambda task, rng: gibberish(nouns(task), rng),
    "one reply for every task ('and the')": lambda task, rng: and_the(EVERY_TOPIC, random.Random(0)),
    "one reply for every task (verbs)": lambda task, rng: with_verbs(EVERY_TOPIC, random.Random(0)),
}


def gate_pass_rates(env, n: int = 200) -> dict[str, tuple[int, int]]:
    """For each generator: on how many of the first n generated tasks the gate let its reply
    through (``responds``), and how many reached reward >= 0.5."""
    out = {}
    for name, make in GENERATORS.items():
        responds = passes = 0
        for i in range(n):
            task = env.unwrapped.get_task(i)
            env.reset(options={"task_id": str(i)})
            _, reward, *_, info = env.step(make(task, random.Random(i)))
            responds += info["components"]["responds"] == 1.0
            passes += reward >= 0.5
        out[name] = (responds, passes)
    return out
