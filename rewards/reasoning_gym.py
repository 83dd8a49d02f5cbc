"""Scoring answers to reasoning-gym tasks (the ``reasoning-gym`` package's own generators
and scorers), as pure functions that rebuild a task from (dataset, config, index).

A task is named by its generator, the generator's resolved config (with ``seed`` and
``size``) and an index. ``score_entry`` runs the generator's ``score_answer`` on the item
(called in a time-bounded worker by ReasoningGym-v0), with a control: the same scorer on a
meaningless answer, which must not get full credit.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import io
import json
import re
import threading
from collections.abc import Iterator
from typing import Any

from rewards import sat

DEFAULT_SIZE = 10_000  # the virtual dataset size; a task's index is drawn below it
_HIDDEN = ("composite",)  # the package's own mixer: ReasoningGym-v0 mixes by weight itself

_RUNS_ANSWER = "its scorer runs the answer as Python (sympy.parse_expr or eval): a reply would run code"
#: Generators that cannot be verified safely or honestly (reasoning-gym 0.1.25), refused by name:
#: ``scorer_runs_code`` finds the first kind in a scorer's source, the rest were found by attack
#: (a scorer that pays a meaningless answer, like ``game_of_life_halting``'s, is refused by ``check_scorer``).
REFUSED = {
    "simple_integration": _RUNS_ANSWER + "; integrate(<the integrand>, x) also passes",
    "intermediate_integration": _RUNS_ANSWER + "; integrate(<the integrand>, x) also passes",
    "polynomial_multiplication": _RUNS_ANSWER,
    "puzzle24": _RUNS_ANSWER + "; 1*2*3*4 passes every task (the given numbers are not checked)",
    "countdown": _RUNS_ANSWER,
    "n_queens": _RUNS_ANSWER,
    "spiral_matrix": _RUNS_ANSWER,
    "binary_matrix": _RUNS_ANSWER,
    "string_insertion": _RUNS_ANSWER,
    "coin_flip": "its scorer gives full credit to any prefix of the reference ('0' passes for 0.21875)",
    "propositional_logic": "its scorer pays a premise copied from the question as a valid conclusion",
}


#: Scorers whose eval is of their own generated reference, never of the answer (read and checked).
EVALS_ONLY_ITS_REFERENCE = frozenset({"number_sorting"})


def _factory() -> Any:
    """``reasoning_gym.factory`` (DATASETS, CURRICULA, create_dataset); pycosat's stand-in
    (``rewards.sat``) is registered first when pycosat is not installed."""
    sat.install()
    try:
        from reasoning_gym import factory
    except ModuleNotFoundError as error:
        if error.name != "reasoning_gym":
            raise
        raise ModuleNotFoundError(
            "ReasoningGym-v0 needs the reasoning-gym package: run scripts/setup, or "
            "pip install --no-deps reasoning-gym==0.1.25 (its other dependencies are atropos-envs')"
        ) from error
    return factory


def check_allowed(name: str) -> None:
    """Refuse a generator of ``REFUSED`` with the reason (a ValueError naming the fix)."""
    if name in REFUSED:
        raise ValueError(f"reasoning-gym's {name} is refused: {REFUSED[name]}; use another generator")


def scorer_runs_code(name: str) -> bool:
    """Whether the generator's ``score_answer`` source calls eval/exec/sympify/parse_expr."""
    import inspect
    import re

    DATASETS = _factory().DATASETS

    source = inspect.getsource(DATASETS[name][0].score_answer)
    return re.search(r"(?<![\w.])(eval|exec)\(|sympify\(|parse_expr\(", source) is not None


def dataset_names() -> list[str]:
    """Every generator the installed reasoning-gym offers (without its composite mixer)."""
    DATASETS = _factory().DATASETS

    return sorted(name for name in DATASETS if name not in _HIDDEN)


def curriculum_names() -> set[str]:
    CURRICULA = _factory().CURRICULA

    return set(CURRICULA)


def describe(name: str) -> dict[str, Any]:
    """One generator: its category, config fields (with defaults) and curriculum levels."""
    factory = _factory()
    CURRICULA = factory.CURRICULA
    DATASETS = factory.DATASETS

    dataset_cls, config_cls = DATASETS[name]
    fields = {
        f.name: (f.default if f.default is not dataclasses.MISSING else None)
        for f in dataclasses.fields(config_cls)
        if f.name not in ("seed", "size")
    }
    levels = None
    if name in CURRICULA:
        levels = _level_count(CURRICULA[name]())
    category = dataset_cls.__module__.split(".")[1] if dataset_cls.__module__.count(".") >= 2 else "other"
    return {
        "name": name,
        "category": category,
        "config": fields,
        "levels": levels,
        "refused": REFUSED.get(name, ""),
    }


