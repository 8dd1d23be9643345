import ast
import pathlib

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import jaxlab
from jaxlab import ConfigError


def regression_data(key, n=64, d=3):
    kx, kw = jax.random.split(key)
    x = jax.random.normal(kx, (n, d))
    w = jax.random.normal(kw, (d,))
    return {"x": x, "y": x @ w + 0.5}


def mse(model, batch, key):
    pred = jax.vmap(model)(batch["x"])[:, 0]
    return jnp.mean((pred - batch["y"]) ** 2), {"max_abs": jnp.max(jnp.abs(pred))}


def test_equinox_linear_regression_reaches_least_squares():
    data = regression_data(jax.random.key(0))
    out = jaxlab.fit(
        mse,
        lambda key: eqx.nn.Linear(3, 1, key=key),
        optax.adam(0.05),
        data,
        steps=600,
        seeds=3,
        chunk_size=250,
    )
    design = np.c_[np.asarray(data["x"]), np.ones(64)]
    solution = np.linalg.lstsq(design, np.asarray(data["y"]), rcond=None)[0]
    assert out.losses.shape == (3, 600) and out.aux["max_abs"].shape == (3, 600)
    for seed in range(3):
        model = out.model(seed)
        np.testing.assert_allclose(model.weight[0], solution[:3], atol=1e-4)
        np.testing.assert_allclose(model.bias[0], solution[3], atol=1e-4)
    assert not np.any(out.diverged)
    # Seeds start from different initial models.
    assert len({round(float(v), 6) for v in out.losses[:, 0]}) == 3


class FlaxMLP(nnx.Module):
    def __init__(self, rngs: nnx.Rngs):
        self.hidden = nnx.Linear(3, 16, rngs=rngs)
        self.out = nnx.Linear(16, 1, rngs=rngs)

    def __call__(self, x):
        return self.out(jnp.tanh(self.hidden(x)))


def test_flax_nnx_model_over_four_vmapped_seeds():
    data = regression_data(jax.random.key(1), n=128)
    out = jaxlab.fit(
        mse,
        lambda key: FlaxMLP(nnx.Rngs(key)),
        optax.adam(1e-2),
        data,
        steps=400,
        seeds=4,
        batch_size=32,
    )
    assert out.losses.shape == (4, 400)
    initial, final = np.asarray(out.losses[:, :10]).mean(1), np.asarray(out.losses[:, -20:]).mean(1)
    assert np.all(final < 0.05 * initial)
    model = out.model(2)
    assert isinstance(model, FlaxMLP)
    full_loss = mse(model, data, None)[0]
    assert full_loss < 0.05 * initial[2]
    # Each seed is a different network.
    k0, k1 = out.params["hidden"]["kernel"][...][:2]
    assert not np.allclose(k0, k1)


def test_diverging_seed_is_flagged_and_frozen_while_others_train():
    def init(key):
        return jnp.where(jax.random.bernoulli(key), 2.0, -2.0)  # log of a negative: NaN

    def loss(w, batch, key):
        return jnp.log(w) ** 2, None

    keys = jax.random.split(jax.random.key(0), 6)
    out = jaxlab.fit(loss, init, optax.sgd(0.5), None, steps=300, seeds=keys)
    signs = np.array([float(init(jax.random.split(k)[0])) > 0 for k in keys])
    assert signs.any() and (~signs).any()
    np.testing.assert_array_equal(out.diverged, ~signs)
    np.testing.assert_allclose(np.asarray(out.params)[signs], 1.0, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(out.params)[~signs], -2.0)
    assert np.all(np.isnan(out.losses[~signs]))
    assert np.all(np.isfinite(out.losses[signs]))


def test_interrupted_fit_resumes_to_the_same_training(tmp_path, monkeypatch):
    from jaxlab._checkpoint import Checkpoints

    data = regression_data(jax.random.key(2))
    args = (mse, lambda key: eqx.nn.Linear(3, 1, key=key), optax.adam(0.05), data)
    kwargs = dict(steps=80, seeds=2, chunk_size=20, checkpoint_dir=tmp_path)
    original = Checkpoints.save

    def save_then_die(self, step, *rest):
        original(self, step, *rest)
        if step == 40:
            raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(Checkpoints, "save", save_then_die)
        with pytest.raises(KeyboardInterrupt):
            jaxlab.fit(*args, **kwargs)
    resumed = jaxlab.fit(*args, **kwargs)
    fresh = jaxlab.fit(*args, steps=80, seeds=2, chunk_size=20)
    np.testing.assert_array_equal(resumed.losses, fresh.losses)
    np.testing.assert_array_equal(resumed.params.weight, fresh.params.weight)
    other = regression_data(jax.random.key(3))
    with pytest.raises(ConfigError, match="data"):
        jaxlab.fit(*args[:3], other, **kwargs)


