"""InstructionFollowing-v0: answer a request while obeying verifiable constraints.

Constraints use IFEval's instruction ids and keyword arguments, so IFEval-style task
files (``key``, ``prompt``, ``instruction_id_list``, ``kwargs``) load as they are, and
generated tasks compose 1-k constraints (IFEval's and new ones: every n-th word in
another script, word/character positions, nested lists, nested JSON) onto base prompts.

Reward in [0, 1]: by default the fraction of constraints followed (strict); the strict
all-followed flag and IFEval's loose variants are reported beside it and selectable
with ``reward=``. Per-constraint verdicts are the ``strict:<id>`` components; they are
IFEval's verdicts, unchanged. Constraints earn credit only when the reply responds to
the request (``rewards.if_response``: not empty, not an echo of the prompt or of the
constraint text, words of its own, a plausible length, prose, on topic: see
``_response_rules``): otherwise the reward is 0, the ``responds`` component 0 and the
outcome ``invalid``. Replies over MAX_REPLY_CHARS (40,000) characters are refused before
any check (outcome ``invalid``): the checks are linear or worse in the reply's length.

Residual gameability (no model judge): the gate judges words, not meaning. Fluent prose
in the expected language that carries three topic words (one from if_topics'
answer vocabulary) through two thirds of the reply passes without answering, and so does
a salad of real words written to prose statistics (varied function words, adjectives,
random verbs; rewards.if_prose states what it measured); on task files, the request's
own sentence followed by 10+ unrelated English words passes where the prompt does not
ask for a short answer, a one-word reply passes where it does, and a task file asking
for a non-English answer has no topic or word test.

Task files are checked at load: ids, one kwargs object per id, and every keyword
argument's type and range (``num_words: "100"`` is refused, not scored 0 forever).
"""

from __future__ import annotations

import inspect
import random
import re
from dataclasses import dataclass
from typing import Any

from atropos_envs.bounded import BoundedTimeout, shared_pool
from atropos_envs.core import Score, TextEnv, Trajectory
from atropos_envs.envs.if_constraints import BASE_PROMPTS, generate_constraints
from atropos_envs.envs.if_topics import ANSWER_WORDS, english_words, foreign_words
from atropos_envs.tasks import TaskFieldError, describe, require_list, require_str
from rewards.if_prose import FUNCTION_WORDS, MIN_REAL_SHARE, MIN_REAL_SHARE_FILES
from rewards.if_response import content_stems, kwarg_strings, non_response
from rewards.instruction_following import (
    CHECKS,
    CONSTRAINED_RESPONSES,
    IFEVAL_IDS,
    RELATIONS,
    SCRIPTS,
    check_all,
)

REWARDS = ("strict_fraction", "strict_all", "loose_fraction", "loose_all")


@dataclass
class InstructionFollowingConfig:
    min_constraints: int = 1
    max_constraints: int = 3
    include_new: bool = True  # also draw the atropos: constraints
    reward: str = "strict_fraction"
    score_timeout_s: float = 10.0

    def validate(self) -> None:
        if self.reward not in REWARDS:
            raise ValueError(f"reward must be one of {REWARDS}")
        if not 1 <= self.min_constraints <= self.max_constraints <= 6:
            raise ValueError("need 1 <= min_constraints <= max_constraints <= 6")


SYSTEM_PROMPT = "You are a helpful assistant. Follow every instruction in the request exactly."
_COUNTS = {
    "frequency",
    "let_frequency",
    "num_sentences",
    "num_words",
    "num_placeholders",
    "num_bullets",
    "num_highlights",
    "num_sections",
    "capital_frequency",
    "min_depth",
}
_POSITIVE = {"n", "position", "nth_paragraph", "num_paragraphs"}
_RELATIONS = {"relation", "let_relation", "capital_relation"}
_WORD_LISTS = {"keywords", "forbidden_words"}
_ONE_CHARACTER = {"letter", "character"}


def _kwarg_problem(name: str, value: Any) -> str | None:
    """What is wrong with one keyword argument's value, or None."""
    if name in _COUNTS | _POSITIVE:
        low = 1 if name in _POSITIVE else 0
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= 100_000:
            return f"expected an integer from {low} to 100000, got {describe(value)}"
    elif name in _RELATIONS:
        if value not in RELATIONS:
            return f"expected one of {', '.join(map(repr, RELATIONS))}, got {describe(value)}"
    elif name in _WORD_LISTS:
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(w, str) and w.strip() for w in value)
        ):
            return f"expected a non-empty list of non-empty strings, got {describe(value)}"
    elif not isinstance(value, str) or not value.strip():
        return f"expected a non-empty string, got {describe(value)}"
    elif name in _ONE_CHARACTER and len(value.strip()) != 1:
        return f"expected a single character, got {describe(value)}"
    return None


