import pytest

from trainers.models import ensure_default_model
from trainers.server import ServerConfig, VLLMServer


@pytest.fixture(scope="session")
def vllm_server(tmp_path_factory):
    """One real vLLM server with the embedded SmolLM2 model for the whole session."""
    model = ensure_default_model()
    log = tmp_path_factory.mktemp("vllm") / "server.log"
    with VLLMServer(ServerConfig(model=model, served_name="smollm2", max_num_seqs=32), log_path=log) as server:
        yield server
