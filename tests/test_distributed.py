"""Multi-process sweeps on JAX's distributed runtime, on this CPU: processes on loopback,
each with its own virtual CPU devices, gloo collectives."""

import json
import socket
import sys

import numpy as np
import pytest


JAXLAB = [sys.executable, "-m", "jaxlab._cli"]
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


def assert_same_results(a, b):
    assert json.loads((a / "metrics.json").read_text()) == json.loads(
        (b / "metrics.json").read_text()
    )
    with np.load(a / "history.npz") as x, np.load(b / "history.npz") as y:
        assert x.files == y.files
        for key in x.files:
            np.testing.assert_array_equal(x[key], y[key], err_msg=key)


def test_two_processes_give_the_single_process_results(tmp_path, launch):
    """16 seeds sharded over 2 processes x 4 devices equal, bit for bit, one process with
    the same 8 devices (the per-device programs are then the same)."""
    runs = launch(JAXLAB, [*SENSING, "--out", str(tmp_path / "two")], devices=4, processes=2)
    for code, out, err in runs:
        assert code == 0, err[-2000:]
    assert "results:" in runs[0][1] and "results:" not in runs[1][1]  # process 0 reports
    [(code, out, err)] = launch(JAXLAB, [*SENSING, "--out", str(tmp_path / "one")], devices=8)
    assert code == 0, err[-2000:]
    assert_same_results(tmp_path / "two", tmp_path / "one")
    assert json.loads((tmp_path / "two" / "metrics.json").read_text())["seeds"] == 16


@pytest.mark.parametrize("process_id", ["0", "1"])
def test_an_unreachable_coordinator_is_a_one_line_error(tmp_path, launch, free_port, process_id):
    port = free_port()
    blocker = socket.socket()
    if process_id == "0":  # the coordinator's port is taken
        blocker.bind(("", port))
        blocker.listen()
    args = [
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
    ]
    [(code, out, err)] = launch(JAXLAB, args)
    blocker.close()
    assert code == 2
    assert err.count("\n") == 1 and "--coordinator" in err, err
    assert not (tmp_path / "out").exists()