def _validated_kwargs(index: int, instruction_id: Any, kwargs: Any) -> dict[str, Any]:
    if not isinstance(instruction_id, str) or instruction_id not in CHECKS:
        raise TaskFieldError(
            f"instruction_id_list[{index}]", f"unknown instruction id {describe(instruction_id)}"
        )
    if kwargs is not None and not isinstance(kwargs, dict):
        raise TaskFieldError(
            f"kwargs[{index}]", f"expected an object of keyword arguments, got {describe(kwargs)}"
        )
    kwargs = {
        k: v for k, v in (kwargs or {}).items() if v is not None
    }  # HF IFEval rows carry every key, mostly null
    try:
        inspect.signature(CHECKS[instruction_id]).bind("", **kwargs)
    except TypeError as exc:
        raise TaskFieldError(f"kwargs[{index}]", f"{instruction_id}: {exc}") from None
    for name, value in kwargs.items():
        problem = _kwarg_problem(name, value)
        if (
            problem is None
            and instruction_id == "atropos:nth_word_language"
            and name == "language"
            and value not in SCRIPTS
        ):
            problem = f"expected one of {', '.join(sorted(SCRIPTS))}, got {describe(value)}"
        if problem:
            raise TaskFieldError(f"kwargs[{index}].{name}", f"{instruction_id}: {problem}")
    return kwargs


#: Phrases in a task file's prompt that ask for a short answer (a word limit, a picked
#: option, one word): there the gate wants only a word of the reply's own.
_SHORT_ANSWER = re.compile(
    r"\b(?:one|single|1|two|three)[- ]words?\b|\byes or no\b|"
    r"\b(?:only|just) (?:the|one|a|answer|respond|reply|say|output|return|give|write)\b|"
    r"\b(?:at most|less than|fewer than|no more than|under|maximum of|max\.?|up to|within) \d+ "
    r"(?:words|characters|letters|sentences?)\b|\bin \d+ words\b|\b(?:choose|pick|select)\b|"
    r"\boptions?\b|\bshort answer\b|\b(?:one|single|1) (?:sentence|line|number|letter|emoji)\b|\btitle\b|"
    r"\b(?:rewrite|rephrase|paraphrase|translate|edit|correct|fix|check|copy|reverse)\b|\bwhich (?:one|is)\b|"
    r"\bname (?:a|one|the)\b|\bwhitespace\b|(?:^|\s)\(?[a-dA-D]\)\s|\?",
    re.IGNORECASE,
)
#: A task file's prompt that asks for words in another language or script (a translation,
#: every n-th word in Japanese, a quote in Spanish): there the reply's words are not
#: held to the English word list and may be mostly in another script.
_LANGUAGES = (
    "russian|cyrillic|ukrainian|greek|arabic|hebrew|persian|farsi|urdu|hindi|bengali|tamil|thai|chinese|"
    "mandarin|cantonese|japanese|korean|hangul|kanji|french|german|spanish|italian|portuguese|dutch|swedish|"
    "norwegian|danish|finnish|polish|czech|turkish|vietnamese|indonesian|malay|swahili|latin|esperanto|"
    "romanian|hungarian|tagalog"
)
_OTHER_LANGUAGE_ASKED = re.compile(
    rf"\btranslat|\blanguages?\b|\bscripts?\b|\b(?:in|into|using)\s+(?:{_LANGUAGES})\b|"
    rf"\b(?:{_LANGUAGES})\s+(?:words?|only|text|letters|characters)\b|[^\x00-\x7f]",
    re.IGNORECASE,
)
#: A plausible answer to an open request has at least this many words (fewer under a
#: tighter word or sentence limit).
GENERATED_MIN_WORDS, FILE_MIN_WORDS = 25, 10
#: Replies longer than this are refused before any check runs (outcome invalid): the
#: checks are linear or worse in the reply, and no task here asks for more text.
MAX_REPLY_CHARS = 40_000


