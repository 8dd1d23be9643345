"""Settings (tolerances, steps) are never trained, whatever the optimizer: AdamW's weight
decay would shrink any array it is handed, and a tolerance decayed towards zero makes the
solves hit `max_steps`."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxlab
from jaxlab import nde


OPTIMIZER = optax.adamw(1e-2, weight_decay=0.1)
STEPS = 20
TS = jnp.linspace(0.0, 1.0, 5)
Y0 = jnp.array([[1.0, 0.0], [0.0, 1.0], [0.5, -0.5]])
TARGET = jnp.stack([Y0 * jnp.exp(-t) for t in TS], axis=1)  # y' = -y


def ode():
    def init(key):
        field = nde.MLPField(size=2, width=8, depth=1, key=key)
        return nde.NeuralODE(field, rtol=1e-3, atol=1e-5, dt0=0.05)

    def loss(model, batch, key):
        return jnp.mean((jax.vmap(lambda y: model(TS, y))(Y0) - TARGET) ** 2), None

    return init, loss, lambda m: {"rtol": m.rtol, "atol": m.atol, "dt0": m.dt0}


def cde():
    times = jnp.stack([TS, TS**2])
    values = jnp.stack([jnp.sin(times), jnp.cos(times)], axis=-1)
    paths = jax.vmap(nde.control_path)(times, values)
    labels = jnp.array([0.0, 1.0])

    def init(key):
        return nde.NeuralCDE(3, 4, 1, width=8, rtol=1e-3, atol=1e-5, key=key)

    def loss(model, batch, key):
        logits = jax.vmap(model)(paths)[:, 0]
        return jnp.mean(optax.sigmoid_binary_cross_entropy(logits, labels)), None

    return init, loss, lambda m: {"rtol": m.rtol, "atol": m.atol}


def deq():
    x = jnp.linspace(-1.0, 1.0, 4)

    def init(key):
        cell = nde.ContractiveCell(4, contraction=0.8, key=key)
        return nde.DEQ(cell, 4, rtol=1e-4, atol=1e-5, max_steps=64)

    def loss(model, batch, key):
        return jnp.sum((model(x) - 0.5) ** 2), None

    return init, loss, lambda m: {"rtol": m.rtol, "atol": m.atol}


@pytest.mark.parametrize("case", [ode, cde, deq], ids=["NeuralODE", "NeuralCDE", "DEQ"])
def test_adamw_trains_the_parameters_and_leaves_the_settings_alone(case):
    init, loss, settings = case()
    result = jaxlab.fit(loss, init, OPTIMIZER, None, steps=STEPS, seeds=2)
    assert not np.any(result.diverged)
    assert np.all(result.losses[:, -1] < result.losses[:, 0])  # the optimizer did act
    initial = settings(init(jax.random.key(0)))
    for seed in range(2):
        for name, setting in settings(result.model(seed)).items():
            assert isinstance(setting, jaxlab.Setting), name
            np.testing.assert_array_equal(setting.value, initial[name].value, err_msg=name)
    # The trained parameters are every floating array but the settings.
    model = init(jax.random.key(0))
    floating = sum(x.size for x in jax.tree.leaves(eqx.filter(model, eqx.is_inexact_array)))
    trained = sum(x[0].size for x in jax.tree.leaves(result.params))
    assert trained == floating - len(initial)