def test_sampler_data_and_bad_input():
    def sampler(key):
        x = jax.random.normal(key, (16, 3))
        return {"x": x, "y": x.sum(1)}

    out = jaxlab.fit(
        mse,
        lambda key: eqx.nn.Linear(3, 1, key=key),
        optax.adam(0.05),
        sampler,
        steps=300,
        seeds=2,
    )
    assert float(out.losses[:, -10:].mean()) < 1e-3
    with pytest.raises(ConfigError, match="batch_size"):
        jaxlab.fit(
            mse,
            lambda key: eqx.nn.Linear(3, 1, key=key),
            optax.sgd(0.1),
            regression_data(jax.random.key(0)),
            steps=5,
            batch_size=1000,
        )
    with pytest.raises(ConfigError, match="steps"):
        jaxlab.fit(mse, lambda key: eqx.nn.Linear(3, 1, key=key), optax.sgd(0.1), sampler, steps=0)


class WithBatchNorm(nnx.Module):
    def __init__(self, rngs: nnx.Rngs):
        self.linear = nnx.Linear(2, 1, rngs=rngs)
        self.norm = nnx.BatchNorm(1, rngs=rngs)

    def __call__(self, x):
        return self.norm(self.linear(x))


def test_nnx_batchnorm_statistics_are_carried_per_seed_and_not_trained():
    # With a zero learning rate the batch mean b of the linear layer's output is fixed, so
    # after T steps the running mean (momentum 0.99, from 0) is exactly (1 - 0.99^T) b.
    def loss(model, batch, key):
        return jnp.mean((model(batch) - 1.0) ** 2), None

    data = 3.0 + jax.random.normal(jax.random.key(0), (32, 2))
    steps = 20
    out = jaxlab.fit(
        loss, lambda key: WithBatchNorm(nnx.Rngs(key)), optax.sgd(0.0), data, steps=steps,
        seeds=2,
    )  # fmt: skip
    trained = {
        "/".join(map(str, path)) for path, _ in jax.tree_util.tree_leaves_with_path(out.params)
    }
    assert not any("mean" in p or "var" in p for p in trained), trained
    means = []
    for seed in range(2):
        model = out.model(seed)
        batch_mean = float(jnp.mean(model.linear(data)))
        means.append(float(model.norm.mean[...][0]))
        np.testing.assert_allclose(means[-1], (1 - 0.99**steps) * batch_mean, rtol=1e-4)
    assert abs(means[0] - means[1]) > 1e-3, means  # each seed has its own statistics


class WithDropout(nnx.Module):
    def __init__(self, rngs: nnx.Rngs):
        self.scale = nnx.Param(jnp.ones(64))
        self.dropout = nnx.Dropout(0.5, rngs=rngs)

    def __call__(self, x):
        return self.dropout(self.scale[...] * x)


def test_nnx_dropout_masks_differ_between_steps_and_seeds():
    # aux records which of the 64 units dropout kept at each step.
    def loss(model, batch, key):
        kept = model(jnp.ones(64)) != 0
        return jnp.mean(model(jnp.ones(64)) ** 2), kept

    out = jaxlab.fit(
        loss, lambda key: WithDropout(nnx.Rngs(key)), optax.sgd(0.0), None, steps=6, seeds=2
    )
    masks = np.asarray(out.aux)  # (seeds, steps, 64)
    assert masks.shape == (2, 6, 64)
    assert 0.2 < masks.mean() < 0.8
    for seed in range(2):
        assert len({m.tobytes() for m in masks[seed]}) == 6  # a new mask at every step
    assert not np.array_equal(masks[0], masks[1])  # and per seed
    # The RNG counter advanced per seed, and is carried in the buffers, not trained.
    counts = out.buffers["dropout"]["rngs"]["count"][...]
    np.testing.assert_array_equal(counts, [12, 12])  # two dropout calls per step


def test_settings_never_reach_the_optimizer():
    class Scaled(eqx.Module):
        weight: jax.Array
        tolerance: jaxlab.Setting

        def __call__(self, x):
            return self.weight * x + 0 * self.tolerance.read()

    def loss(model, batch, key):
        return jnp.mean((model(batch) - 2 * batch) ** 2), None

    init = lambda key: Scaled(jax.random.normal(key, ()), jaxlab.Setting(0.25))
    out = jaxlab.fit(
        loss, init, optax.adamw(0.1, weight_decay=0.5), jnp.arange(4.0), steps=50, seeds=2
    )
    assert jax.tree.leaves(out.params)[0].shape == (2,)
    np.testing.assert_array_equal(out.buffers.tolerance.value, [0.25, 0.25])
    assert out.model(1).tolerance.value == 0.25


