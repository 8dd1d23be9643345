"""Causal weighting of the residual (jaxpi): the weights' formula, their stop-gradient,
the time chunks, and bad input."""

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab import ConfigError, pig
from jaxlab.pig import AllenCahnConfig, HelmholtzConfig, NonlinearDiffusionConfig


def test_weights_follow_the_formula():
    losses = jnp.array([0.5, 0.2, 0.1, 0.3])
    w = pig.causal_weights(losses, 2.0)
    # w_i = exp(-tol * sum_{j<i} L_j)
    np.testing.assert_allclose(w, np.exp(-2.0 * np.array([0.0, 0.5, 0.7, 0.8])), rtol=1e-6)
    assert jax.grad(lambda v: jnp.sum(pig.causal_weights(v, 2.0)))(losses).tolist() == [0.0] * 4


def test_time_chunks_are_consecutive_groups_of_equal_size():
    problem = pig.allen_cahn(points=8)
    x = problem.box.uniform(jax.random.key(0), 12)
    r = x[:, 1] + 10 * x[:, 0]
    losses = pig.time_chunk_losses(problem, x, r, 3)
    by_time = np.asarray(r)[np.argsort(np.asarray(x[:, 0]))].reshape(3, 4)
    np.testing.assert_allclose(losses, np.mean(by_time**2, axis=1), rtol=1e-6)
    uneven = pig.time_chunk_losses(problem, x, r, 5)  # sizes 3, 2, 3, 2, 2
    sizes = np.bincount(np.arange(12) * 5 // 12)
    np.testing.assert_allclose(np.sum(uneven * sizes) / 12, np.mean(np.asarray(r) ** 2), 1e-6)


@pytest.fixture(scope="module")
def residual_only():
    ac = pig.allen_cahn()
    problem = pig.Problem(ac.box, ac.residual)
    model = pig.PINN(problem.box.lower, problem.box.upper, width=8, depth=1, key=jax.random.key(1))
    batch = {"interior": problem.box.uniform(jax.random.key(2), 64), "conditions": ()}
    return problem, model, batch


def test_gradient_treats_the_weights_as_constants(residual_only):
    problem, model, batch = residual_only
    x, m, tol = batch["interior"], 8, 5.0

    def chunk_losses(model):
        r = jax.vmap(problem.residual)(x, pig.jets(model, x, names=problem.box.names))
        return pig.time_chunk_losses(problem, x, r, m)

    def causal(model):
        return pig.loss(problem, model, batch, causal_tol=tol, causal_chunks=m)[0]

    losses = chunk_losses(model)
    w = pig.causal_weights(losses, tol)
    assert float(w[-1]) < 0.9  # the weights matter at this model
    np.testing.assert_allclose(causal(model), jnp.mean(w * losses), rtol=1e-6)
    grad = eqx.filter_grad(causal)(model)
    jac = eqx.filter_jacrev(chunk_losses)(model)  # (M,) per leaf
    expected = jax.tree.map(lambda j: jnp.tensordot(w, j, 1) / m, jac)
    for g, e in zip(jax.tree.leaves(grad), jax.tree.leaves(expected)):
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-6)


def test_zero_tolerance_is_the_plain_loss(residual_only):
    problem, model, batch = residual_only
    plain, terms = pig.loss(problem, model, batch)
    assert "causal_weight" not in terms
    causal, terms = pig.loss(problem, model, batch, causal_tol=1e-30, causal_chunks=4)
    np.testing.assert_allclose(causal, plain, rtol=1e-5)
    assert float(terms["causal_weight"]) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "field, value",
    [("causal_tol", -1.0), ("causal_chunks", 0), ("ic_weight", -1.0), ("n_gaussians", 0),
     ("epsilon", 0.0), ("collocation", 0)],
)  # fmt: skip
def test_bad_causal_settings_name_the_field(field, value):
    with pytest.raises(ConfigError, match=f"^{field}: "):
        dataclasses.replace(AllenCahnConfig.quick(), **{field: value})


def test_bad_diffusion_settings_name_the_field():
    for field, value in (("alpha", 0.0), ("solver_grid", 100), ("reference_times", 1)):
        with pytest.raises(ConfigError, match=f"^{field}: "):
            dataclasses.replace(NonlinearDiffusionConfig.quick(), **{field: value})


def test_causal_needs_time_and_enough_points():
    with pytest.raises(ConfigError, match="^causal_chunks: "):
        dataclasses.replace(AllenCahnConfig.quick(), collocation=16, causal_chunks=32)
    with pytest.raises(ConfigError, match="^causal_tol: "):
        pig.model_specs(dataclasses.replace(HelmholtzConfig.quick(), causal_tol=1.0))
