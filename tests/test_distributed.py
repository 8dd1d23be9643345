"""Multi-process sweeps on JAX's distributed runtime, on this CPU: processes on loopback,
each with its own virtual CPU devices, gloo collectives."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _env(devices: int) -> dict:
    flags = f"--xla_force_host_platform_device_count={devices}"
    return {**os.environ, "XLA_FLAGS": flags, "JAX_PLATFORMS": "cpu"}


def jaxlab_processes(command: list[str], processes: int, devices: int, timeout=600):
    """Run `command` (arguments after `jaxlab`) as `processes` processes of one
    distributed run, each with `devices` CPU devices; returns their completed processes."""
    port = _free_port()
    started = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jaxlab._cli",
                *command,
                "--distributed",
                "--coordinator",
                f"127.0.0.1:{port}",
                "--num-processes",
                str(processes),
                "--process-id",
                str(i),
            ],
            env=_env(devices),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(processes)
    ]
    return [(p, *p.communicate(timeout=timeout)) for p in started]


def jaxlab_process(command: list[str], devices: int):
    return subprocess.run(
        [sys.executable, "-m", "jaxlab._cli", *command],
        env=_env(devices),
        capture_output=True,
        text=True,
        timeout=600,
    )


def assert_same_results(a, b):
    for name in ("metrics.json",):
        assert json.loads((a / name).read_text()) == json.loads((b / name).read_text())
    with np.load(a / "history.npz") as x, np.load(b / "history.npz") as y:
        assert x.files == y.files
        for key in x.files:
            np.testing.assert_array_equal(x[key], y[key], err_msg=key)


# `sensing.overparam --quick` at smaller sizes: the test checks equality, not the claim.
SENSING = [
    "run",
    "sensing.overparam",
    "--quick",
    "--seeds",
    "16",
    "--quiet",
    *(
        "--set",
        "n=8",
        "--set",
        "rank=2",
        "--set",
        "k=3",
        "--set",
        "m=120",
        "--set",
        "steps=300",
        "--set",
        "precond_steps=100",
    ),
]


def test_two_processes_give_the_single_process_results(tmp_path):
    """16 seeds sharded over 2 processes x 4 devices equal, bit for bit, one process with
    the same 8 devices (the per-device programs are then the same)."""
    runs = jaxlab_processes([*SENSING, "--out", str(tmp_path / "two")], 2, 4)
    for process, out, err in runs:
        assert process.returncode == 0, err[-2000:]
    assert "results:" in runs[0][1] and "results:" not in runs[1][1]  # process 0 reports
    single = jaxlab_process([*SENSING, "--out", str(tmp_path / "one")], 8)
    assert single.returncode == 0, single.stderr[-2000:]
    assert_same_results(tmp_path / "two", tmp_path / "one")
    assert json.loads((tmp_path / "two" / "metrics.json").read_text())["seeds"] == 16


@pytest.mark.parametrize("process_id", ["0", "1"])
def test_an_unreachable_coordinator_is_a_one_line_error(tmp_path, process_id):
    port = _free_port()
    if process_id == "0":  # the coordinator's port is taken
        blocker = socket.socket()
        blocker.bind(("", port))
        blocker.listen()
    result = jaxlab_process(
        [
            *SENSING,
            "--out",
            str(tmp_path / "out"),
            "--distributed",
            "--coordinator",
            f"127.0.0.1:{port}",
            "--num-processes",
            "2",
            "--process-id",
            process_id,
            "--distributed-timeout",
            "2",
        ],
        devices=1,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "--coordinator" in result.stderr, result.stderr
    assert not (tmp_path / "out").exists()