def test_count_params_counts_what_is_trained():
    class Model(eqx.Module):
        linear: eqx.nn.Linear  # 3 x 4 + 4 trained
        spectral: jax.Array  # complex: real and imaginary parts, 2 x 5 each
        tolerance: jaxlab.Setting  # not trained
        index: jax.Array  # integer: not trained

    model = Model(
        eqx.nn.Linear(3, 4, key=jax.random.key(0)),
        jnp.ones(5, jnp.complex64),
        jaxlab.Setting(jnp.ones(7)),
        jnp.arange(9),
    )
    assert jaxlab.count_params(model) == 3 * 4 + 4 + 2 * 5
    params = jaxlab.split_model(model)[0]
    assert jaxlab.count_params(model) == sum(
        x.size * (1 + jnp.iscomplexobj(x)) for x in jax.tree.leaves(params)
    )
    shapes = eqx.filter_eval_shape(lambda: model)
    assert jaxlab.count_params(shapes) == jaxlab.count_params(model)
    net = nnx.Linear(3, 2, rngs=nnx.Rngs(0))
    assert jaxlab.count_params(net) == 3 * 2 + 2


def test_models_do_not_import_the_trainer():
    """`Setting`, `split_model` and `count_params` live in `jaxlab._model`, which imports no
    other part of jaxlab; no module takes them from the trainer (`jaxlab._train`)."""
    root = pathlib.Path(jaxlab.__file__).parent
    tree = ast.parse((root / "_model.py").read_text())
    relative = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level]
    assert relative == [], "jaxlab._model imports no other part of jaxlab"
    moved = {"Setting", "split_model", "count_params", "ModelLayout", "buffers_of"}
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("_train"):
                names = {alias.name for alias in node.names}
                assert not names & moved, f"{path}: imports {names & moved} from the trainer"


COUNT = {"loss": 0}


def counted_loss(model, batch, key):
    COUNT["loss"] += 1  # runs once per trace
    pred = jax.vmap(model)(batch["x"])[:, 0]
    return jnp.mean((pred - batch["y"]) ** 2), None


def linear_model(key):
    return eqx.nn.Linear(3, 1, key=key)


ADAM = optax.adam(0.05)


def test_fit_second_call_does_not_compile_and_data_is_an_argument():
    first_data = regression_data(jax.random.key(3))
    second_data = regression_data(jax.random.key(4))
    first = jaxlab.fit(counted_loss, linear_model, ADAM, first_data, steps=30, seeds=2)
    traces = COUNT["loss"]
    second = jaxlab.fit(counted_loss, linear_model, ADAM, second_data, steps=30, seeds=2)
    assert COUNT["loss"] == traces and second.compile_seconds == 0.0
    # New data values are used (not constants baked into the first program).
    assert not np.allclose(first.losses, second.losses)
    direct = counted_loss(second.model(0), second_data, None)[0]
    np.testing.assert_allclose(second.losses[0, -1], direct, rtol=0.2)


def test_uneven_last_chunk_does_not_compile_advance_again():
    traces = COUNT["loss"]
    out = jaxlab.fit(
        counted_loss, linear_model, ADAM, regression_data(jax.random.key(5)),
        steps=1500, chunk_size=1000,
    )  # fmt: skip
    assert COUNT["loss"] == traces + 1  # one trace of advance: 1000 + 500 masked steps
    assert out.losses.shape == (1, 1500) and np.all(np.isfinite(out.losses))
    steps = jaxlab.fit(
        counted_loss, linear_model, ADAM, regression_data(jax.random.key(5)),
        steps=1500, chunk_size=1500,
    )  # fmt: skip
    np.testing.assert_allclose(out.losses, steps.losses, rtol=1e-5)
    np.testing.assert_allclose(out.params.weight, steps.params.weight, rtol=1e-5)


def test_lbfgs_with_line_search_solves_least_squares():
    data = regression_data(jax.random.key(6))
    out = jaxlab.fit(
        mse, lambda key: eqx.nn.Linear(3, 1, key=key), optax.lbfgs(), data, steps=30, seeds=2
    )
    design = np.c_[np.asarray(data["x"]), np.ones(64)]
    solution = np.linalg.lstsq(design, np.asarray(data["y"]), rcond=None)[0]
    for seed in range(2):
        np.testing.assert_allclose(out.model(seed).weight[0], solution[:3], atol=1e-4)
    assert np.all(out.losses[:, -1] < 1e-8)


def test_step_sampler_sees_the_step_counter_and_compiles_once():
    # A StepSampler gets the step number: here the batch is the step itself, so the
    # loss (batch - w)^2 records 0, 1, 2, ... and the per-step schedule needs no recompile.
    sample = jaxlab.StepSampler(lambda key, step: step.astype(jnp.float32))

    def loss(model, batch, key):
        return (batch - 0.0 * model["w"]) ** 2, batch

    out = jaxlab.fit(
        loss,
        lambda key: {"w": jnp.zeros(())},
        optax.sgd(0.0),
        sample,
        steps=7,
        seeds=2,
        chunk_size=3,
    )
    np.testing.assert_array_equal(np.asarray(out.aux[0]), np.arange(7.0))
    assert sample(jax.random.key(0)) == 0  # without a step: step 0
    # Plain samplers are still called with a key alone.
    plain = jaxlab.fit(
        loss,
        lambda key: {"w": jnp.zeros(())},
        optax.sgd(0.0),
        lambda key: jnp.float32(2.0),
        steps=2,
    )
    np.testing.assert_array_equal(np.asarray(plain.aux[0]), [2.0, 2.0])