def _level_count(curriculum: Any) -> int:
    """How many levels a curriculum has (its longest attribute's; shorter ones stay at their top)."""
    return max((len(a.levels) for a in curriculum.attributes.values()), default=1)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=list))


def resolve_config(name: str, config: dict[str, Any] | None, level: int | None, seed: int) -> dict[str, Any]:
    """The generator's config as a JSON-able dict: the curriculum's values at ``level``
    (when given), then the caller's ``config`` on top, then ``seed`` (and ``size``).
    Raises ValueError naming the fix for an unknown generator, level or config field."""
    factory = _factory()
    CURRICULA = factory.CURRICULA
    DATASETS = factory.DATASETS

    if name not in DATASETS or name in _HIDDEN:
        raise ValueError(
            f"unknown reasoning-gym dataset {name!r}; list them with `atropos-envs reasoning-gym-list`"
        )
    check_allowed(name)
    resolved: dict[str, Any] = {}
    if level is not None:
        if name not in CURRICULA:
            raise ValueError(f"reasoning-gym has no curriculum for {name!r}: drop its level")
        curriculum = CURRICULA[name]()
        top = _level_count(curriculum) - 1
        if not isinstance(level, int) or not 0 <= level <= top:
            raise ValueError(f"level for {name!r} must be an integer in 0..{top}, got {level!r}")
        curriculum.set_global_level(level)
        resolved = dataclasses.asdict(curriculum.generate_configuration())
        resolved.pop("seed", None)
        resolved.pop("size", None)
    resolved.update(config or {})
    resolved["seed"] = seed
    resolved.setdefault("size", DEFAULT_SIZE)
    resolved = _jsonable(resolved)
    _, config_cls = DATASETS[name]
    known = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(resolved) - known)
    if unknown:
        raise ValueError(f"{name} has no config field {unknown}; valid: {sorted(known)}")
    try:
        _dataset(name, json.dumps(resolved, sort_keys=True))
    except Exception as exc:  # the generator's own validation
        raise ValueError(f"bad config for {name}: {type(exc).__name__}: {exc}"[:300]) from None
    check_scorer(name, resolved)
    return resolved


