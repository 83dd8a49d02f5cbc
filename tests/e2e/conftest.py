import pytest

from trainers.models import ensure_default_model
from trainers.server import ServerConfig, VLLMServer


@pytest.fixture(scope="session")
def vllm_server(tmp_path_factory):
    """One real vLLM server with the embedded SmolLM2 model for the whole session, with
    runtime LoRA loading and the dev-mode weight reload that the trainer tests use."""
    model = ensure_default_model()
    log = tmp_path_factory.mktemp("vllm") / "server.log"
    config = ServerConfig(
        model=model, served_name="smollm2", max_num_seqs=32, enable_lora=True, max_lora_rank=8, dev_mode=True
    )
    with VLLMServer(config, log_path=log) as server:
        yield server


@pytest.fixture(autouse=True)
def _server_left_running(request):
    """A test that stops the session server (the fault tests) and fails before restarting it
    must not fail every later test with it: the server is restarted after such a test."""
    yield
    if "vllm_server" in request.fixturenames:
        server = request.getfixturevalue("vllm_server")
        if not server.alive():
            server.start()
