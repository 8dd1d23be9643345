r"""Networks $F_\theta(x_\text{in}, c_\text{noise})$ for one example: an MLP for
low-dimensional data and a small U-Net for 8x8 images.

Both embed the noise level with Fourier features of $c_\text{noise} = \tfrac14\ln\sigma$
followed by a small MLP, and return an array of the input's shape. Any callable with
this signature works in [`pfgmpp_loss`][jaxlab.pfgmpp.pfgmpp_loss] and
[`heun_sample`][jaxlab.pfgmpp.heun_sample], including a `flax.nnx` module.
"""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from .._experiment import require
from .._model import Setting


class NoiseEmbedding(eqx.Module):
    r"""$c_\text{noise} \mapsto \mathrm{SiLU}(W\,[\cos 2\pi f_k c, \sin 2\pi f_k c]_k + b)$,
    frequencies $f_k$ geometric from 1/8 to 8 (the range of $c_\text{noise}$ is about
    $[-1.6, 1.1]$ for $\sigma \in [0.002, 80]$)."""

    frequencies: Setting
    linear: eqx.nn.Linear

    def __init__(self, width: int, *, key: PRNGKeyArray, features: int = 16):
        self.frequencies = Setting(jnp.geomspace(1 / 8, 8.0, features // 2))
        self.linear = eqx.nn.Linear(features + 1, width, key=key)

    def __call__(self, c_noise: Float[ArrayLike, ""]) -> Float[Array, " width"]:
        phase = 2 * math.pi * self.frequencies.read() * c_noise
        return jax.nn.silu(
            self.linear(jnp.concatenate([jnp.cos(phase), jnp.sin(phase), c_noise[None]]))
        )


class MLP(eqx.Module):
    r"""A residual MLP $F_\theta(x, c_\text{noise})$ for flat data (any shape, flattened):
    `depth` residual layers of `width`, each shifted by its own projection of the noise
    embedding before the activation."""

    embed: NoiseEmbedding
    inp: eqx.nn.Linear
    hidden: tuple[eqx.nn.Linear, ...]
    film: eqx.nn.Linear
    out: eqx.nn.Linear

    def __init__(self, size: int, *, key: PRNGKeyArray, width: int = 128, depth: int = 3):
        keys = jax.random.split(key, 4 + depth)
        self.embed = NoiseEmbedding(width, key=keys[0])
        self.inp = eqx.nn.Linear(size, width, key=keys[1])
        self.film = eqx.nn.Linear(width, depth * width, key=keys[3])
        self.hidden = tuple(eqx.nn.Linear(width, width, key=k) for k in keys[4:])
        out = eqx.nn.Linear(width, size, key=keys[2])
        self.out = eqx.tree_at(lambda l: l.weight, out, out.weight * 0.1)

    def __call__(
        self, x: Float[ArrayLike, "..."], c_noise: Float[ArrayLike, ""]
    ) -> Float[Array, "..."]:
        size = self.inp.in_features
        require(x.size == size, "x", f"one example of {size} values (MLP({size}))", x.shape)
        shifts = self.film(self.embed(c_noise)).reshape(len(self.hidden), -1)
        h = self.inp(x.reshape(-1))
        for layer, shift in zip(self.hidden, shifts):
            h = h + layer(jax.nn.silu(h + shift))
        return self.out(jax.nn.silu(h)).reshape(x.shape)


class Conv(eqx.Module):
    r"""A `k x k` convolution with 'same' padding, stride 1, for one `(channels, H, W)`
    image, written as $k^2$ shifted matrix products.

    Mathematically `eqx.nn.Conv2d(c_in, c_out, k, padding=k // 2)`. XLA's CPU
    convolution runs about 100x slower inside a loop (the `lax.scan` of training) than
    outside one on 8x8 images (measured: 334 ms against 3.6 ms per gradient step of one
    16-channel layer on a batch of 128); matrix products do not have that problem.
    """

    weight: Array
    bias: Array

    def __init__(self, c_in: int, c_out: int, size: int = 3, *, key: PRNGKeyArray):
        bound = 1 / math.sqrt(c_in * size * size)
        k_w, k_b = jax.random.split(key)
        self.weight = jax.random.uniform(
            k_w, (c_out, c_in, size, size), minval=-bound, maxval=bound
        )
        self.bias = jax.random.uniform(k_b, (c_out,), minval=-bound, maxval=bound)

    def __call__(self, x: Float[ArrayLike, "c h w"]) -> Float[Array, "o h w"]:
        size = self.weight.shape[-1]
        pad = size // 2
        _, height, width = x.shape
        padded = jnp.pad(x, ((0, 0), (pad, pad), (pad, pad)))
        out = self.bias[:, None, None]
        for i in range(size):
            for j in range(size):
                window = padded[:, i : i + height, j : j + width]
                out = out + jnp.einsum("oc,chw->ohw", self.weight[:, :, i, j], window)
        return out


class _ResBlock(eqx.Module):
    norm1: eqx.nn.GroupNorm
    conv1: Conv
    emb: eqx.nn.Linear
    norm2: eqx.nn.GroupNorm
    conv2: Conv
    skip: Conv | None

    def __init__(self, c_in: int, c_out: int, width: int, *, key: PRNGKeyArray):
        k1, k2, k3, k4 = jax.random.split(key, 4)
        self.norm1 = eqx.nn.GroupNorm(min(4, c_in), c_in)
        self.conv1 = Conv(c_in, c_out, 3, key=k1)
        self.emb = eqx.nn.Linear(width, c_out, key=k2)
        self.norm2 = eqx.nn.GroupNorm(min(4, c_out), c_out)
        conv2 = Conv(c_out, c_out, 3, key=k3)
        self.conv2 = eqx.tree_at(lambda c: c.weight, conv2, conv2.weight * 0.1)
        self.skip = None if c_in == c_out else Conv(c_in, c_out, 1, key=k4)

    def __call__(self, x, e):
        h = self.conv1(jax.nn.silu(self.norm1(x)))
        h = h + self.emb(e)[:, None, None]
        h = self.conv2(jax.nn.silu(self.norm2(h)))
        return h + (x if self.skip is None else self.skip(x))


class UNet(eqx.Module):
    r"""A small U-Net $F_\theta(x, c_\text{noise})$ for `(channels, H, W)` images with even
    H, W (8x8 digits): a residual block at full resolution, one at half resolution (twice
    the channels), and a residual block on the upsampled features concatenated with the
    skip connection; GroupNorm, SiLU, the noise embedding added in every block."""

    embed: NoiseEmbedding
    inp: Conv
    down: _ResBlock
    mid: tuple[_ResBlock, _ResBlock]
    up: _ResBlock
    out: Conv

    def __init__(self, channels: int = 1, *, key: PRNGKeyArray, width: int = 32):
        keys = jax.random.split(key, 7)
        emb = 4 * width
        self.embed = NoiseEmbedding(emb, key=keys[0])
        self.inp = Conv(channels, width, 3, key=keys[1])
        self.down = _ResBlock(width, width, emb, key=keys[2])
        self.mid = (
            _ResBlock(width, 2 * width, emb, key=keys[3]),
            _ResBlock(2 * width, 2 * width, emb, key=keys[4]),
        )
        self.up = _ResBlock(3 * width, width, emb, key=keys[5])
        out = Conv(width, channels, 3, key=keys[6])
        self.out = eqx.tree_at(lambda c: c.weight, out, out.weight * 0.1)

    def __call__(
        self, x: Float[ArrayLike, "c h w"], c_noise: Float[ArrayLike, ""]
    ) -> Float[Array, "c h w"]:
        e = self.embed(c_noise)
        h = self.down(self.inp(x), e)
        c, height, width = h.shape
        low = h.reshape(c, height // 2, 2, width // 2, 2).mean(axis=(2, 4))
        for block in self.mid:
            low = block(low, e)
        up = jnp.repeat(jnp.repeat(low, 2, axis=1), 2, axis=2)
        h = self.up(jnp.concatenate([h, up], axis=0), e)
        return self.out(jax.nn.silu(h))


NETWORKS = ("mlp", "unet")


def toy_network(cfg, key: PRNGKeyArray) -> MLP:
    """The network of `pfgmpp.toy`: an `MLP` on 2-D points (`cfg.width`, `cfg.depth`)."""
    return MLP(2, key=key, width=cfg.width, depth=cfg.depth)


def digits_network(cfg, key: PRNGKeyArray) -> MLP | UNet:
    """The network of `pfgmpp.digits`: a `UNet` of `cfg.unet_width` channels if
    `cfg.network == "unet"`, else an `MLP` on the 64 pixels (`cfg.width`, `cfg.depth`)."""
    if cfg.network == "unet":
        return UNet(1, key=key, width=cfg.unet_width)
    return MLP(64, key=key, width=cfg.width, depth=cfg.depth)
