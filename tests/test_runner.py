import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np

import jaxlab
from jaxlab import Experiment


@dataclasses.dataclass(frozen=True)
class GrowthConfig:
    rate: float = 0.9
    steps: int = 50


def run(config, key):
    """x_{t+1} = r x_t |x_t|: blows up for seeds whose |x_0| > 1/r, settles otherwise."""
    x0 = 2.0 * jax.random.uniform(key)

    def step(x, _):
        x = config.rate * x * jnp.abs(x)
        return x, x

    return jax.lax.scan(step, x0, None, length=config.steps)[1]


def report(config, results, out_dir):
    return {"final": np.asarray(results)[:, -1]}


GROWTH = Experiment("test.growth", "", GrowthConfig, report, run=run)


def test_diverged_seeds_are_flagged_and_the_rest_reported(tmp_path):
    metrics, out_dir = jaxlab.run_experiment(
        GROWTH, seeds=8, out_dir=tmp_path / "g", progress=False
    )
    entry = metrics["summary"]["final"]
    keys = jax.random.split(jax.random.key(0), 8)
    x0 = np.array([2.0 * float(jax.random.uniform(k)) for k in keys])
    blown = x0 > 1 / 0.9
    assert blown.any() and (~blown).any()
    assert entry["diverged"] == list(np.flatnonzero(blown))
    assert entry["max"] < 1e-10  # the others converged to 0
    assert json.loads((out_dir / "metrics.json").read_text())["summary"]["final"] == entry
