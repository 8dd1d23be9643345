"""Multi-process runs on JAX's distributed runtime.

After [`initialize`][jaxlab.distributed.initialize], `jax.devices()` lists the devices of
every process; [`sweep`][jaxlab.sweep] shards its seeds over all of them (one global mesh),
every process runs its own shards, and results are gathered to every process; the
command line lets process 0 alone write the results folder.
"""

import os
import socket
import time

import jax

from ._experiment import ConfigError, require, require_integer


_ENVIRONMENT = {
    "coordinator_address": "JAXLAB_COORDINATOR_ADDRESS",
    "num_processes": "JAXLAB_NUM_PROCESSES",
    "process_id": "JAXLAB_PROCESS_ID",
}


def _setting(name: str, value):
    if value is not None:
        return value
    text = os.environ.get(_ENVIRONMENT[name])
    if text is None or name == "coordinator_address":
        return text
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"{_ENVIRONMENT[name]}: an integer, got {text!r}") from None


def initialize(
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    *,
    timeout_seconds: int = 60,
) -> None:
    """Join this process to a multi-process run (`jax.distributed.initialize`).

    Each setting comes from its argument, else from the environment
    (`JAXLAB_COORDINATOR_ADDRESS` as `host:port`, `JAXLAB_NUM_PROCESSES`,
    `JAXLAB_PROCESS_ID`), else from JAX's own cluster detection (SLURM, Open MPI, Cloud
    TPU pods), which fills whatever is left as None. Process 0 serves as the coordinator.
    CPU devices exchange data through gloo collectives.

    Call it before any other JAX computation. A coordinator that cannot be reached within
    `timeout_seconds` raises a [`ConfigError`][jaxlab.ConfigError] (one line) instead of
    hanging.
    """
    address = _setting("coordinator_address", coordinator_address)
    count = _setting("num_processes", num_processes)
    index = _setting("process_id", process_id)
    require(
        count is None or (isinstance(count, int) and count >= 1),
        "num_processes",
        "a positive integer",
        count,
    )
    require(
        index is None or (isinstance(index, int) and 0 <= index < (count or index + 1)),
        "process_id",
        f"an integer in [0, {count})",
        index,
    )
    require(
        address is None or (isinstance(address, str) and ":" in address),
        "coordinator_address",
        "HOST:PORT",
        address,
    )
    require_integer(timeout_seconds, "timeout_seconds")
    if address is not None:
        _check_coordinator(address, index, timeout_seconds)
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    try:
        jax.distributed.initialize(address, count, index, initialization_timeout=timeout_seconds)
    except Exception as error:  # JAX raises several types: one line for all
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConfigError(
            f"--distributed: could not join the run at coordinator {address!r} within "
            f"{timeout_seconds} s ({reason[:200]})"
        ) from None



def _check_coordinator(address: str, process_id: int | None, timeout_seconds: int) -> None:
    """Process 0 must be able to listen on the port; the others must reach it within the
    timeout. (JAX itself aborts the process when the coordinator cannot be reached.)"""
    host, _, port_text = address.rpartition(":")
    require(port_text.isdigit(), "coordinator_address", "HOST:PORT", address)
    port = int(port_text)
    if process_id == 0:
        with socket.socket() as probe:
            try:
                probe.bind(("", port))
            except OSError as error:
                raise ConfigError(
                    f"--coordinator: process 0 cannot listen on port {port} ({error.strerror})"
                ) from None
        return
    deadline = time.monotonic() + timeout_seconds
    while True:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise ConfigError(
                    f"--coordinator: no coordinator answered at {address} within "
                    f"{timeout_seconds} s"
                ) from None
            time.sleep(0.2)
