"""The Heun sampler: noise levels, network evaluations, exact denoisers."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab import ConfigError, pfgmpp


def test_sigma_grid():
    sigmas = np.asarray(pfgmpp.sigma_steps(18, 0.002, 80.0, 7.0))
    assert sigmas.shape == (19,)
    np.testing.assert_allclose(sigmas[0], 80.0, rtol=1e-6)
    np.testing.assert_allclose(sigmas[-2], 0.002, rtol=1e-5)
    assert sigmas[-1] == 0.0
    assert np.all(np.diff(sigmas) < 0)
    # rho = 1 is a uniform grid.
    np.testing.assert_allclose(pfgmpp.sigma_steps(5, 1.0, 5.0, 1.0), [5, 4, 3, 2, 1, 0], rtol=1e-6)
    np.testing.assert_allclose(pfgmpp.sigma_steps(1, 1.0, 5.0), [5.0, 0.0])


@pytest.mark.parametrize("steps", [1, 2, 18])
def test_n_steps_cost_2n_minus_1_evaluations(steps):
    calls = []

    def denoiser(x, sigma):
        jax.debug.callback(lambda: calls.append(1), ordered=True)
        return jnp.zeros_like(x)

    x, nfe = jax.jit(lambda x: pfgmpp.heun_sample(denoiser, x, steps=steps, sigma_max=10.0))(
        jnp.ones(3)
    )
    jax.effects_barrier()
    assert len(calls) == 2 * steps - 1 == int(nfe)


def test_delta_data_is_recovered_exactly():
    y0 = jnp.array([0.3, -1.2, 0.5])

    @jax.jit
    def run(key, D):
        start = pfgmpp.prior(key, (3,), 80.0, D)
        return pfgmpp.heun_sample(lambda x, sigma: y0, start)[0]

    keys = jax.random.split(jax.random.key(0), 3)
    for D in (1.0, 8.0, jnp.inf):
        np.testing.assert_allclose(
            jax.vmap(run, (0, None))(keys, D), jnp.tile(y0, (3, 1)), atol=1e-5
        )


POINTS = jnp.array([[-0.6, -0.3], [0.5, 0.4], [0.1, -0.7]])


def mixture_draws(key, n):
    return POINTS[jax.random.randint(key, (n,), 0, POINTS.shape[0])]


@jax.jit
def sample_mixture(key, D):
    """Samples of the point mixture with its exact PFGM++ denoiser, from the prior."""
    k_prior, _ = jax.random.split(key)
    start = jax.vmap(lambda k: pfgmpp.prior(k, (2,), 80.0, D))(jax.random.split(k_prior, 1000))
    denoiser = lambda x, s: pfgmpp.mixture_denoiser(x, s, D, POINTS)
    return jax.vmap(lambda x: pfgmpp.heun_sample(denoiser, x, steps=18)[0])(start), start


def exact_network(D):
    r"""The raw network whose preconditioned denoiser is the exact one of `POINTS`:
    $F = (D^\star(x, \sigma) - c_\mathrm{skip}\,x) / c_\mathrm{out}$ at
    $x = x_\mathrm{in} / c_\mathrm{in}$."""

    def net(x_in, c_noise):
        sigma = jnp.exp(4 * c_noise)
        c_skip, c_out, c_in, _ = pfgmpp.edm_scalings(sigma)
        x = x_in / c_in
        return (pfgmpp.mixture_denoiser(x, sigma, D, POINTS) - c_skip * x) / c_out

    return net


def test_sample_keeps_the_prior_and_the_sampler_on_one_schedule():
    """`sample` draws the prior at the `sigma_max` it integrates from: with the exact
    network of a point mixture, every sample lands on a data point, for a `sigma_max`
    other than the sampler's default; it is the prior-then-Heun composition, and it
    survives jit and vmap over D."""
    key, D = jax.random.key(4), 16.0
    samples, nfe = pfgmpp.sample(exact_network(D), key, 300, D=D, shape=(2,), sigma_max=20.0)
    assert samples.shape == (300, 2) and int(nfe) == 2 * 18 - 1
    nearest = jnp.min(jnp.linalg.norm(samples[:, None] - POINTS[None], axis=-1), axis=1)
    assert float(jnp.quantile(nearest, 0.99)) < 0.02
    k_prior, k_noise = jax.random.split(key)
    start = jax.vmap(lambda k: pfgmpp.prior(k, (2,), 20.0, D))(jax.random.split(k_prior, 300))
    denoiser = lambda x, s: pfgmpp.precondition(exact_network(D), x, s)
    by_hand = jax.vmap(lambda x, k: pfgmpp.heun_sample(denoiser, x, k, sigma_max=20.0)[0])(
        start, jax.random.split(k_noise, 300)
    )
    np.testing.assert_allclose(samples, by_hand, rtol=1e-5, atol=1e-6)
    many = jax.jit(
        jax.vmap(lambda D: pfgmpp.sample(exact_network(D), key, 50, D=D, shape=(2,))[0])
    )(jnp.array([16.0, jnp.inf]))
    assert many.shape == (2, 50, 2) and bool(jnp.all(jnp.isfinite(many)))
    with pytest.raises(ConfigError, match="^n: a positive integer, got 0$"):
        pfgmpp.sample(exact_network(D), key, 0, D=D, shape=(2,))


@pytest.mark.parametrize("D", [2.0, 16.0, 1e5, jnp.inf])
def test_exact_denoiser_reproduces_the_mixture(D):
    key = jax.random.key(0)
    samples, start = sample_mixture(key, D)
    real = mixture_draws(jax.random.key(1), 1000)
    swd = pfgmpp.sliced_wasserstein(samples, real, jax.random.key(2))
    floor = pfgmpp.sliced_wasserstein(
        mixture_draws(jax.random.key(3), 1000), real, jax.random.key(2)
    )
    prior_swd = pfgmpp.sliced_wasserstein(start, real, jax.random.key(2))
    assert swd < 2 * floor + 0.02, (swd, floor)
    assert prior_swd > 20 * swd
    # Every sample lands on a data point, in the right proportions.
    nearest = jnp.min(jnp.linalg.norm(samples[:, None] - POINTS[None], axis=-1), axis=1)
    assert float(jnp.quantile(nearest, 0.99)) < 0.02
    assert sample_mixture._cache_size() == 1  # D is traced: one program for every D


def test_gaussian_mixture_closed_form_for_D_inf():
    """D = inf: a mixture of Gaussians (width s) has the closed-form posterior mean
    sum_k w_k (mu_k + s^2/(s^2 + sigma^2)(x - mu_k)), w_k ~ N(x; mu_k, (s^2 + sigma^2) I)."""
    s = 0.1

    def denoiser(x, sigma):
        var = s**2 + sigma**2
        logw = -jnp.sum((x - POINTS) ** 2, axis=1) / (2 * var)
        w = jax.nn.softmax(logw)
        return jnp.sum(w[:, None] * (POINTS + s**2 / var * (x - POINTS)), axis=0)

    n = 3000
    start = jax.vmap(lambda k: pfgmpp.prior(k, (2,), 80.0, jnp.inf))(
        jax.random.split(jax.random.key(0), n)
    )
    samples = jax.jit(jax.vmap(lambda x: pfgmpp.heun_sample(denoiser, x, steps=30)[0]))(start)
    offsets = samples[:, None] - POINTS[None]
    mode = np.asarray(jnp.argmin(jnp.linalg.norm(offsets, axis=-1), axis=1))
    counts = np.bincount(mode, minlength=3)
    # Equal weights within binomial error, and each mode a Gaussian of width s.
    assert np.all(np.abs(counts - n / 3) < 4 * np.sqrt(n * 2 / 9)), counts
    for k in range(3):
        within = np.asarray(offsets[mode == k, k])
        np.testing.assert_allclose(within.std(axis=0), s, rtol=0.1)
        np.testing.assert_allclose(within.mean(axis=0), 0.0, atol=0.02)


def test_noise_and_churn_use_the_key():
    @jax.jit
    def run(key, alpha, churn):
        return pfgmpp.heun_sample(
            lambda x, s: 0.5 * x, jnp.ones(4), key, steps=5, sigma_max=5.0, alpha=alpha, churn=churn
        )[0]

    k1, k2 = jax.random.key(1), jax.random.key(2)
    plain = run(k1, 0.0, 0.0)
    for alpha, churn in ((0.2, 0.0), (0.0, 10.0)):
        a, b, c = run(k1, alpha, churn), run(k1, alpha, churn), run(k2, alpha, churn)
        np.testing.assert_array_equal(a, b)
        assert not np.allclose(a, c) and not np.allclose(a, plain)
    # With alpha = churn = 0 the key is unused, and the result is the deterministic one.
    np.testing.assert_array_equal(plain, run(k2, 0.0, 0.0))
    np.testing.assert_allclose(
        plain,
        pfgmpp.heun_sample(lambda x, s: 0.5 * x, jnp.ones(4), steps=5, sigma_max=5.0)[0],
        rtol=1e-6,
    )
    assert run._cache_size() == 1


def test_sampler_jit_vmap_grad():
    def run(scale, D):
        x0 = pfgmpp.prior(jax.random.key(0), (3,), 80.0, D)
        return pfgmpp.heun_sample(lambda x, s: scale * x / (1 + s), x0, steps=6)[0].sum()

    g = jax.grad(run)(0.5, 4.0)
    eps = 1e-3
    fd = (run(0.5 + eps, 4.0) - run(0.5 - eps, 4.0)) / (2 * eps)
    np.testing.assert_allclose(g, fd, rtol=2e-2)
    values = jax.jit(jax.vmap(run, (None, 0)))(0.5, jnp.array([1.0, 4.0, jnp.inf]))
    assert values.shape == (3,) and np.all(np.isfinite(values))


def test_bad_sampler_input():
    d = lambda x, s: x
    with pytest.raises(ConfigError, match="^steps: "):
        pfgmpp.heun_sample(d, jnp.ones(2), steps=0)
    with pytest.raises(ConfigError, match="^sigma_min: "):
        pfgmpp.heun_sample(d, jnp.ones(2), sigma_min=80.0, sigma_max=1.0)
    with pytest.raises(ConfigError, match="^sigma_min: "):
        pfgmpp.sigma_steps(10, 0.0, 1.0)
