"""Device and precision resolution, chunked log-probs and mixed precision on the real SmolLM2."""

import copy

import pytest
import torch

from trainers.batch import TokenSample
from trainers.config import TrainConfig
from trainers.logprobs import completion_logprobs, pack
from trainers.machine import cpu_info
from trainers.models import ensure_default_model
from trainers.precision import Precision, resolve_device, resolve_dtype
from trainers.trainer import load_policy

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def model_path():
    return ensure_default_model()


@pytest.fixture(scope="module")
def model(model_path):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32).eval()


@pytest.fixture(scope="module")
def wide(model):
    """The same weights in float64: comparisons where float32 rounding cannot hide a bug."""
    return copy.deepcopy(model).double()


def _samples(model_path, count=3):
    """Real chat-templated prompts of different lengths and replies of different lengths."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    samples = []
    for i in range(count):
        messages = [{"role": "user", "content": "Name a colour." + " Please." * i}]
        prompt = tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=True, return_dict=False
        )
        reply = tokenizer.encode(["Red.", "Blue, like the sky at noon.", "Green"][i % 3])
        samples.append(TokenSample(list(prompt), reply, [1] * len(reply), [0.0] * len(reply), 0.0, "0"))
    return samples


def test_device_resolution_from_inputs():
    assert resolve_device("auto", cuda_available=False) == CPU
    assert resolve_device("auto", cuda_available=True, local_rank=1) == torch.device("cuda", 1)
    assert resolve_device("cpu", cuda_available=True) == CPU
    with pytest.raises(ValueError, match="sees no GPU"):
        resolve_device("cuda", cuda_available=False)
    with pytest.raises(ValueError, match="device must be one of"):
        resolve_device("tpu")


def test_dtype_resolution_from_inputs():
    cuda = torch.device("cuda", 0)
    assert resolve_dtype("auto", cuda, cuda_bf16=True) == torch.bfloat16
    assert resolve_dtype("auto", cuda, cuda_bf16=False) == torch.float32
    assert resolve_dtype("auto", CPU, flags=frozenset({"avx2", "avx512f"})) == torch.float32
    assert resolve_dtype("auto", CPU, flags=frozenset({"avx512f", "avx512_bf16"})) == torch.bfloat16
    assert resolve_dtype("auto", CPU, flags=frozenset({"amx_tile", "amx_bf16"})) == torch.bfloat16
    assert resolve_dtype("float32", cuda, cuda_bf16=True) == torch.float32
    assert resolve_dtype("bfloat16", CPU, flags=frozenset()) == torch.bfloat16  # emulated, but asked for
    with pytest.raises(ValueError, match="no bfloat16 support"):
        resolve_dtype("bfloat16", cuda, cuda_bf16=False)
    with pytest.raises(ValueError, match="dtype must be one of"):
        resolve_dtype("float16", CPU)


def test_cpu_flags_reads_cpuinfo(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu avx512f amx_bf16\n\nprocessor\t: 1\nflags\t\t: fpu\n")
    assert cpu_info(info)[1] == {"fpu", "avx512f", "amx_bf16"}
    assert cpu_info(tmp_path / "missing")[1] == frozenset()


def test_chunked_logprobs_agree_with_the_full_logits(model, wide, model_path):
    """The same numbers as the model's own full logits: to 1e-5 in float64, where rounding
    cannot hide a wrong position or token; in float32 the two matrix-product orders differ
    by float32 rounding of logits of magnitude ~30 (measured 1.7e-5), so 1e-4 there."""
    packed = pack(_samples(model_path), CPU)
    with torch.no_grad():
        for tested, tolerance in ((wide, 1e-5), (model, 1e-4)):
            full, _ = completion_logprobs(tested, packed, chunk_tokens=0)
            for chunk in (1, 5, 4096):
                chunked, _ = completion_logprobs(tested, packed, chunk_tokens=chunk)
                assert chunked.dtype == full.dtype and full.dtype in (torch.float32, torch.float64)
                assert torch.allclose(chunked, full, atol=tolerance, rtol=0), (
                    chunk,
                    (chunked - full).abs().max(),
                )
        reference = wide(input_ids=packed.ids, attention_mask=packed.attention).logits.log_softmax(-1)
        chunked, _ = completion_logprobs(wide, packed, chunk_tokens=2)
    assert int(packed.mask.sum()) == len(packed.targets) > 6
    for row, position, slot, token in zip(packed.rows, packed.positions, packed.slots, packed.targets):
        assert abs(float(chunked[row, slot]) - float(reference[row, position, token])) < 1e-5


def test_chunked_logprobs_give_the_same_gradients(wide, model_path):
    """Recomputing each chunk in the backward pass gives the gradients of the full logits."""
    packed = pack(_samples(model_path, 2), CPU)
    grads = []
    for chunk in (0, 3):
        wide.zero_grad()
        new, states = completion_logprobs(wide, packed, chunk_tokens=chunk, hidden=True)
        ((new * packed.mask).sum() + states.sum() * 1e-3).backward()
        grads.append({n: p.grad.clone() for n, p in wide.named_parameters() if p.grad is not None})
    wide.zero_grad()
    assert grads[0].keys() == grads[1].keys() and len(grads[0]) > 100
    for name in grads[0]:
        assert torch.allclose(grads[0][name], grads[1][name], atol=1e-9, rtol=1e-7), name


def test_float32_autocast_changes_nothing_on_cpu(model, model_path):
    packed = pack(_samples(model_path), CPU)
    with torch.no_grad():
        plain, _ = completion_logprobs(model, packed, chunk_tokens=16)
        with Precision(CPU, torch.float32).autocast():
            placed, _ = completion_logprobs(model, packed, chunk_tokens=16)
        with Precision(CPU, torch.bfloat16).autocast():
            mixed, _ = completion_logprobs(model, packed, chunk_tokens=16)
    assert torch.equal(plain, placed)
    assert mixed.dtype == torch.float32  # log-probs stay float32 under bf16 autocast
    assert not torch.equal(plain, mixed) and torch.allclose(plain, mixed, atol=0.5)  # bf16 products, close


def test_lora_on_a_bf16_base_trains_a_float32_adapter(model_path):
    config = TrainConfig(lora_rank=4, lora_alpha=8, gradient_checkpointing=True)
    policy = load_policy(model_path, config, Precision(CPU, torch.bfloat16))
    trained = {n: p for n, p in policy.named_parameters() if p.requires_grad}
    frozen = [p for p in policy.parameters() if not p.requires_grad]
    assert trained and all("lora_" in n and p.dtype == torch.float32 for n, p in trained.items())
    assert {p.dtype for p in frozen} == {torch.bfloat16}
    policy.train()
    packed = pack(_samples(model_path, 2), CPU)
    with Precision(CPU, torch.bfloat16).autocast():
        new, _ = completion_logprobs(policy, packed, chunk_tokens=4)
    (new * packed.mask).sum().backward()
    assert new.dtype == torch.float32
    assert all(p.grad is not None and p.grad.dtype == torch.float32 for p in trained.values())
    assert any(float(p.grad.abs().sum()) > 0 for p in trained.values())
