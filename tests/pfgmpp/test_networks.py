"""Networks: shapes, the matrix-product convolution against equinox's, transforms."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

import jaxlab
from jaxlab import pfgmpp


def test_conv_matches_equinox():
    for size in (1, 3):
        ours = pfgmpp.Conv(3, 5, size, key=jax.random.key(0))
        ref = eqx.nn.Conv2d(3, 5, size, padding=size // 2, key=jax.random.key(1))
        ref = eqx.tree_at(
            lambda c: (c.weight, c.bias), ref, (ours.weight, ours.bias[:, None, None])
        )
        x = jax.random.normal(jax.random.key(2), (3, 8, 8))
        np.testing.assert_allclose(ours(x), ref(x), atol=1e-5)


@eqx.filter_jit
def outputs_and_gradient(net, x, c):
    """The batched outputs and the gradient of their sum of squares, one program."""
    loss = lambda m: (jnp.sum(jax.vmap(m)(x, c) ** 2), jax.vmap(m)(x, c))
    return eqx.filter_grad(loss, has_aux=True)(net)[::-1]


def test_networks_shapes_and_transforms():
    unet = pfgmpp.UNet(1, key=jax.random.key(0), width=8)
    mlp = pfgmpp.MLP(64, key=jax.random.key(1), width=32, depth=2)
    x = jax.random.normal(jax.random.key(2), (4, 1, 8, 8))
    c = jnp.linspace(-1.5, 1.0, 4)
    for net in (unet, mlp):
        # The same image at two noise levels (first and last) gives different outputs.
        same = jnp.concatenate([x[:1], x[:1]])
        out, grads = outputs_and_gradient(net, jnp.concatenate([x, same]), jnp.append(c, c[::3]))
        assert out.shape == (6, *x.shape[1:]) and np.all(np.isfinite(out))
        leaves = jax.tree.leaves(grads)
        assert leaves and all(np.all(np.isfinite(g)) for g in leaves)
        assert not np.allclose(out[4], out[5])
        # The Fourier frequencies are settings, never trained.
        params, _, _ = jaxlab.split_model(net)
        assert params.embed.frequencies is None
