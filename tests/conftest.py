"""Shared fixtures.

Tests run in float32, the precision users run, unless they ask for float64: a test whose
claim needs float64 takes the `x64` fixture (or uses `with jax.enable_x64(True):`), and an
experiment whose config declares `x64 = True` enables it for its own run. Nothing here
changes a global JAX setting.
"""

import dataclasses
import os
import re
import socket
import subprocess
from pathlib import Path


# One persistent compilation cache for the whole test session: both xdist workers and every
# process a test starts (examples, the command, distributed runs) read and write it, so a
# second `pytest` on the same machine loads its programs instead of compiling them. Set
# before JAX is imported (subprocesses read the variables); `jax.config` below covers a JAX
# imported earlier by a plugin. `JAXLAB_TEST_COMPILE_CACHE=""` turns it off. Programs that
# hold host callbacks are never cached (JAX refuses them). No size bound: JAX's eviction
# lists the whole folder at every write. A read that races a write is a warning and a compile.
COMPILE_CACHE = os.environ.setdefault(
    "JAXLAB_TEST_COMPILE_CACHE", str(Path(__file__).parents[1] / ".cache" / "jax-tests")
)
if COMPILE_CACHE:
    os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", COMPILE_CACHE)
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")


def _selects(markexpr: str, marker: str) -> bool:
    """Whether `-m markexpr` asks for `marker` (not merely excludes it)."""
    return re.search(rf"(?<!not )\b{marker}\b", markexpr) is not None


# The default tier compiles far more than it computes, so it asks LLVM for optimization
# level 0: the same HLO and fusions, compiled in about half the time (cape and pfgmpp
# model tests: 122 -> 60 CPU-s), results equal up to float32 rounding. The claims and
# slow tiers keep XLA's defaults, the code users run; so does `JAXLAB_TEST_XLA_OPT=default`.
# Set before any backend starts; subprocesses inherit it.
FAST_COMPILE = "--xla_backend_optimization_level=0"


def pytest_configure(config):
    markexpr = config.option.markexpr or ""
    tier_runs = any(_selects(markexpr, marker) for marker in ("claims", "slow"))
    if not tier_runs and os.environ.get("JAXLAB_TEST_XLA_OPT") != "default":
        flags = os.environ.get("XLA_FLAGS", "")
        if FAST_COMPILE not in flags:
            os.environ["XLA_FLAGS"] = f"{flags} {FAST_COMPILE}".strip()


import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jaxtyping import install_import_hook


# jaxtyping's shape annotations (`Float[Array, "batch n"]`) are checked at run time in the
# tests, by beartype, for every jaxlab module imported from here on; users pay nothing.
# Python's numeric tower holds (an `int` is a valid `float`), as for a type checker. The
# hook names its checker by import path, hence the small module registered here.
if os.environ.get("JAXLAB_TEST_TYPECHECK", "1") != "0":
    import sys
    import types

    import beartype

    checker = types.ModuleType("_jaxlab_test_typecheck")
    checker.beartype = beartype.beartype(conf=beartype.BeartypeConf(is_pep484_tower=True))
    sys.modules[checker.__name__] = checker
    install_import_hook("jaxlab", f"{checker.__name__}.beartype")

import jaxlab


# The suite runs in two worker processes (pytest-xdist, `-n 2` in pyproject.toml): on a GPU
# they share its memory, so neither may take most of it up front.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