_QUIET = threading.RLock()  # one redirection at a time: interleaved ones would leave stdout lost


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Some generators print (bf's progress dots): never onto stdout, which is the bounded
    worker's reply channel (and a command's JSON output)."""
    with _QUIET, contextlib.redirect_stdout(io.StringIO()):
        yield


@functools.lru_cache(maxsize=64)
def _dataset(name: str, config_json: str) -> Any:
    check_allowed(name)  # every item and every score goes through here
    with _quiet():
        return _factory().create_dataset(name, **json.loads(config_json))


def entry(name: str, config: dict[str, Any], index: int) -> dict[str, Any]:
    """The generator's item ``index`` (question, answer, metadata). Some generators are not
    deterministic across processes (``polynomial_multiplication`` iterates over sets), so an
    item is scored as it was generated, never regenerated in the scoring worker."""
    dataset = _dataset(name, json.dumps(config, sort_keys=True))
    with _quiet():
        return dataset[index]


#: An answer that states nothing: a scorer that gives it full credit cannot verify anything.
CONTROL_ANSWER = "\u2205"


def _score(dataset: Any, answer: str, item: dict[str, Any]) -> float:
    with _quiet():
        value = float(dataset.score_answer(answer, item))
    return min(1.0, max(0.0, value)) if value == value else 0.0  # NaN scores 0


#: NaN or an infinity, as Python's float()/complex() read them ("nan", "-inf", "nanj", "nan+nani").
_NON_FINITE = re.compile(r"(?<![a-z])(nan|inf|infinity)(?![a-hk-z]|[ij][a-z])|\u221e", re.IGNORECASE)


def states_non_finite(text: str) -> bool:
    """Whether ``text`` states NaN or an infinity (a scorer comparing ``abs(a - b)`` with ``<``
    or ``exp(-distance)`` pays NaN: ``complex_arithmetic``'s does)."""
    return _NON_FINITE.search(text) is not None


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-12 * max(1.0, abs(b))  # the values are short decimals: exact in a double


def _sorted_numbers(answer: str, item: dict[str, Any]) -> str | None:
    """number_sorting's scorer accepts each value within 1 of the given one: the sorted list
    must hold the question's own numbers."""
    got, want = (json.loads(text.replace("'", '"')) for text in (answer, item["answer"]))
    if len(got) != len(want) or not all(_close(float(g), float(w)) for g, w in zip(got, want)):
        return "not the question's numbers (the scorer accepts each within 1)"
    return None


def _decimal_result(answer: str, item: dict[str, Any]) -> str | None:
    """decimal_arithmetic's scorer accepts any answer within 10^-places (0.001 off passes).
    The question asks for at most 12 significant digits: a reference with fewer is the exact
    value and must be met exactly; one with 12 was rounded, so half a unit in its last place."""
    from decimal import Decimal

    got, want = Decimal(answer.strip()), Decimal(str(item["answer"]).strip()).normalize()
    slack = Decimal(0)
    if len(want.as_tuple().digits) >= 12:
        slack = Decimal(1).scaleb(want.as_tuple().exponent) / 2
    if abs(got - want) > slack:
        return f"off by {abs(got - want)} ({'exact' if not slack else 'rounded'} reference {want})"
    return None


def _formatted_number(answer: str, item: dict[str, Any]) -> str | None:
    """number_format's scorer accepts anything within 0.01: the answer must be the candidate."""
    if not _close(float(answer.strip().replace(",", "")), float(item["metadata"]["solution"])):
        return "not the candidate's value (the scorer accepts anything within 0.01)"
    return None


#: Generators whose scorers pay near misses, with the stricter check their full credit needs.
STRICTER = {
    "number_sorting": _sorted_numbers,
    "decimal_arithmetic": _decimal_result,
    "number_format": _formatted_number,
}


def _refusal(name: str, answer: str, item: dict[str, Any]) -> str:
    """Why a full-credit answer is still wrong ("" when it stands)."""
    if states_non_finite(answer) and not states_non_finite(str(item.get("answer"))):
        return "NaN or an infinity against a finite reference"
    check = STRICTER.get(name)
    if check is None:
        return ""
    try:
        return check(answer, item) or ""
    except (ValueError, TypeError, ArithmeticError, KeyError):
        return "not a number as the task asks"


def score_entry(name: str, config: dict[str, Any], item: dict[str, Any], answer: str) -> dict[str, Any]:
    """The generator's own ``score_answer`` for ``answer`` on ``item``: ``score`` in [0, 1],
    ``raised`` (why the scorer could not read the answer, else ""), ``refused`` (why credit
    the scorer gave is withdrawn: NaN answers, ``STRICTER`` checks; else "") and ``control``,
    its score for ``CONTROL_ANSWER`` on the same item (1.0 there means the scorer pays anything)."""
    dataset = _dataset(name, json.dumps(config, sort_keys=True))
    refused = ""
    try:
        score, raised = _score(dataset, answer, item), ""
        if score > 0 and (refused := _refusal(name, answer, item)):
            score = 0.0
    except Exception as exc:  # a scorer that cannot parse the answer refuses it
        score, raised = 0.0, f"{type(exc).__name__}: {exc}"[:200]
    try:
        control = _score(dataset, CONTROL_ANSWER, item)
    except Exception:
        control = 0.0
    return {"score": score, "raised": raised, "refused": refused, "control": control}


def check_scorer(name: str, config: dict[str, Any], items: int = 8) -> None:
    """Refuse a generator whose scorer gives full credit to ``CONTROL_ANSWER`` on any of its
    first items (``game_of_life_halting`` compares ``bool(answer)``: every non-empty answer)."""
    dataset = _dataset(name, json.dumps(config, sort_keys=True))
    for index in range(min(items, config.get("size", DEFAULT_SIZE))):
        item = entry(name, config, index)
        try:
            control = _score(dataset, CONTROL_ANSWER, item)
        except Exception:  # a scorer that raises on nonsense refuses it, which is fine
            continue
        if control >= 1.0:
            raise ValueError(
                f"reasoning-gym's {name} scorer gives full credit to a meaningless answer "
                f"({CONTROL_ANSWER!r}) on item {index}: it verifies nothing; use another generator"
            )


def adds_to_reference(answer: str, reference: str) -> bool:
    """Whether ``answer`` is the reference plus other words or numbers (``42 or 43``,
    ``not 42``): a scorer that accepts substrings would pay a list of candidates. Only
    letters and digits count as extra; brackets and punctuation do not, and case and spacing are
    ignored (`YARPSOTUA or x` for `yarpsotua`, `A→C→C 7` for `A → C → C`)."""
    a, r = ("".join(text.casefold().split()) for text in (answer, reference))  # case and spacing aside
    if not r or a == r or r not in a:
        return False
    rest = a.replace(r, " ", 1)
    return any(ch.isalnum() for ch in rest)


def warm_up() -> None:
    """Run in the scoring worker before the first timed call (importing takes ~1.5 s)."""
    with _quiet():
        _factory()
