"""Format-v0: think inside exactly one <think> block, then give the answer in a set format.

As in the Hermes 4 format environment, the reward checks the shape of the response and,
separately, whether the final answer is right. Correctness is mathematical equivalence
(``\\frac{1}{2}`` = ``0.5``; see ``rewards.math_equivalence`` for exactly what counts),
decided in a time-bounded worker. The task's question goes along: a word after the number
is dropped only when it is a unit or a plain noun of the question (``12 apples``), a unit must
be the one the question asks for (``12 cm`` does not answer "in meters"), and when the
question asks for a percentage (or the reference is one), answers count in percent (``9%`` =
``9``).

Reward: ``format_weight * format + (1 - format_weight) * correct``. A reply with the right
shape (one non-empty ``<think>`` block, then exactly one non-empty answer in the task's
format) and a wrong answer earns ``format_weight`` (0.2 by default): enough for a sampled
group to learn the format before it learns the maths, never enough to pass. Settings above
0.49 are refused, so a format-only reply always stays below the pass bar of 0.5. A reply
whose answer cannot be extracted scores 0 (outcome ``invalid``); one whose equivalence
check runs out of time keeps the format share, scores 0 for correctness (``timeout``).
When the reference is a written-out number, the answer must be one too
(``plain_numeric_answers``): ``\\boxed{16+9}`` restates the question and is not
``\\boxed{25}``.

Task schema: ``question`` (str), ``answer`` (str, LaTeX or plain), ``answer_format``
(``boxed`` | ``answer_tag`` | ``json``). User files in the common math-dataset shapes load
as they are: ``question``/``problem``/``prompt`` + ``answer``, or a MATH-style
``solution`` with a ``\\boxed{}``, or a GSM8K-style answer ending ``#### 42``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from atropos_envs.bounded import BoundedTimeout, shared_pool
from atropos_envs.core import Score, TextEnv, Trajectory
from atropos_envs.envs.math_probes import format_probes, render_answer
from atropos_envs.envs.math_tasks import generate_math_question, parse_latex_number
from rewards import (
    ANSWER_FORMATS,
    extract_answer,
    find_braced,
    format_instruction,
    is_plain_number,
    math_equal,
    split_think,
)
from rewards.composite import weighted_sum

MAX_FORMAT_WEIGHT = 0.49  # a format-only reply must stay below the pass bar (0.5)

_EXAMPLE_ANSWER = {"boxed": "\\boxed{6}", "answer_tag": "<answer>6</answer>", "json": '{"answer": 6}'}


@dataclass
class FormatConfig:
    answer_format: str = "boxed"  # or answer_tag, json, or "mixed" (a format drawn per task)
    difficulty: int = 1  # 1: one operation on small numbers; 2: fractions, equations; 3: multi-step
    format_weight: float = 0.2  # share of the reward for the format alone (at most MAX_FORMAT_WEIGHT)
    score_timeout_s: float = 5.0
    plain_numeric_answers: bool = True  # a numeric reference needs a written-out number, not 16+9

    def validate(self) -> None:
        if self.answer_format not in (*ANSWER_FORMATS, "mixed"):
            raise ValueError(f"answer_format must be one of {ANSWER_FORMATS} or 'mixed'")
        if not 0.0 <= self.format_weight <= MAX_FORMAT_WEIGHT:
            raise ValueError(
                f"format_weight must be between 0 and {MAX_FORMAT_WEIGHT} (a format-only reply must "
                "stay below the pass bar 0.5)"
            )


class FormatEnv(TextEnv):
    """Reward in [0, 1]: ``format_weight`` * format + (1 - format_weight) * correct."""

    task_schema = {
        "question": "the problem statement",
        "answer": "the reference final answer (LaTeX or plain)",
        "answer_format": f"one of {ANSWER_FORMATS}",
    }

    Config = FormatConfig
    config: FormatConfig

    def _pick_format(self, rng: random.Random) -> str:
        fmt = self.config.answer_format
        return rng.choice(ANSWER_FORMATS) if fmt == "mixed" else fmt

    def generate_task(self, rng: random.Random) -> dict[str, Any]:
        question, answer = generate_math_question(rng, self.config.difficulty)
        return {"question": question, "answer": answer, "answer_format": self._pick_format(rng)}

    def task_from_record(self, record: dict[str, Any]) -> dict[str, Any]:
        question = next((record[k] for k in ("question", "problem", "prompt") if record.get(k)), None)
        if not isinstance(question, str):
            raise ValueError("needs a 'question', 'problem' or 'prompt' string")
        answer = record.get("answer")
        if isinstance(answer, str) and "####" in answer:  # GSM8K: reasoning, then '#### 42'
            answer = answer.rsplit("####", 1)[1]
        if answer is None and isinstance(record.get("solution"), str):  # MATH: the last \boxed{}
            boxes, _ = find_braced(record["solution"], "\\boxed")
            answer = boxes[-1] if boxes else None
        if answer is None or isinstance(answer, (dict, list)):
            raise ValueError("needs an 'answer' (or a 'solution' containing \\boxed{...})")
        fmt = record.get("answer_format") or self._pick_format(random.Random(question))
        if fmt not in ANSWER_FORMATS:
            raise ValueError(f"answer_format must be one of {ANSWER_FORMATS}")
        return {"question": question, "answer": str(answer).strip(), "answer_format": fmt}

    def prompt(self, task: dict[str, Any]) -> list[dict[str, str]]:
        fmt = task["answer_format"]
        system = (
            "Think step by step inside <think> and </think> tags. "
            f"After </think>, {format_instruction(fmt)}.\n\n"
            f"Example:\nQuestion: What is 3 + 3?\nAnswer: <think>3 + 3 = 6</think>\n{_EXAMPLE_ANSWER[fmt]}"
        )
        return [{"role": "system", "content": system}, {"role": "user", "content": task["question"]}]

    def score(self, trajectory: Trajectory) -> Score:
        task, text = trajectory.task, trajectory.last_completion
        split = split_think(text)
        if not split.ok:
            return Score(0.0, {"format": 0.0, "correct": 0.0}, split.reason, outcome="invalid")
        answer, why = extract_answer(split.answer_part, task["answer_format"])
        if answer is None:
            return Score(0.0, {"format": 0.0, "correct": 0.0}, why, outcome="invalid")
        outcome = "ok"
        question = task["question"]
        if (
            self.config.plain_numeric_answers
            and is_plain_number(task["answer"], question)
            and not is_plain_number(answer, question)
        ):
            correct, why = False, "the reference is a number: write the value, not an expression for it"
        else:
            try:  # a worker's cold start (sympy, the parser) is not charged to the reply
                correct, why = shared_pool().call(
                    math_equal, answer, task["answer"], question, timeout=self.config.score_timeout_s
                )
            except BoundedTimeout as exc:
                correct, why, outcome = False, f"equivalence check {exc}", "timeout"
            except RuntimeError as exc:
                correct, why, outcome = False, f"equivalence check failed: {exc}", "error"
        components = {"format": 1.0, "correct": float(correct)}
        weights = {"format": self.config.format_weight, "correct": 1.0 - self.config.format_weight}
        verdict = "correct" if correct else "wrong"
        reason = f"{verdict}: {answer[:200]!r} vs {task['answer']!r} ({why})"
        return Score(weighted_sum(components, weights), components, reason, outcome=outcome)

    # ---- for the exploit probes ------------------------------------------------------------
    def probes(self, task: dict[str, Any]) -> dict[str, list[str]]:
        """Replies that try to get paid without solving: NaN and infinities, candidate lists,
        intervals around the answer, near misses, ``\\text{}`` junk, a format-only shell and
        the question echoed as the answer. Each keeps the format, so earns at most the format share."""
        return {
            name: [reply] for name, reply in format_probes(task, parse_latex_number(task["answer"])).items()
        }

    def reference_answer(self, task: dict[str, Any]) -> list[str] | None:
        answer = render_answer(task["answer"], task["answer_format"])
        return [f"<think>I work it out step by step.</think>\n{answer}"]
