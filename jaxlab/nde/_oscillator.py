r"""A damped pendulum learned by a neural ODE and by a hybrid model (the undamped
pendulum with a learnable frequency, plus a small neural correction): the data, the two
models, their losses and evaluation, and their side-by-side
[`Training`][jaxlab.Training], run by the experiment `nde.oscillator`.

`cfg` is an [`OscillatorConfig`][jaxlab.nde.OscillatorConfig] (its fields say what each
setting is)."""

import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from .._side_by_side import ModelSpec, Training
from ._ode import HybridField, MLPField, NeuralODE


def pendulum(t, y, params):
    r"""Undamped pendulum $\ddot x = -\omega^2 \sin x$, `params` = $(\omega,)$."""
    return jnp.array([y[1], -(params[0] ** 2) * jnp.sin(y[0])])


def _times(cfg):
    return jnp.linspace(0.0, cfg.horizon, cfg.times)


@functools.partial(jax.jit, static_argnums=0)
def _data(cfg):
    """Noisy training and clean test trajectories of the true damped pendulum (one
    compiled program, run outside the training programs)."""
    truth = NeuralODE(
        lambda t, y, args: (
            pendulum(t, y, jnp.array([cfg.omega])) - jnp.array([0.0, cfg.damping * y[1]])
        ),
        rtol=1e-8,
        atol=1e-10,
    )
    ts = _times(cfg)
    k_train, k_test, k_noise = jax.random.split(jax.random.key(cfg.data_seed), 3)
    shape = (cfg.trajectories, 2)
    y0_train = jax.random.uniform(k_train, shape, minval=-1.5, maxval=1.5)
    y0_test = jax.random.uniform(k_test, shape, minval=-1.5, maxval=1.5)
    solve = jax.vmap(lambda y0: truth(ts, y0))
    train = solve(y0_train) + cfg.noise * jax.random.normal(k_noise, (*shape[:1], cfg.times, 2))
    return ts, (y0_train, train), (y0_test, solve(y0_test))


def _neural(cfg):
    def init(key):
        return NeuralODE(MLPField(size=2, width=cfg.width, depth=cfg.depth, key=key))

    return init


def _hybrid(cfg):
    def init(key):
        k_field, k_omega = jax.random.split(key)
        omega0 = cfg.omega * jax.random.uniform(k_omega, (1,), minval=0.5, maxval=1.5)
        correction = MLPField(size=2, width=cfg.correction_width, depth=1, key=k_field)
        last = lambda c: (c.mlp.layers[-1].weight, c.mlp.layers[-1].bias)
        correction = eqx.tree_at(last, correction, replace_fn=jnp.zeros_like)
        return NeuralODE(HybridField(pendulum, omega0, correction))

    return init


def _predict(model, ts, y0):
    return jax.vmap(lambda y: model(ts, y))(y0)


def _loss(cfg, penalised: bool):
    r"""The mean squared error of the trajectories at the observation times, plus for the
    hybrid `correction_penalty` times the mean square of the correction along them."""
    ts = _times(cfg)

    def loss(model, batch, key):
        y0, ys = batch
        predicted = _predict(model, ts, y0)
        mse = jnp.mean((predicted - ys) ** 2)
        if not penalised:
            return mse, {"train_mse": mse}
        field = model.vector_field
        corrections = jax.vmap(jax.vmap(lambda y: field.correction(0.0, y, None)))(predicted)
        return mse + cfg.correction_penalty * jnp.mean(corrections**2), {"train_mse": mse}

    return loss


def _evaluate(cfg, hybrid: bool):
    """Test MSE, the vector field's parameter count, the test predictions and, for the
    hybrid, the relative error of the learned $\\omega$."""

    def evaluate(model, key, data):
        ts = _times(cfg)
        _, (y0_test, test) = data
        predicted = _predict(model, ts, y0_test)
        field = eqx.filter(model.vector_field, eqx.is_array)
        out = {
            "test_mse": jnp.mean((predicted - test) ** 2),
            "params": sum(x.size for x in jax.tree.leaves(field)),
            "predicted": predicted,
        }
        if hybrid:
            omega = model.vector_field.params[0]
            out["param_rel_error"] = jnp.abs(omega - cfg.omega) / cfg.omega
        return out

    return evaluate


def models(cfg) -> dict[str, ModelSpec]:
    optimizer = optax.adam(cfg.learning_rate)
    return {
        "neural": ModelSpec(_neural(cfg), _loss(cfg, False), optimizer, _evaluate(cfg, False)),
        "hybrid": ModelSpec(_hybrid(cfg), _loss(cfg, True), optimizer, _evaluate(cfg, True)),
    }


def data(cfg):
    """The `(y0, trajectories)` of the training and test sets, host arrays."""
    _, train, test = _data(cfg)
    return jax.tree.map(np.asarray, (train, test))


def batches(cfg, data):
    """The full batch: every training trajectory at every step."""
    train, _ = data
    return lambda key: train


TRAINING = Training(models, data, batches)
