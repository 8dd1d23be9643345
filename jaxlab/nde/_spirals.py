"""Clockwise and anticlockwise spirals observed at irregular times, and the
[`Training`][jaxlab.Training] of a neural CDE (or a GRU baseline) that tells them apart,
run by the experiment `nde.spirals`.

`cfg` is a [`SpiralsConfig`][jaxlab.nde.SpiralsConfig] (its fields say what each setting
is)."""

import functools

import jax
import jax.numpy as jnp

from ._classify import classifier_training


def spirals(cfg, n: int, key):
    """`n` irregularly observed spirals: NaN-free `(n, kept)` times, `(n, kept, 2)`
    values, and labels (1: clockwise)."""
    k_phase, k_label, k_keep, k_noise = jax.random.split(key, 4)
    kept = round(cfg.grid * (1 - cfg.drop))
    grid = jnp.linspace(0.0, 4 * jnp.pi, cfg.grid)
    keep = jax.vmap(lambda k: jnp.sort(jax.random.permutation(k, cfg.grid)[:kept]))(
        jax.random.split(k_keep, n)
    )
    times = grid[keep]
    phase = jax.random.uniform(k_phase, (n, 1), maxval=2 * jnp.pi)
    labels = jax.random.bernoulli(k_label, 0.5, (n,)).astype(jnp.int32)
    angle = phase + jnp.where(labels[:, None] == 1, -2.0, 2.0) * times
    values = jnp.exp(-0.3 * times)[..., None] * jnp.stack([jnp.cos(angle), jnp.sin(angle)], -1)
    values = values + cfg.noise * jax.random.normal(k_noise, values.shape)
    return times, values, labels


@functools.partial(jax.jit, static_argnums=0)
def spiral_data(cfg):
    """The `(times, values, labels)` of the train, validation and test series, drawn by
    one compiled program, outside the training programs (which receive them as data)."""
    # The first two keys are those of the train/test split before validation was added.
    k_train, k_test, k_validation = jax.random.split(jax.random.key(cfg.data_seed), 3)
    return (
        spirals(cfg, cfg.train, k_train),
        spirals(cfg, cfg.validation, k_validation),
        spirals(cfg, cfg.test, k_test),
    )


TRAINING = classifier_training(spiral_data)
