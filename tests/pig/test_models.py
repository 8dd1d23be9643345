"""The Gaussian embedding, PIG and the PINN: closed-form / jet derivatives against plain
autodiff, chunking, and jit / vmap / grad of the public functions."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab import ConfigError, count_params, pig


KEY = jax.random.key(0)
BOX3 = ((0.0, -1.0, -1.0), (10.0, 1.0, 1.0))


def _models():
    return {
        "pig-diagonal": pig.PIG(*BOX3, n_gaussians=60, sigma0=0.5, key=KEY),
        "pig-shared": pig.PIG(*BOX3, n_gaussians=60, sigma0=0.5, shared=True, key=KEY),
        "pig-full": pig.PIG(*BOX3, n_gaussians=60, sigma0=0.5, covariance="full", key=KEY),
        "pinn": pig.PINN(*BOX3, width=16, depth=2, key=KEY),
        "pinn-fourier": pig.PINN(*BOX3, width=16, depth=2, fourier_features=8, key=KEY),
    }


@pytest.fixture(scope="module")
def points():
    return pig.Box("txy", *BOX3).uniform(jax.random.key(1), 64)


def _perturb(model):
    """Train-like parameters: the weights, scales and (for full) precision factors moved
    off their initial values, so every term of the derivative formulas matters."""
    leaves, tree = jax.tree.flatten(eqx.filter(model, eqx.is_inexact_array))
    keys = jax.random.split(jax.random.key(2), len(leaves))
    noisy = [x * (1 + 0.2 * jax.random.normal(k, x.shape)) for x, k in zip(leaves, keys)]
    return eqx.combine(jax.tree.unflatten(tree, noisy), model)


@pytest.mark.parametrize("name", list(_models()))
def test_jets_equal_plain_autodiff(name, points):
    model = _perturb(_models()[name])
    jet = pig.jets(model, points, chunk=16)  # chunked path
    grad = jax.vmap(jax.grad(model))(points)
    hess = jax.vmap(jax.hessian(model))(points)
    diag = jnp.diagonal(hess, axis1=1, axis2=2)
    np.testing.assert_allclose(jet.value, jax.vmap(model)(points), rtol=1e-5, atol=1e-6)
    scale_g, scale_h = np.abs(grad).max(), np.abs(diag).max()
    np.testing.assert_allclose(jet.grad, grad, atol=2e-5 * scale_g)
    np.testing.assert_allclose(jet.diag, diag, atol=2e-4 * scale_h)


@pytest.mark.parametrize("name", ["pig-diagonal", "pig-shared"])
def test_batched_gradients_equal_per_point_autodiff(name, points):
    """PIG's batched path (matrix products, written-out backward pass, chunks of 24 of
    64 points so the last is padded) against the per-point jets under plain autodiff:
    the same loss value and the same gradients, in the parameters and in the points."""
    model = _perturb(_models()[name])

    def objective(m, x, batched):
        jets = m.batch_jets if batched else lambda p, c: pig.Field.batch_jets(m, p, c)
        vals = m.batch_values if batched else lambda p, c: pig.Field.batch_values(m, p, c)
        jet = jets(x, 24)
        return (jnp.sum(jet.diag**2) + jnp.sum(jet.grad**2) + jnp.sum(jet.value**2)
                + jnp.sum(jnp.sin(vals(x, 24))))  # fmt: skip

    grad = eqx.filter_jit(eqx.filter_grad(objective), donate="none")
    np.testing.assert_allclose(
        objective(model, points, True), objective(model, points, False), rtol=1e-4
    )
    for batched, plain in zip(
        jax.tree.leaves(grad(model, points, True)), jax.tree.leaves(grad(model, points, False))
    ):
        np.testing.assert_allclose(batched, plain, atol=1e-4 * np.abs(plain).max())
    by_points = [jax.grad(objective, argnums=1)(model, points, b) for b in (True, False)]
    np.testing.assert_allclose(*by_points, atol=1e-4 * np.abs(by_points[1]).max())


def test_gaussian_moments_reject_a_bad_chunk(as_user):
    emb = pig.GaussianEmbedding(5, 2, 2, 0.3, key=KEY)
    xi = jnp.zeros((4, 2))
    for bad in (0, -3, 2.5):
        with pytest.raises(ConfigError, match="chunk"):
            pig.gaussian_moments(xi, emb.mu, 1 / emb.sigma**2, emb.weight, bad)


def test_embedding_is_the_sum_of_weighted_gaussians():
    emb = pig.GaussianEmbedding(5, 3, 2, 0.3, lower=-1, upper=1, key=KEY)
    x = jnp.array([0.2, -0.3])
    direct = [
        sum(
            emb.weight[c, n, 0]
            * jnp.exp(-0.5 * jnp.sum(((x - emb.mu[c, n]) / emb.sigma[c, n]) ** 2))
            for n in range(5)
        )
        for c in range(3)
    ]
    np.testing.assert_allclose(emb(x), jnp.array(direct), rtol=1e-6)
    assert emb.features == 3 and emb.n_total == 15
    shared = pig.GaussianEmbedding(5, 3, 2, 0.3, shared=True, key=KEY)
    assert shared.mu.shape == (1, 5, 2) and shared.weight.shape == (1, 5, 3)


def test_official_parameter_count():
    # Klein-Gordon in the official code: 4 x 100 Gaussians in 3-D, MLP 4 -> 16 -> 1.
    model = pig.PIG(*BOX3, n_gaussians=100, channels=4, sigma0=0.5, key=KEY)
    assert count_params(model) == 2897
    assert count_params(pig.PIG(*BOX3, n_gaussians=4000, key=KEY)) == 112097


def test_settings_are_not_trained():
    model = pig.PINN(*BOX3, fourier_features=4, key=KEY)
    params, buffers, _ = jaxlab_split(model)
    assert count_params(model) == sum(w.size for w in model.mlp.weights) + sum(
        b.size for b in model.mlp.biases
    )
    assert len(jax.tree.leaves(buffers)) == 3  # scale, shift, Fourier matrix


def jaxlab_split(model):
    import jaxlab

    return jaxlab.split_model(model)


def test_values_and_jets_survive_jit_vmap_grad(points):
    model = pig.PIG(*BOX3, n_gaussians=20, sigma0=0.5, key=KEY)
    np.testing.assert_allclose(
        jax.jit(pig.values, static_argnums=2)(model, points, 16),
        pig.values(model, points),
        rtol=1e-5,
        atol=1e-7,
    )
    batched = jax.vmap(lambda p: pig.values(model, p, 8))(points.reshape(4, 16, 3))
    np.testing.assert_allclose(batched.ravel(), pig.values(model, points), rtol=1e-5, atol=1e-7)

    def objective(m):
        return jnp.sum(pig.jets(m, points, 16).diag ** 2)

    grads = eqx.filter_grad(objective)(model)
    unchunked = eqx.filter_grad(lambda m: jnp.sum(pig.jets(m, points, 1000).diag ** 2))(model)
    for a, b in zip(jax.tree.leaves(grads), jax.tree.leaves(unchunked)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6 * np.abs(b).max())


def test_jet_names_and_bad_derivatives():
    jet = pig.Jet(jnp.array(1.0), jnp.array([2.0, 3.0]), jnp.array([4.0, 5.0]), "xy")
    assert jet["y"] == 3.0 and jet["xx"] == 4.0 and jet[""] == 1.0
    for bad in ("xy", "z", "xxx"):
        with pytest.raises(ConfigError, match="derivative"):
            jet[bad]


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"n_gaussians": 0}, "n_gaussians"),
        ({"sigma0": 0.0}, "sigma0"),
        ({"sigma0": -1.0}, "sigma0"),
        ({"channels": 0}, "channels"),
        ({"covariance": "dense"}, "covariance"),
    ],
)
def test_bad_embedding_input(kwargs, field, as_user):
    with pytest.raises(ConfigError, match=f"^{field}: "):
        pig.PIG(*BOX3, key=KEY, **kwargs)
