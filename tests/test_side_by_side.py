import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxlab


@dataclasses.dataclass(frozen=True)
class Config:
    steps: int = 300
    learning_rate: float = 0.05


TRUE_WEIGHT = jnp.array([1.0, -2.0])
TRACES = {"loss": 0}


def batches(config, data):
    def sample(key):
        x = jax.random.normal(key, (32, 2))
        return x, x @ TRUE_WEIGHT + 0.5

    return sample


def mse(model, batch, key):
    TRACES["loss"] += 1
    x, y = batch
    error = jnp.mean((jax.vmap(model)(x)[:, 0] - y) ** 2)
    return error, {"mse": error, "batch_sum": jnp.sum(x)}


def diverging(model, batch, key):
    return jnp.log(-jnp.sum(model.weight**2)), {"mse": jnp.nan, "batch_sum": jnp.sum(batch[0])}


def models(config):
    def evaluate(model, key, data):
        return {"weight_error": jnp.max(jnp.abs(model.weight[0] - TRUE_WEIGHT)), "count": 3}

    linear = lambda key: eqx.nn.Linear(2, 1, key=key)
    adam = optax.adam(config.learning_rate)
    return {
        "linear": jaxlab.ModelSpec(linear, mse, adam, evaluate),
        "mlp": jaxlab.ModelSpec(lambda key: eqx.nn.MLP(2, 1, 16, 1, key=key), mse, adam),
        "broken": jaxlab.ModelSpec(linear, diverging, adam, evaluate),
    }


TRAINING = jaxlab.Training(models, batches=batches)
EXPERIMENT = TRAINING.experiment("test.side_by_side", "", Config, lambda *a: {})


def test_models_train_side_by_side_with_their_own_divergence_flags():
    out = jaxlab.sweep(EXPERIMENT, Config(), 3, chunk_size=200)
    final, history = out.results["final"], out.results["history"]
    # The linear model reaches the true weights; the broken one is flagged, alone.
    assert np.all(np.asarray(final["linear/weight_error"]) < 1e-3)
    np.testing.assert_array_equal(final["linear/diverged"], False)
    np.testing.assert_array_equal(final["mlp/diverged"], False)
    np.testing.assert_array_equal(final["broken/diverged"], True)
    assert np.all(np.isnan(final["broken/weight_error"]))
    np.testing.assert_array_equal(final["broken/count"], 3)  # integers are kept
    # Per-model histories of every step; the MLP's loss falls by orders of magnitude.
    loss, aux = history["mlp"]
    assert loss.shape == (3, 300) and aux["mse"].shape == (3, 300)
    assert np.all(np.asarray(loss[:, -10:]).mean(1) < 1e-3 * np.asarray(loss[:, :10]).mean(1))
    assert np.all(np.isnan(history["broken"][0]))
    # Every model sees the same batch at the same step.
    np.testing.assert_array_equal(history["linear"][1]["batch_sum"], aux["batch_sum"])
    curves = TRAINING.history(Config(), out.results)
    assert {"linear/loss", "linear/mse", "mlp/loss", "broken/batch_sum"} <= set(curves)


def test_compiles_once_for_uneven_chunks_and_not_again():
    before = TRACES["loss"]
    first = jaxlab.sweep(EXPERIMENT, Config(steps=250), 2, chunk_size=100, key=1)
    # Two models use `mse`: one trace each for the one compiled advance (3 chunks).
    assert TRACES["loss"] == before + 2
    second = jaxlab.sweep(EXPERIMENT, Config(steps=250), 2, chunk_size=100, key=1)
    assert TRACES["loss"] == before + 2 and second.compile_seconds == 0.0
    np.testing.assert_array_equal(
        first.results["history"]["mlp"][0], second.results["history"]["mlp"][0]
    )
    assert first.results["history"]["mlp"][0].shape == (2, 250)
    # Chunking does not change the result: one chunk of 250 steps gives the same run.
    whole = jaxlab.sweep(EXPERIMENT, Config(steps=250), 2, chunk_size=250, key=1)
    np.testing.assert_allclose(
        whole.results["final"]["linear/weight_error"],
        first.results["final"]["linear/weight_error"],
        rtol=1e-5,
    )


def test_numeric_settings_swept_in_one_program():
    out = jaxlab.sweep(
        EXPERIMENT, Config(steps=50), 2, over={"learning_rate": [0.0, 0.05]}, chunk_size=50
    )
    loss = np.asarray(out.results["history"]["linear"][0])  # (2 rates, 2 seeds, 50)
    assert loss.shape == (2, 2, 50)
    assert np.all(loss[1, :, -1] < 0.2 * loss[1, :, 0])
    # With a zero learning rate each seed keeps its initial model: Training.init's keys.
    error = np.asarray(out.results["final"]["linear/weight_error"])
    for seed, key in enumerate(jax.random.split(jax.random.key(0), 2)):
        state = TRAINING.init(Config(), key)["linear"]
        initial = jnp.max(jnp.abs(state.params.weight[0] - TRUE_WEIGHT))
        np.testing.assert_allclose(error[0, seed], initial, rtol=1e-6)
        assert error[1, seed] < initial


@pytest.mark.parametrize("x64", [False, True])
def test_eight_seeds_equal_eight_single_seed_runs(x64):
    """Seed by seed, an 8-seed sweep equals 8 one-seed sweeps with the same keys, and
    does not depend on seed chunking (`batch_size`): 1e-12 relative in float64. In float32
    the first steps agree bit for bit, but the batched and the single programs round some
    reductions differently and 60 Adam steps amplify that: the loss curves differ by up to
    3.5e-6 relative (measured), so curves are checked to 1e-5, evaluations to 1e-6."""
    tolerance = 1e-12 if x64 else 1e-6
    with jax.enable_x64(x64):
        config = Config(steps=60)
        keys = jax.random.split(jax.random.key(5), 8)
        together = jaxlab.sweep(EXPERIMENT, config, keys, chunk_size=25).results
        chunked = jaxlab.sweep(EXPERIMENT, config, keys, chunk_size=25, batch_size=3).results
        alone = [
            jaxlab.sweep(EXPERIMENT, config, keys[i : i + 1], chunk_size=25).results
            for i in range(8)
        ]
    assert together["history"]["mlp"][0].dtype == (np.float64 if x64 else np.float32)
    curves = 1e-12 if x64 else 1e-5
    for part, rtol in (("final", tolerance), ("history", curves)):
        for i, one in enumerate(alone):
            for a, b in zip(jax.tree.leaves(together[part]), jax.tree.leaves(one[part])):
                np.testing.assert_allclose(np.asarray(a)[i], np.asarray(b)[0], rtol=rtol)
        for a, b in zip(jax.tree.leaves(together[part]), jax.tree.leaves(chunked[part])):
            np.testing.assert_allclose(a, b, rtol=rtol)
