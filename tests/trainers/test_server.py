"""The local vLLM server's command line: dtype chosen from the machine, CPU binding."""

import os
from pathlib import Path

import pytest

from tests.trainers.test_machine import EPYC_GENOA, EPYC_MILAN, GRAVITON3, XEON_ICE_LAKE, XEON_SAPPHIRE_RAPIDS
from trainers.machine import cpu_info
from trainers.server import ServerConfig, choose_dtype, omp_threads_bind, server_command


@pytest.mark.parametrize(
    "flags,dtype",
    [
        (XEON_SAPPHIRE_RAPIDS, "bfloat16"),
        (EPYC_GENOA, "bfloat16"),
        (GRAVITON3, "bfloat16"),
        (XEON_ICE_LAKE, "float32"),
        (EPYC_MILAN, "float32"),
        ("", "float32"),
    ],
)
def test_cpu_dtype_is_bf16_only_where_the_cpu_does_it_natively(flags, dtype):
    assert choose_dtype(flags.split()) == dtype


def test_cuda_dtype_is_bf16_or_float16_on_gpus_without_it():
    assert choose_dtype(EPYC_MILAN.split(), cuda=True) == "bfloat16"  # the host CPU does not matter
    assert choose_dtype(EPYC_MILAN.split(), cuda=True, cuda_bf16=False) == "float16"  # V100, T4


def _dtype_arg(cmd: list[str]) -> str:
    return cmd[cmd.index("--dtype") + 1]


def test_server_command_carries_the_chosen_dtype():
    auto = server_command(ServerConfig(model=Path("/m")), 8000, cuda=False)
    assert _dtype_arg(auto) == choose_dtype(cpu_info()[1])
    for dtype in ("float32", "bfloat16", "float16"):
        assert (
            _dtype_arg(server_command(ServerConfig(model=Path("/m"), dtype=dtype), 8000, cuda=False)) == dtype
        )


def test_unknown_dtype_names_the_choices():
    with pytest.raises(ValueError, match="dtype must be one of auto, float32, bfloat16, float16, got 'half'"):
        ServerConfig(model=Path("/m"), dtype="half")


def test_cpu_binding_keeps_vllms_default_unless_asked():
    cores = sorted(os.sched_getaffinity(0))
    assert omp_threads_bind("all") == ",".join(map(str, cores))
    assert ServerConfig(model=Path("/m")).cpu_bind == "auto"  # measured faster: benchmarks/results
    assert omp_threads_bind("auto") == "auto" and omp_threads_bind("0-3") == "0-3"


def test_cli_dtype_option_comes_from_the_server_config():
    from tests.trainers.test_cli import cli

    for command in (["serve"], ["sample"], ["evaluate"]):
        result = cli(*command, "--help")
        assert ServerConfig.help("dtype")[:40] in " ".join(result.stdout.split()), command
    # train has one --dtype: the trainer config's field, which also sets the server it starts
    train_help = " ".join(cli("train", "grpo", "--help").stdout.split())
    assert "also the dtype of the vLLM server that train starts" in train_help
    bad = cli("sample", "--dtype", "half", "--server", "http://127.0.0.1:9")
    assert (
        bad.returncode == 2 and "'half' is not one of 'auto', 'float32', 'bfloat16', 'float16'" in bad.stderr
    )
