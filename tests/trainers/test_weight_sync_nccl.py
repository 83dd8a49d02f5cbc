"""``weight_sync: nccl`` on a machine without a GPU: which sync ``auto`` picks, and the
requests that vLLM's own trainer-side NCCL engine (driven by ``NcclSync``) sends to a small
real HTTP server that answers like vLLM's dev-mode routes. The NCCL rendezvous and broadcast
need CUDA, so only they are replaced here (``open_trainer_endpoint`` and the engine's
``_broadcast``, which records what rank 0 would send); the rest is vLLM's code."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
import torch

from trainers.server import ServerError
from trainers.weight_sync import NcclSync, ReloadSync, make_weight_sync

nccl_engine = pytest.importorskip("vllm.distributed.weight_transfer.nccl_engine")


class FakeVLLM(BaseHTTPRequestHandler):
    """Answers like a vLLM server in dev mode; records every POST (path, query, body)."""

    def log_message(self, *args):
        pass

    def _answer(self, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        state = self.server.state
        path = urlparse(self.path).path
        answers = {
            "/v1/models": {"data": [{"id": "smollm2"}]},
            "/is_paused": {"is_paused": False},
            "/get_world_size": {"world_size": state["workers"]},
            "/weight_info": {"weight_version": state["version"]},
            "/server_info": {"vllm_config": {"weight_transfer_config": state["transfer"]}},
        }
        self._answer(answers[path])

    def do_POST(self):
        parsed = urlparse(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        with self.server.lock:
            self.server.posts.append((parsed.path, parse_qs(parsed.query), body))
        if parsed.path == "/update_weight_version":
            self.server.state["version"] = body["new_version"]
        self._answer({"message": "ok"})


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeVLLM)
    httpd.state = {"workers": 1, "version": None, "transfer": {"backend": "nccl"}}
    httpd.posts, httpd.lock = [], threading.Lock()
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()


@pytest.fixture
def sent(monkeypatch):
    """What rank 0 would broadcast, instead of the NCCL group that needs a GPU."""
    broadcasts, destroyed = [], []

    class Endpoint:
        def destroy(self):
            destroyed.append(True)

    def broadcast(self, source, meta):
        broadcasts.append(
            [(name, tensor.dtype, tuple(tensor.shape)) for name, tensor in self._checked_iter(source, meta)]
        )

    monkeypatch.setattr(nccl_engine, "open_trainer_endpoint", lambda info: Endpoint())
    monkeypatch.setattr(nccl_engine.NCCLTrainerWeightTransferEngine, "_broadcast", broadcast)
    return broadcasts, destroyed


def _url(server) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def _model():
    return torch.nn.Sequential(torch.nn.Embedding(16, 4), torch.nn.Linear(4, 16))


def test_auto_picks_nccl_on_a_gpu_and_the_file_reload_on_cpu(server, tmp_path):
    url = _url(server)
    assert isinstance(make_weight_sync("auto", False, [url], [], tmp_path, device="cuda"), NcclSync)
    assert isinstance(make_weight_sync("auto", False, [url], [], tmp_path, device="cpu"), ReloadSync)
    with pytest.raises(ValueError, match="needs the trainer on a GPU"):
        make_weight_sync("nccl", False, [url], [], tmp_path, device="cpu")
    server.state["transfer"] = None  # a dev-mode server without --weight-transfer-config
    assert isinstance(make_weight_sync("auto", False, [url], [], tmp_path, device="cuda"), ReloadSync)
    with pytest.raises(ServerError, match="weight-transfer-config"):
        make_weight_sync("nccl", False, [url], [], tmp_path, device="cuda")


def test_a_push_is_the_weight_transfer_handshake_then_start_update_finish(server, sent, tmp_path):
    broadcasts, _ = sent
    url = _url(server)
    sync = NcclSync([url], tmp_path, dtype=torch.bfloat16, device="cpu")  # cpu: no GPU here
    model = _model()
    assert sync.publish(model, 1) >= 0
    paths = [path for path, _, _ in server.posts]
    assert paths == [
        "/init_weight_transfer_engine",
        "/pause",
        "/start_weight_update",
        "/update_weights",
        "/finish_weight_update",
        "/update_weight_version",
        "/resume",
    ]
    init = server.posts[0][2]["init_info"]
    assert init["master_address"] == "127.0.0.1" and init["rank_offset"] == 1
    assert init["world_size"] == 2  # rank 0 and the server's one worker
    assert server.posts[1][1] == {"mode": ["keep"]}  # requests in flight are frozen, not lost
    update = server.posts[3][2]["update_info"]
    names = list(model.state_dict())
    assert update["names"] == names and update["dtype_names"] == ["bfloat16"] * len(names)
    assert update["shapes"] == [list(t.shape) for t in model.state_dict().values()]
    assert broadcasts == [[(n, torch.bfloat16, tuple(t.shape)) for n, t in model.state_dict().items()]]
    assert server.state["version"] == "v1"

    gathered = {name: tensor * 2 for name, tensor in model.state_dict().items()}  # what FSDP hands rank 0
    sync.publish(model, 2, weights=gathered)
    assert [path for path, _, _ in server.posts].count("/init_weight_transfer_engine") == 1  # one group
    assert len(broadcasts) == 2 and server.state["version"] == "v2"


def test_a_restarted_server_gets_a_new_group_and_the_weights(server, sent, tmp_path):
    broadcasts, destroyed = sent
    sync = NcclSync([_url(server)], tmp_path, dtype=torch.float32, device="cpu")
    model = _model()
    sync.publish(model, 1)
    assert sync.ensure() is False  # up to date
    server.state["version"] = None  # restarted: base weights, no NCCL group
    assert sync.ensure() is True
    assert destroyed == [True]
    assert [path for path, _, _ in server.posts].count("/init_weight_transfer_engine") == 2
    assert len(broadcasts) == 2 and server.state["version"] == "v1"