if COMPILE_CACHE:
    environ = os.environ
    jax.config.update("jax_compilation_cache_dir", environ["JAX_COMPILATION_CACHE_DIR"])
    jax.config.update(
        "jax_persistent_cache_min_compile_time_secs",
        float(environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"]),
    )
    jax.config.update(
        "jax_persistent_cache_min_entry_size_bytes",
        int(environ["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"]),
    )


def pytest_collection_modifyitems(config, items):
    """The examples' file first: it is the longest, and a long file handed to a worker
    last (`--dist loadfile`) would leave the other worker idle at the end."""
    items.sort(key=lambda item: item.path.name != "test_examples.py")


@pytest.fixture(scope="session")
def quick_run(tmp_path_factory):
    """`run(name, seeds=1) -> (summary, folder)`: `jaxlab run NAME --quick --seeds SEEDS`,
    run once per session (per worker) and shared by every test that needs it."""
    runs = {}

    def run(name: str, seeds: int = 1):
        if (name, seeds) not in runs:
            out = tmp_path_factory.mktemp(name) / "run"
            metrics, _ = jaxlab.run_experiment(
                name, seeds=seeds, quick=True, out_dir=out, progress=False
            )
            runs[name, seeds] = metrics["summary"], out
        return runs[name, seeds]

    return run


@pytest.fixture
def as_user():
    """No run-time type checks for one test: bad input meets jaxlab's own one-line
    errors, as it does for a user (who runs without the checker)."""
    import jaxtyping

    jaxtyping.config.update("jaxtyping_disable", True)
    yield
    jaxtyping.config.update("jaxtyping_disable", False)


@pytest.fixture
def x64():
    """float64 for the duration of one test."""
    with jax.enable_x64(True):
        yield


@dataclasses.dataclass(frozen=True)
class GrowthConfig:
    rate: float = 0.9
    steps: int = 50


def _growth_run(config, key):
    x0 = 2.0 * jax.random.uniform(key)

    def step(x, _):
        x = config.rate * x * jnp.abs(x)
        return x, x

    return jax.lax.scan(step, x0, None, length=config.steps)[1]


def _growth_report(config, results, out_dir):
    return {"final": np.asarray(results)[:, -1]}


@pytest.fixture(scope="session")
def growth():
    """`test.growth`, an experiment whose divergent seeds are known in advance:
    $x_{t+1} = r x_t |x_t|$ from $x_0 = 2u$, $u \\sim U[0, 1)$ drawn from the seed's key,
    blows up (to a non-finite value) exactly when $x_0 > 1/r$, and goes to 0 otherwise."""
    return jaxlab.Experiment(
        "test.growth", "x <- r x|x|: diverges iff x0 > 1/r", GrowthConfig, _growth_report,
        run=_growth_run,
    )  # fmt: skip


@pytest.fixture(scope="session")
def growth_blown_up():
    """`blown_up(seeds, rate)`: which seeds of `test.growth` (seed keys split from key 0,
    as the sweep does) start above 1/rate."""

    def blown_up(seeds: int, rate: float) -> np.ndarray:
        keys = jax.random.split(jax.random.key(0), seeds)
        x0 = np.array([2.0 * float(jax.random.uniform(k)) for k in keys])
        return x0 > 1 / rate

    return blown_up


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def free_port():
    """A function returning a TCP port that is free on loopback now."""
    return _free_port


def _launch(program: list[str], args: list[str], devices: int = 1, processes: int = 1):
    """Run `program + args` with `devices` virtual CPU devices, as one process, or as
    `processes` processes of one distributed run on loopback (the `--distributed` options
    added); returns `[(returncode, stdout, stderr)]`, one per process."""
    env = {
        **os.environ,
        "XLA_FLAGS": " ".join(
            [f"--xla_force_host_platform_device_count={devices}"]
            + [flag for flag in os.environ.get("XLA_FLAGS", "").split() if flag == FAST_COMPILE]
        ),
        "JAX_PLATFORMS": "cpu",
    }
    port = _free_port()
    extra = lambda i: (
        [
            "--distributed",
            "--coordinator",
            f"127.0.0.1:{port}",
            "--num-processes",
            str(processes),
            "--process-id",
            str(i),
        ]
        if processes > 1
        else []
    )
    started = [
        subprocess.Popen(
            [*program, *args, *extra(i)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(processes)
    ]
    finished = []
    for process in started:
        out, err = process.communicate(timeout=600)
        finished.append((process.returncode, out, err))
    return finished


@pytest.fixture
def launch():
    """`launch(program, args, devices=1, processes=1)`: see `_launch`."""
    return _launch
