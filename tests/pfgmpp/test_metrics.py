"""Sample-quality metrics and weight quantization."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import linalg

from jaxlab import ConfigError, pfgmpp


def test_sliced_wasserstein_of_a_shift():
    x = jax.random.normal(jax.random.key(0), (500, 3))
    key = jax.random.key(1)
    assert float(pfgmpp.sliced_wasserstein(x, x, key)) == 0.0
    # A shift v moves every projection by theta . v: SWD^2 = E(theta . v)^2 = |v|^2 / d.
    v = jnp.array([0.3, -0.4, 1.2])
    swd = pfgmpp.sliced_wasserstein(x + v, x, key, n_projections=20000)
    np.testing.assert_allclose(swd, jnp.linalg.norm(v) / jnp.sqrt(3.0), rtol=0.02)
    # 1-D: exactly the W2 distance of the sorted samples.
    a, b = x[:, :1], 2 * x[:, 1:2] + 0.5
    exact = jnp.sqrt(jnp.mean((jnp.sort(a[:, 0]) - jnp.sort(b[:, 0])) ** 2))
    np.testing.assert_allclose(pfgmpp.sliced_wasserstein(a, b, key), exact, rtol=1e-5)
    # jit, vmap and grad.
    f = jax.jit(jax.vmap(lambda s: pfgmpp.sliced_wasserstein(x + s, x, key)))
    assert f(jnp.array([0.0, 1.0])).shape == (2,)
    g = jax.grad(lambda s: pfgmpp.sliced_wasserstein(x + s * v, x, key))(1.0)
    assert np.isfinite(g) and g > 0


def test_mmd():
    key1, key2, key3 = jax.random.split(jax.random.key(0), 3)
    x = jax.random.normal(key1, (400, 2))
    y = jax.random.normal(key2, (400, 2))
    z = jax.random.normal(key3, (400, 2)) + 1.0
    assert abs(float(pfgmpp.mmd(x, x))) < 1e-6
    assert 0 <= float(pfgmpp.mmd(x, y)) < float(pfgmpp.mmd(x, z))
    g = jax.grad(lambda s: pfgmpp.mmd(x + s, y))(0.5)
    assert np.isfinite(g) and g > 0
    # Unequal sizes work.
    assert np.isfinite(pfgmpp.mmd(x[:100], y))


def test_frechet_distance_against_scipy():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(800, 5)) @ rng.normal(size=(5, 5))
    b = rng.normal(size=(700, 5)) @ rng.normal(size=(5, 5)) + 0.3
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    reference = np.sum((mu_a - mu_b) ** 2) + np.trace(
        cov_a + cov_b - 2 * np.real(linalg.sqrtm(cov_a @ cov_b))
    )
    np.testing.assert_allclose(pfgmpp.frechet_distance(a, b), reference, rtol=1e-8)
    assert abs(pfgmpp.frechet_distance(a, a)) < 1e-8


def test_quantize():
    model = pfgmpp.MLP(2, key=jax.random.key(0), width=16, depth=1)
    for bits in (5, 8):
        q = pfgmpp.quantize(model, bits)
        w, wq = model.inp.weight, q.inp.weight
        assert len(np.unique(np.asarray(wq))) <= 2**bits
        step = (w.max() - w.min()) / (2**bits - 1)
        assert float(jnp.max(jnp.abs(w - wq))) <= step / 2 * 1.001
        # Biases and settings are kept.
        np.testing.assert_array_equal(q.inp.bias, model.inp.bias)
        np.testing.assert_array_equal(q.embed.frequencies.value, model.embed.frequencies.value)
    q8, q5 = pfgmpp.quantize(model, 8), pfgmpp.quantize(model, 5)
    err = lambda q: float(jnp.max(jnp.abs(q.hidden[0].weight - model.hidden[0].weight)))
    assert err(q8) < err(q5)
    with pytest.raises(ConfigError, match="^bits: "):
        pfgmpp.quantize(model, 0)


def test_fid_digits_and_label_coverage():
    model, accuracy = pfgmpp.digits_classifier()
    assert accuracy > 0.93
    x_train, _, x_test, _ = pfgmpp.digits()
    assert x_train.shape[1:] == (1, 8, 8) and x_train.min() >= -1 and x_train.max() <= 1
    floor = pfgmpp.fid_digits(x_train[: len(x_test)])
    noise = pfgmpp.fid_digits(np.random.default_rng(0).uniform(-1, 1, x_test.shape))
    assert 0 < floor < 0.2 * noise
    assert pfgmpp.label_coverage(x_test) == 10
    assert pfgmpp.label_coverage(np.repeat(x_test[:1], 100, axis=0)) == 1
    with pytest.raises(ConfigError, match="^images: "):
        pfgmpp.fid_digits(np.full(x_test.shape, np.nan))


def test_metrics_reject_nan():
    x = jnp.zeros((10, 2))
    with pytest.raises(ConfigError, match="^x: "):
        pfgmpp.sliced_wasserstein(x.at[0, 0].set(jnp.nan), x, jax.random.key(0))
    with pytest.raises(ConfigError, match="^y: "):
        pfgmpp.mmd(x, x.at[0, 0].set(jnp.nan))
