"""EDM preconditioning, noise-level samplers and the PFGM++ loss."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import jaxlab
from jaxlab import ConfigError, pfgmpp


SIGMAS = jnp.geomspace(0.002, 80.0, 25)


@pytest.mark.parametrize("sigma_data", [0.5, 1.3])
def test_preconditioning_identities(sigma_data):
    c_skip, c_out, c_in, c_noise = pfgmpp.edm_scalings(SIGMAS, sigma_data)
    weight = pfgmpp.loss_weight(SIGMAS, sigma_data)
    np.testing.assert_allclose(weight * c_out**2, 1.0, rtol=1e-5)
    # Unit-variance network input, and unit-variance effective training target.
    np.testing.assert_allclose(c_in**2 * (SIGMAS**2 + sigma_data**2), 1.0, rtol=1e-5)
    np.testing.assert_allclose(
        c_out**2, (1 - c_skip) ** 2 * sigma_data**2 + c_skip**2 * SIGMAS**2, rtol=1e-5
    )
    np.testing.assert_allclose(c_noise, jnp.log(SIGMAS) / 4, rtol=1e-6)
    # c_skip -> 1 (identity) as sigma -> 0, -> 0 as sigma -> inf.
    assert c_skip[0] > 0.9999 and c_skip[-1] < 1e-3


def test_precondition_of_zero_network_is_the_skip():
    x = jnp.array([0.5, -2.0])
    zero = lambda x, c: jnp.zeros_like(x)
    np.testing.assert_allclose(
        pfgmpp.precondition(zero, x, 0.8), pfgmpp.edm_scalings(0.8)[0] * x, rtol=1e-6
    )


def test_sigma_samplers():
    key = jax.random.key(0)
    s = pfgmpp.log_normal(-1.2, 1.2)(key, (20000,))
    assert abs(float(jnp.log(s).mean()) + 1.2) < 0.03
    assert abs(float(jnp.log(s).std()) - 1.2) < 0.03
    u = pfgmpp.log_uniform(0.02, 100.0)(key, (20000,))
    assert 0.02 <= float(u.min()) and float(u.max()) <= 100.0
    with pytest.raises(ConfigError, match="^sigma_min: "):
        pfgmpp.log_uniform(5.0, 1.0)


NET = pfgmpp.MLP(2, key=jax.random.key(1), width=16, depth=2)
BATCH = jax.random.normal(jax.random.key(2), (32, 2)) * 0.5


def test_loss_matches_its_definition():
    key = jax.random.key(3)
    D = 7.0
    loss, aux = pfgmpp.pfgmpp_loss(NET, BATCH, key, D)
    # The same draws by hand: sigma, then one kernel draw per example.
    k_sigma, k_noise = jax.random.split(key)
    sigma = pfgmpp.log_normal()(k_sigma, (32,))
    noise = jax.vmap(lambda k, s: pfgmpp.perturbation(k, (2,), s, D))(
        jax.random.split(k_noise, 32), sigma
    )
    denoised = jax.vmap(lambda x, s: pfgmpp.precondition(NET, x, s))(BATCH + noise, sigma)
    manual = jnp.mean(pfgmpp.loss_weight(sigma) * jnp.sum((denoised - BATCH) ** 2, axis=1))
    np.testing.assert_allclose(loss, manual, rtol=1e-5)
    np.testing.assert_allclose(aux["sigma"], sigma.mean(), rtol=1e-6)


def test_loss_is_deterministic_and_vmaps_over_D():
    key = jax.random.key(4)
    Ds = jnp.array([1.0, 16.0, jnp.inf])
    f = jax.jit(jax.vmap(lambda D: pfgmpp.pfgmpp_loss(NET, BATCH, key, D)[0]))
    together = f(Ds)
    one_by_one = [pfgmpp.pfgmpp_loss(NET, BATCH, key, D)[0] for D in (1.0, 16.0, jnp.inf)]
    np.testing.assert_allclose(together, one_by_one, rtol=1e-5)
    np.testing.assert_array_equal(together, f(Ds))
    other = pfgmpp.pfgmpp_loss(NET, BATCH, jax.random.key(5), 16.0)[0]
    assert other != one_by_one[1]
    grads = eqx.filter_grad(lambda m: pfgmpp.pfgmpp_loss(m, BATCH, key, 3.0)[0])(NET)
    assert all(np.all(np.isfinite(g)) for g in jax.tree.leaves(grads))
    # The noise embedding's frequencies are a setting: never trained.
    params, buffers, _ = jaxlab.split_model(NET)
    assert params.embed.frequencies is None and buffers.embed.frequencies is not None


def test_loss_rejects_bad_input():
    with pytest.raises(ConfigError, match="^D: "):
        pfgmpp.pfgmpp_loss(NET, BATCH, jax.random.key(0), 0.0)
    with pytest.raises(ConfigError, match="^batch: "):
        pfgmpp.pfgmpp_loss(NET, BATCH.at[0, 0].set(jnp.nan), jax.random.key(0), 2.0)


class FlaxNet(nnx.Module):
    """A flax.nnx network with the per-example signature net(x, c_noise)."""

    def __init__(self, rngs: nnx.Rngs):
        self.hidden = nnx.Linear(3, 32, rngs=rngs)
        self.out = nnx.Linear(32, 2, rngs=rngs)

    def __call__(self, x, c_noise):
        return self.out(jax.nn.silu(self.hidden(jnp.concatenate([x, c_noise[None]]))))


def test_flax_nnx_network_trains_through_fit():
    data = pfgmpp.two_moons(jax.random.key(0), 512)
    out = jaxlab.fit(
        lambda model, batch, key: pfgmpp.pfgmpp_loss(model, batch, key, 10.0),
        lambda key: FlaxNet(nnx.Rngs(key)),
        optax.adam(3e-3),
        data,
        steps=300,
        seeds=2,
        batch_size=128,
        chunk_size=300,
    )
    assert not np.any(out.diverged)
    # On a large fixed batch with fixed noise, each trained model beats its initial one.
    test = pfgmpp.two_moons(jax.random.key(1), 4096)
    key = jax.random.key(2)
    for seed in range(2):
        trained = pfgmpp.pfgmpp_loss(out.model(seed), test, key, 10.0)[0]
        initial = pfgmpp.pfgmpp_loss(FlaxNet(nnx.Rngs(seed)), test, key, 10.0)[0]
        assert trained < 0.9 * initial
