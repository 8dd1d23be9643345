"""Data without downloads: 2-D toys drawn in JAX, and scikit-learn's bundled 8x8 digits."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from .._experiment import import_extra, require
from .._train import sampler


TOYS = ("moons", "eight_gaussians")


def two_moons(key: PRNGKeyArray, n: int, noise: float = 0.05) -> Float[Array, "n 2"]:
    """`n` points of scikit-learn's two moons (each point on either moon with
    probability 1/2, Gaussian `noise`), centred and scaled by 1/2 so that the
    per-coordinate spread is about 0.5 (EDM's sigma_data)."""
    k_moon, k_angle, k_noise = jax.random.split(key, 3)
    upper = jax.random.bernoulli(k_moon, 0.5, (n,))
    t = jax.random.uniform(k_angle, (n,), maxval=jnp.pi)
    x = jnp.where(upper, jnp.cos(t), 1 - jnp.cos(t))
    y = jnp.where(upper, jnp.sin(t), 0.5 - jnp.sin(t))
    points = jnp.stack([x, y], axis=1) + noise * jax.random.normal(k_noise, (n, 2))
    return (points - jnp.array([0.5, 0.25])) / 2


def eight_gaussians(
    key: PRNGKeyArray, n: int, radius: float = 0.7, std: float = 0.07
) -> Float[Array, "n 2"]:
    """`n` points of eight Gaussians of standard deviation `std` centred on a circle of
    `radius` (per-coordinate spread about 0.5)."""
    k_mode, k_noise = jax.random.split(key)
    angle = 2 * jnp.pi * jax.random.randint(k_mode, (n,), 0, 8) / 8
    centres = radius * jnp.stack([jnp.cos(angle), jnp.sin(angle)], axis=1)
    return centres + std * jax.random.normal(k_noise, (n, 2))


def toy_sampler(name: str):
    """`sample(key, n) -> (n, 2)` of the 2-D data set `name` (one of `TOYS`)."""
    require(name in TOYS, "dataset", f"one of {', '.join(TOYS)}", name)
    return two_moons if name == "moons" else eight_gaussians


@functools.lru_cache(maxsize=4)
def digits(test_fraction: float = 1 / 3, split_seed: int = 0):
    """scikit-learn's 8x8 digits (1797 images, bundled with the package) scaled from
    0..16 to [-1, 1], as `(x_train, y_train, x_test, y_test)` NumPy arrays, images of
    shape `(1, 8, 8)`, split once by a fixed permutation."""
    datasets = import_extra("sklearn.datasets", "pfgmpp.digits", "scikit-learn")
    data = datasets.load_digits()
    x = (data.data.astype(np.float32) / 8.0 - 1.0).reshape(-1, 1, 8, 8)
    y = data.target.astype(np.int32)
    order = np.random.default_rng(split_seed).permutation(len(x))
    n_test = int(round(len(x) * test_fraction))
    test, train = order[:n_test], order[n_test:]
    return x[train], y[train], x[test], y[test]


def toy_batches(cfg, data: None):
    """`batches(cfg, data)` of `pfgmpp.toy`: `cfg.batch_size` fresh points of
    `cfg.dataset` per step (the toys have no stored data)."""
    draw = toy_sampler(cfg.dataset)
    return lambda key: draw(key, cfg.batch_size)


def digits_train(cfg) -> dict[str, np.ndarray]:
    """The training images (host side, once per run; an argument of the programs)."""
    return {"train": digits()[0]}


def digits_batches(cfg, data):
    """`batches(cfg, data)` of the digits experiments: `cfg.batch_size` training images
    per step."""
    return sampler(data["train"], cfg.batch_size)
