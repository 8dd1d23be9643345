"""The PFGM++ perturbation kernel against its distributional facts."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from jaxlab import ConfigError, pfgmpp


DRAWS = 20000


def draws(key, N, sigma, D, method="t", clip=0.0, n=DRAWS):
    keys = jax.random.split(jax.random.key(key), n)
    f = jax.jit(
        jax.vmap(lambda k: pfgmpp.perturbation(k, (N,), sigma, D, method=method, clip=clip))
    )
    return np.asarray(f(keys), dtype=np.float64)


@pytest.mark.parametrize("method", ["t", "beta"])
def test_mean_squared_norm(method):
    N, D, sigma = 64, 12.0, 1.3
    norms = np.sum(draws(0, N, sigma, D, method) ** 2, axis=1)
    expected = sigma**2 * N * D / (D - 2)
    error = norms.std() / np.sqrt(DRAWS)
    assert abs(norms.mean() - expected) < 4 * error, (norms.mean(), expected, error)


@pytest.mark.parametrize("method", ["t", "beta"])
@pytest.mark.parametrize("N, D", [(64, 8.0), (2, 1.0), (2, 100.0)])
def test_norm_ratio_is_beta(method, N, D):
    sigma = 0.7
    # clip=1e-6 moves at most 0.1% of the draws; unclipped, float32 rounds some Beta(1, 1/2)
    # draws to B = 1 (an infinite radius) on the Beta route.
    n = draws(1, N, sigma, D, method, clip=1e-6)
    sq = np.sum(n**2, axis=1)
    b = sq / (sq + D * sigma**2)
    assert stats.kstest(b, stats.beta(N / 2, D / 2).cdf).pvalue > 0.01


def test_beta_and_student_t_samplers_agree():
    N, D, sigma = 16, 5.0, 2.0
    t = np.sum(draws(2, N, sigma, D, "t") ** 2, axis=1)
    b = np.sum(draws(3, N, sigma, D, "beta") ** 2, axis=1)
    assert stats.ks_2samp(t, b).pvalue > 0.01
    # Per coordinate, the kernel is a Student-t with D degrees of freedom, scale sigma.
    coordinate = draws(4, N, sigma, D, "beta")[:, 0]
    assert stats.kstest(coordinate / sigma, stats.t(D).cdf).pvalue > 0.01


def test_large_D_matches_the_gaussian():
    N, sigma = 64, 0.9
    big = draws(5, N, sigma, 1e6)
    assert abs(big.var() / sigma**2 - 1) < 1e-2
    gauss = draws(5, N, sigma, jnp.inf)
    assert abs(gauss.var() / sigma**2 - 1) < 1e-2
    assert stats.kstest(gauss[:, 0] / sigma, "norm").pvalue > 0.01


def test_clipping_bounds_the_radius_for_D_1():
    N, D, sigma, clip = 2, 1.0, 1.0, 1e-3
    for method in ("t", "beta"):
        n = draws(6, N, sigma, D, method, clip=clip)
        ratio = np.sum(n**2, axis=1) / (D * sigma**2)
        assert np.all(np.isfinite(n))
        assert ratio.max() <= (1 - clip) / clip * (1 + 1e-4)
        # The clip bites for D = 1, N = 2 (about sqrt(clip) = 3% of the draws).
        assert 0.01 < np.mean(ratio > 0.99 * (1 - clip) / clip) < 0.06


def test_log_kernel_matches_multivariate_t():
    N, D, sigma = 3, 4.0, 0.8
    rng = np.random.default_rng(0)
    y, x1, x2 = rng.normal(size=(3, N))
    # p_r(x|y) is the multivariate t with df D, scale sigma^2 I (up to a constant in x).
    dist = stats.multivariate_t(loc=y, shape=sigma**2 * np.eye(N), df=D)
    ours = pfgmpp.log_kernel(jnp.array(x1), jnp.array(y), sigma, D) - pfgmpp.log_kernel(
        jnp.array(x2), jnp.array(y), sigma, D
    )
    np.testing.assert_allclose(ours, dist.logpdf(x1) - dist.logpdf(x2), rtol=1e-5)
    gauss = stats.multivariate_normal(mean=y, cov=sigma**2 * np.eye(N))
    ours_inf = pfgmpp.log_kernel(jnp.array(x1), jnp.array(y), sigma, jnp.inf) - pfgmpp.log_kernel(
        jnp.array(x2), jnp.array(y), sigma, jnp.inf
    )
    np.testing.assert_allclose(ours_inf, gauss.logpdf(x1) - gauss.logpdf(x2), rtol=1e-5)


def test_prior_scale_and_determinism():
    key = jax.random.key(3)
    a = pfgmpp.prior(key, (8,), 80.0, 16.0)
    b = pfgmpp.prior(key, (8,), 80.0, 16.0)
    c = pfgmpp.prior(jax.random.key(4), (8,), 80.0, 16.0)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    # Direction and radius use independent keys: the radius does not depend on the
    # direction draw (a reused key would tie them together).
    n = draws(7, 2, 1.0, 3.0)
    angle = np.arctan2(n[:, 1], n[:, 0])
    radius = np.linalg.norm(n, axis=1)
    assert abs(stats.spearmanr(np.abs(angle), radius)[0]) < 0.03


def test_traced_D_in_one_program():
    f = jax.jit(lambda key, D: pfgmpp.perturbation(key, (4,), 1.0, D))
    key = jax.random.key(0)
    for D in (1.0, 3.0, 1e4, jnp.inf):
        np.testing.assert_allclose(f(key, D), pfgmpp.perturbation(key, (4,), 1.0, D), rtol=1e-6)
    assert f._cache_size() == 1
    stacked = jax.vmap(lambda D: pfgmpp.perturbation(key, (4,), 1.0, D))(
        jnp.array([1.0, 3.0, jnp.inf])
    )
    assert stacked.shape == (3, 4) and np.all(np.isfinite(stacked))
    # Reparameterized in sigma: the gradient of the perturbation is n / sigma.
    g = jax.grad(lambda s: pfgmpp.perturbation(key, (4,), s, 5.0).sum())(2.0)
    np.testing.assert_allclose(g, pfgmpp.perturbation(key, (4,), 1.0, 5.0).sum(), rtol=1e-5)


def test_mixture_denoiser_limits():
    points = jnp.array([[-1.0, 0.0], [1.0, 0.0]])
    x = jnp.array([0.3, 0.2])
    # Finite D: weights are power laws (d^2 + r^2)^(-(N + D)/2), even as sigma -> 0.
    for sigma in (1e-3, 0.5, 1e3):
        r2 = 8.0 * sigma**2
        d2 = np.array([1.3**2 + 0.2**2, 0.7**2 + 0.2**2])
        w = (d2 + r2) ** (-(2 + 8.0) / 2)
        expected = (w[1] - w[0]) / w.sum()
        np.testing.assert_allclose(
            pfgmpp.mixture_denoiser(x, sigma, 8.0, points), [expected, 0.0], rtol=1e-5, atol=1e-6
        )
    # D = inf: Gaussian posterior weights, a logistic in x . (y1 - y0) / sigma^2.
    sigma = 0.7
    w1 = 1 / (1 + np.exp(-2 * 0.3 * 2 / (2 * sigma**2)))
    np.testing.assert_allclose(
        pfgmpp.mixture_denoiser(x, sigma, jnp.inf, points), [2 * w1 - 1, 0.0], rtol=1e-5
    )


@pytest.mark.parametrize("D", [0.0, -1.0])
def test_bad_D(D):
    with pytest.raises(ConfigError, match="^D: "):
        pfgmpp.perturbation(jax.random.key(0), (3,), 1.0, D)
    with pytest.raises(ConfigError, match="^D: "):
        pfgmpp.prior(jax.random.key(0), (3,), 80.0, D)


def test_bad_method():
    with pytest.raises(ConfigError, match="^method: "):
        pfgmpp.perturbation(jax.random.key(0), (3,), 1.0, 2.0, method="gauss")
