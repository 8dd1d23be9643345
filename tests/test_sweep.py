import dataclasses
import json
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxlab
from jaxlab import ConfigError, Experiment


@dataclasses.dataclass(frozen=True)
class Config:
    scale: float = 2.0
    steps: int = 7


TRACES = []


def run(config, key):
    TRACES.append(1)
    x = jax.random.normal(key, (3,))
    return {"x": config.scale * x, "norm": jnp.linalg.norm(x)}


def test_sweep_matches_manual_vmap():
    keys = jax.random.split(jax.random.key(0), 5)
    out = jaxlab.sweep(run, Config(), keys)
    expected = jax.vmap(lambda k: run(Config(), k))(keys)
    np.testing.assert_allclose(out.results["x"], expected["x"])
    assert out.results["x"].shape == (5, 3)


def test_seed_count_and_groups_do_not_change_results():
    full = jaxlab.sweep(run, Config(), 7, key=3).results["x"]
    grouped = jaxlab.sweep(run, Config(), 7, key=3, batch_size=3).results["x"]
    np.testing.assert_allclose(grouped, full)
    # The first seeds of a larger sweep are the same runs.
    keys = jax.random.split(jax.random.key(3), 7)
    np.testing.assert_allclose(full[2], run(Config(), keys[2])["x"])


def test_second_call_does_not_recompile():
    config = Config(scale=5.0)
    first = jaxlab.sweep(run, config, 4, key=1)
    traces = len(TRACES)
    second = jaxlab.sweep(run, config, 4, key=2)
    assert len(TRACES) == traces
    assert second.compile_seconds == 0.0 and first.compile_seconds > 0
    assert second.run_seconds > 0


def test_over_grid_is_vmapped_without_recompiling():
    traces = len(TRACES)
    out = jaxlab.sweep(run, Config(), 3, key=0, over={"scale": [1.0, 2.0, 3.0], "steps": [7, 8]})
    assert len(TRACES) == traces + 1  # six grid points, one trace
    other = jaxlab.sweep(run, Config(), 3, key=0, over={"scale": [4.0, 5.0, 6.0], "steps": [1, 2]})
    assert len(TRACES) == traces + 1 and other.compile_seconds == 0.0
    np.testing.assert_allclose(other.results["x"][0, 0], 4.0 * out.results["x"][0, 0], rtol=1e-6)
    assert out.results["x"].shape == (3, 2, 3, 3)
    assert out.grid["scale"].shape == (3, 2)
    base = jaxlab.sweep(run, Config(scale=1.0), 3, key=0).results["x"]
    np.testing.assert_allclose(out.results["x"][2, 1], 3.0 * base, rtol=1e-6)


def test_bad_seed_count():
    with pytest.raises(ConfigError, match="seeds"):
        jaxlab.sweep(run, Config(), -2)
    with pytest.raises(ConfigError, match="batch_size"):
        jaxlab.sweep(run, Config(), 2, batch_size=0)
    with pytest.raises(ConfigError, match="batch_size: a positive integer, got True"):
        jaxlab.sweep(run, Config(), 2, batch_size=True)


def _init(config, key):
    return {"x": jax.random.normal(key, ()), "t": jnp.zeros((), jnp.int32)}


def _advance(config, state, n_steps):
    # The sweep calls advance in equal chunks: steps past config.steps change nothing.
    def step(state, _):
        active = state["t"] < config.steps
        x = jnp.where(active, state["x"] * config.scale, state["x"])
        return {"x": x, "t": state["t"] + active}, x

    return jax.lax.scan(step, state, None, length=n_steps)


def _finish(config, state):
    return state


CHUNKED = Experiment(
    "test.chunked", "", Config, lambda *a: {}, init=_init, advance=_advance, finish=_finish
)


def test_chunked_matches_one_scan(tmp_path):
    config = Config(scale=1.1, steps=7)
    out = jaxlab.sweep(CHUNKED, config, 3, chunk_size=3)
    history = out.results["history"]
    assert history.shape == (3, 7)
    x0 = jax.vmap(lambda k: _init(config, k)["x"])(jax.random.split(jax.random.key(0), 3))
    np.testing.assert_allclose(history, x0[:, None] * 1.1 ** np.arange(1, 8), rtol=1e-6)
    np.testing.assert_array_equal(out.results["final"]["t"], 7)


# A small float64 experiment (gradient descent on a random least-squares problem per seed),
# defined once as text: the subprocess and this process run the same function.
LEAST_SQUARES = textwrap.dedent(
    """
    import dataclasses
    import jax
    import jax.numpy as jnp

    @dataclasses.dataclass(frozen=True)
    class LeastSquares:
        steps: int = 60
        rate: float = 0.5

    def least_squares(config, key):
        k_a, k_b = jax.random.split(key)
        a = jax.random.normal(k_a, (40, 8)) / jnp.sqrt(40.0)
        b = jax.random.normal(k_b, (40,))

        def step(x, _):
            residual = a @ x - b
            return x - config.rate * a.T @ residual, 0.5 * residual @ residual

        x, losses = jax.lax.scan(step, jnp.zeros(8), None, length=config.steps)
        return {"x": x, "losses": losses}
    """
)
MULTI_DEVICE = LEAST_SQUARES + textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import jaxlab
    jax.config.update("jax_enable_x64", True)
    assert len(jax.devices()) == 8, jax.devices()
    out = jaxlab.sweep(least_squares, LeastSquares(), 5, key=4, batch_size=None)
    grouped = jaxlab.sweep(least_squares, LeastSquares(), 5, key=4, batch_size=2)
    # 8 seeds fill the 8 devices exactly: the seed axis stays sharded, one seed each.
    even = jaxlab.sweep(least_squares, LeastSquares(), 8, key=4).results["losses"]
    assert even.sharding.spec[0] == "seed" and len(even.sharding.device_set) == 8
    one = jaxlab.sweep(least_squares, LeastSquares(), 1, key=4).results["losses"]
    assert one.shape == (1, 60)  # one seed padded to 8 devices
    json.dump({"results": jax.tree.map(lambda x: np.asarray(x).tolist(), out.results),
               "grouped": jax.tree.map(lambda x: np.asarray(x).tolist(), grouped.results)},
              sys.stdout)
    """
)


def test_sharded_over_eight_devices_matches_one_device():
    env = {
        **os.environ,
        "XLA_FLAGS": "--xla_force_host_platform_device_count=8",
        "JAX_PLATFORMS": "cpu",
    }
    proc = subprocess.run(
        [sys.executable, "-c", MULTI_DEVICE], capture_output=True, text=True, env=env, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    sharded = json.loads(proc.stdout)
    namespace = {}
    exec(LEAST_SQUARES, namespace)
    with jax.enable_x64(True):
        single = jaxlab.sweep(namespace["least_squares"], namespace["LeastSquares"](), 5, key=4)
    for name, value in single.results.items():
        assert np.asarray(value).dtype == np.float64
        np.testing.assert_allclose(
            sharded["results"][name], value, rtol=1e-12, atol=1e-14, err_msg=name
        )
        np.testing.assert_allclose(
            sharded["grouped"][name], value, rtol=1e-12, atol=1e-14, err_msg=name
        )
