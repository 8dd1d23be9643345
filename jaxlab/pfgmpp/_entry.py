"""[`pfgmpp.train`][jaxlab.pfgmpp.train]: PFGM++ on a data set of your own."""

import dataclasses
import functools
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import ArrayLike

from .._config import option
from .._experiment import require
from .._train import Trained, fit, overridden
from ._metrics import sliced_wasserstein
from ._networks import MLP
from ._recipe import EDMSettings, generate, training_loss, training_optimizer


@dataclasses.dataclass(frozen=True)
class Settings(EDMSettings):
    """Settings of [`pfgmpp.train`][jaxlab.pfgmpp.train]: `steps` Adam steps of batch
    `batch_size` (warm-up, cosine decay from `learning_rate`, gradient clipping at 1) of
    a residual [`MLP`][jaxlab.pfgmpp.MLP] (`width`, `depth`) unless a network is given;
    then `n_eval` samples per seed compared with as many data rows by the sliced
    Wasserstein distance over `n_projections` directions (`n_eval=0`: no evaluation).
    The EDM fields (`sigma_data`, ..., `rho`) are those of every PFGM++ experiment."""

    steps: int = option(2000, "Adam steps", minimum=1)
    batch_size: int = option(128, "data rows per step", minimum=1)
    learning_rate: float = option(
        2e-3, "peak learning rate (5% warm-up, cosine decay to a tenth)", above=0
    )
    width: int = option(128, "hidden width of the default MLP", minimum=1)
    depth: int = option(3, "residual layers of the default MLP", minimum=1)
    n_eval: int = option(
        1000, "samples per seed scored against as many data rows (0: none)", minimum=0
    )
    n_projections: int = option(
        128, "random directions of the sliced Wasserstein distance", minimum=1
    )


TRAIN_KEYWORDS = "D, network, seeds, key, progress, checkpoint_dir, chunk_size"


def train(
    data: ArrayLike,
    settings: Settings | None = None,
    *,
    D: float,
    network: Callable[[Any], Any] | None = None,
    seeds: int = 1,
    key: int = 0,
    progress: bool = False,
    checkpoint_dir: str | Path | None = None,
    chunk_size: int = 500,
    **overrides: Any,
) -> Trained:
    r"""Train a PFGM++ model of augmentation dimension `D` on `data` (rows are examples
    of any shape; `D = inf` is EDM), all seeds vmapped in one program; then sample each
    seed's model with [`sample`][jaxlab.pfgmpp.sample] on the same noise schedule and
    score it.

    **Arguments:**

    - `data`: `[N, *shape]`, finite, scaled to about unit size (EDM's `sigma_data` is
      0.5).
    - `settings`: [`pfgmpp.Settings`][jaxlab.pfgmpp.Settings], with fields replaced by
      `overrides` (`train(x, D=128, steps=500)`).
    - `network`: `network(key) -> net`, a raw network `net(x_in, c_noise)` of one
      example (an equinox or `flax.nnx` module); default a residual `MLP`.
    - `seeds`, `key`, `progress`, `checkpoint_dir`, `chunk_size`: as in
      [`jaxlab.fit`][jaxlab.fit].

    **Returns:** a [`jaxlab.Trained`][jaxlab.Trained]: `model(seed)`, the curves in
    `fit`, and `metrics["swd"]` (sliced Wasserstein distance of `n_eval` samples to as
    many data rows drawn without replacement; needs `N >= n_eval`).
    """
    settings = overridden(settings, Settings, overrides, TRAIN_KEYWORDS)
    data = np.asarray(data, np.float32)
    require(data.ndim >= 2, "data", "an array [N, *shape] of examples", data.shape)
    require(D > 0, "D", "a number > 0 (inf allowed)", D)
    shape = data.shape[1:]
    size = math.prod(shape)
    network = network or _mlp(size, settings.width, settings.depth)

    require(
        settings.batch_size <= len(data),
        "batch_size",
        f"at most the {len(data)} rows of data",
        settings.batch_size,
    )
    result = fit(
        training_loss(settings, D), network, training_optimizer(settings), data,
        batch_size=settings.batch_size, steps=settings.steps, seeds=seeds, key=key,
        progress=progress, checkpoint_dir=checkpoint_dir, chunk_size=chunk_size,
    )  # fmt: skip
    metrics = {"final_loss": np.asarray(result.losses[:, -1])}
    if settings.n_eval:
        require(
            settings.n_eval <= len(data),
            "n_eval",
            f"at most the {len(data)} rows of data",
            settings.n_eval,
        )
        keys = jax.random.split(jax.random.fold_in(jax.random.key(key), 1), seeds)
        swd = _scores(
            result.layout, result.params, result.buffers, keys, jnp.asarray(data), settings, D
        )
        metrics["swd"] = np.where(np.asarray(result.diverged), np.nan, np.asarray(swd))
    return Trained(result, metrics, settings)


@functools.cache
def _mlp(size: int, width: int, depth: int) -> Callable[[Any], MLP]:
    """The default network's `init(key)` (one object per size, so a second `train`
    reuses the compiled programs)."""
    return functools.partial(_init_mlp, size, width, depth)


def _init_mlp(size, width, depth, key):
    return MLP(size, key=key, width=width, depth=depth)


@eqx.filter_jit
def _scores(layout, params, buffers, keys, data, settings: Settings, D):
    """Every seed's sliced Wasserstein distance, in one vmapped program."""
    n = settings.n_eval

    def one(p, b, key):
        k_sample, k_rows, k_proj = jax.random.split(key, 3)
        samples = generate(layout.merge(p, b), k_sample, settings, D, n, data.shape[1:])[0]
        real = data[jax.random.choice(k_rows, len(data), (n,), replace=False)]
        flat = lambda x: x.reshape(n, -1)
        return sliced_wasserstein(flat(samples), flat(real), k_proj, settings.n_projections)

    return jax.vmap(one)(params, buffers, keys)