def _length_cap(ids: list[str], kwargs_list: list[dict], default: int) -> int:
    """The fewest words a plausible answer has, given the task's own length limits."""
    least = default
    for iid, kwargs in zip(ids, kwargs_list):
        if iid == "length_constraints:number_words" and kwargs.get("relation") == "less than":
            least = min(least, max(1, kwargs["num_words"] // 2))
        if iid == "length_constraints:number_sentences" and kwargs.get("relation") == "less than":
            least = min(least, max(1, 6 * (kwargs["num_sentences"] - 1)))
    return least


def _response_rules(task: dict[str, Any]) -> dict[str, Any]:
    """How the response gate reads this task (rewards.if_response.non_response's rules).

    A generated task is an open writing request the env wrote (``request``): the reply
    needs 25 words (fewer under a tight word or sentence limit), five of its own, English
    prose made of English words (or prose in the response language asked for), three
    distinct topic words spread over it, one at least from the answer vocabulary
    (if_topics.ANSWER_WORDS; in another language, two of the topic's key words in it), and
    no more of the other topics' words than of its own. A task file's request (IFEval
    style) may ask for one word, a picked option or an edit of quoted text: when its
    prompt says so (_SHORT_ANSWER: a limit, options, a question, an edit) the reply needs a
    word and only a copy of the whole prompt is an echo; otherwise 10 words (capped by its
    limits), three of its own and a content word of the request's (copied ones count: the
    answers may quote the request; measured on IFBench's sample outputs), or no topic test
    when the answer must be in another language. English task files get no prose test
    (answers there may be lists, code, CSV) but, from 8 words on, 40 % of the content
    words must be English words (gibberish is not) and most words must be in Latin script,
    unless the prompt names another language or script or asks for a translation."""
    ids, kwargs_list = task["instruction_id_list"], task["kwargs"]
    copies = kwarg_strings(kwargs_list)
    language = next(
        (kw.get("language") for iid, kw in zip(ids, kwargs_list) if iid == "language:response_language"), "en"
    )
    generated = "request" in task  # task files: no prose test (their answers may be lists, code, CSV)
    prose_language = language if generated and language in FUNCTION_WORDS else None
    rules: dict[str, Any] = {
        "required_copies": copies,
        "whole_echo_only": not generated,
        "language": prose_language,
    }
    if "detectable_format:constrained_response" in ids:  # the answer is one of the fixed phrases
        copies += list(CONSTRAINED_RESPONSES)
        return {
            **rules,
            "min_new_words": 0,
            "topical": False,
            "one_of": CONSTRAINED_RESPONSES,
            "language": None,
        }
    if generated:
        request, least = task["request"], _length_cap(ids, kwargs_list, GENERATED_MIN_WORDS)
        rules.update(
            min_words=least,
            min_new_words=min(5, max(1, least // 3)),
            spread=True,
            min_topic=min(3, max(1, least // 4)),
        )
        if language == "en":
            others = [w for other, words in ANSWER_WORDS.items() if other != request for w in words]
            return {
                **rules,
                "answer_words": ANSWER_WORDS.get(request, ()),
                "min_answer_topic": 1,
                "min_real_share": MIN_REAL_SHARE,
                "word_list": english_words(),
                "other_scripts": False,  # every n-th word in another script leaves most in English
                "other_topics": others
                + [w for other in ANSWER_WORDS if other != request for w in content_stems(other)],
            }
        return {
            **rules,
            "topic_words": foreign_words(request, language),
            "min_topic": min(2, rules["min_topic"]),
            "other_topics": [
                w for other in ANSWER_WORDS if other != request for w in foreign_words(other, language)
            ],
        }
    english = language in ("en", None)  # gibberish is refused in English answers (8+ words)
    words_test = english and not _OTHER_LANGUAGE_ASKED.search(task["prompt"])
    if words_test:
        rules.update(min_real_share=MIN_REAL_SHARE_FILES, word_list=english_words(), other_scripts=False)
    if _SHORT_ANSWER.search(task["prompt"]):
        return {**rules, "min_new_words": 0, "topical": False}
    least = _length_cap(ids, kwargs_list, FILE_MIN_WORDS)
    # a reply in another language shares no English word with the request: no topic test there
    return {
        **rules,
        "min_words": least,
        "min_new_words": min(3, least),
        "topic_in_copies": True,
        "topical": english,
    }


class InstructionFollowingEnv(TextEnv):
    task_schema = {
        "prompt": "the request, with its instructions written in",
        "instruction_id_list": "IFEval instruction ids (or atropos: ids)",
        "kwargs": "one dict of keyword arguments per instruction",
    }

    Config = InstructionFollowingConfig
    config: InstructionFollowingConfig

    def generate_task(self, rng: random.Random) -> dict[str, Any]:
        base = rng.choice(BASE_PROMPTS)
        allowed = list(CHECKS) if self.config.include_new else list(IFEVAL_IDS)
        k = rng.randint(self.config.min_constraints, self.config.max_constraints)
        constraints = generate_constraints(rng, base, k, allowed)
        return {
            "prompt": " ".join([base, *(sentence for _, _, sentence in constraints)]),
            "request": base,
            "instruction_id_list": [iid for iid, _, _ in constraints],
            "kwargs": [kwargs for _, kwargs, _ in constraints],
        }

    def task_from_record(self, record: dict[str, Any]) -> dict[str, Any]:
        prompt = require_str(record, "prompt")
        ids = require_list(record, "instruction_id_list")
        kwargs = record.get("kwargs")
        if not isinstance(kwargs, list) or len(kwargs) != len(ids):
            raise TaskFieldError(
                "kwargs",
                f"expected a list with one dict per instruction id ({len(ids)}), got {describe(kwargs)}",
            )
        checked = [_validated_kwargs(n, iid, kw) for n, (iid, kw) in enumerate(zip(ids, kwargs))]
        return {"prompt": prompt, "instruction_id_list": ids, "kwargs": checked}

    def prompt(self, task: dict[str, Any]) -> list[dict[str, str]]:
        return [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": task["prompt"]},
        ]

    def score(self, trajectory: Trajectory) -> Score:
        task, text = trajectory.task, trajectory.last_completion
        ids = task["instruction_id_list"]
        if len(text) > MAX_REPLY_CHARS:
            zero = {**{name: 0.0 for name in REWARDS}, "responds": 0.0}
            return Score(
                0.0,
                zero,
                f"reply longer than {MAX_REPLY_CHARS} characters (no task here asks for that much)",
                outcome="invalid",
            )
        try:
            verdicts = shared_pool().call(
                check_all, ids, task["kwargs"], text, timeout=self.config.score_timeout_s
            )
        except (BoundedTimeout, RuntimeError) as exc:
            zero = {**{name: 0.0 for name in REWARDS}, "responds": 0.0}
            outcome = "timeout" if isinstance(exc, BoundedTimeout) else "error"
            return Score(0.0, zero, f"instruction checks failed: {exc}", outcome=outcome)
        strict, loose = verdicts["strict"], verdicts["loose"]
        components = {
            "strict_fraction": sum(strict) / len(ids),
            "strict_all": float(all(strict)),
            "loose_fraction": sum(loose) / len(ids),
            "loose_all": float(all(loose)),
        }
        for i, (iid, ok) in enumerate(zip(ids, strict)):
            components[f"strict:{iid}" + (f"#{i}" if ids.count(iid) > 1 else "")] = float(ok)
        failed = [iid for iid, ok in zip(ids, strict) if not ok]
        reason = "all instructions followed" if not failed else f"not followed: {', '.join(failed)}"
        rules = _response_rules(task)
        request = task.get("request", task["prompt"])
        why_not = non_response(text, request=request, prompt=task["prompt"], system=SYSTEM_PROMPT, **rules)
        components["responds"] = float(why_not is None)
        if why_not:
            return Score(
                0.0,
                components,
                f"no credit, the reply does not respond: {why_not} ({reason})",
                outcome="invalid",
            )
        return Score(components[self.config.reward], components, reason)

    # ---- probe hooks --------------------------------------------------------------------
    def probes(self, task: dict[str, Any]) -> dict[str, list[str]]:
        """Replies that do not do the task: a dot, the prompt or the constraint text echoed,
        and filler written to satisfy the negative constraints (no commas, short, lowercase,
        no forbidden or capitalised words) without answering."""
        prompt, request = task["prompt"], task.get("request", task["prompt"])
        constraints = prompt[len(request) :].strip() if prompt.startswith(request) else prompt
        filler = "this reply says nothing at all about what was asked and only keeps to the stated limits"
        return {
            "dot": ["."],
            "prompt echoed": [prompt],
            "constraint text echoed": [constraints],
            "prompt echoed with a tail": [prompt + " " + filler],
            "negative constraints only": [filler],
            "negative constraints only, short": ["ok then"],
        }

    def reference_answer(self, task: dict[str, Any]) -> list[str] | None:
        """None: an honest reply to an open writing request under arbitrary constraints is
        not something this env can write (IFEval has no reference responses either)."""
        return None
