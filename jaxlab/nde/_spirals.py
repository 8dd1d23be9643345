"""`nde.spirals`: a neural CDE (or a GRU baseline) tells clockwise from anticlockwise
spirals observed at irregular times."""

import dataclasses
import functools
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from matplotlib.figure import Figure

from .._experiment import require, require_integer
from ._cde import INTERPOLATIONS
from ._classify import (
    MODELS,
    class_history,
    class_metrics,
    classifier_training,
    predictions,
    test_logits,
)


@dataclasses.dataclass(frozen=True)
class SpiralsConfig:
    r"""Spirals $x(t) = e^{-a t} R(\pm b t)\,(\cos\phi, \sin\phi)$ on $t \in [0, 4\pi]$
    ($a = 0.3$, $b = 2$, random phase $\phi$; the sign is the class), sampled on a grid of
    `grid` times of which each series keeps a random `1 - drop` fraction (30% dropped by
    default), so every series has its own irregular times. Noise of standard deviation
    `noise` is added. `train`, `validation` and `test` series are drawn independently
    from `data_seed` (settings are chosen on the validation series only); seeds vary the
    model's initialization and minibatches. `model`: `"cde"`, a
    [`NeuralCDE`][jaxlab.nde.NeuralCDE] with `hidden` channels on a Hermite cubic path with
    time as a channel (`interpolation`, `intensity` as in
    [`control_path`][jaxlab.nde.control_path]); or `"gru"`, the baseline
    [`GRUClassifier`][jaxlab.nde.GRUClassifier] with `hidden` channels. Trained with Adam
    on minibatches."""

    model: str = "cde"
    train: int = 256
    validation: int = 256
    test: int = 256
    grid: int = 100
    drop: float = 0.3
    noise: float = 0.02
    hidden: int = 8
    width: int = 128
    depth: int = 1
    interpolation: str = "hermite"
    intensity: bool = False
    rtol: float = 1e-3
    atol: float = 1e-5
    learning_rate: float = 1e-2
    batch_size: int = 32
    steps: int = 100
    data_seed: int = 0

    channels = 2
    classes = 2

    def __post_init__(self):
        require(self.model in MODELS, "model", f"one of {', '.join(MODELS)}", self.model)
        sizes = ("train", "validation", "test", "hidden", "width", "depth", "batch_size", "steps")
        for name in sizes:
            value = getattr(self, name)
            require_integer(value, name)
        require_integer(self.grid, "grid", 4)
        require(0 <= self.drop < 1, "drop", "a fraction in [0, 1)", self.drop)
        require(round(self.grid * (1 - self.drop)) >= 2, "drop", "leaving >= 2 times", self.drop)
        require(self.noise >= 0, "noise", "a number >= 0", self.noise)
        require(
            self.interpolation in INTERPOLATIONS,
            "interpolation",
            f"one of {', '.join(INTERPOLATIONS)}",
            self.interpolation,
        )
        for name in ("rtol", "atol", "learning_rate"):
            require(getattr(self, name) > 0, name, "a positive number", getattr(self, name))
        require(
            self.batch_size <= self.train,
            "batch_size",
            f"at most train={self.train}",
            self.batch_size,
        )

    @classmethod
    def quick(cls) -> "SpiralsConfig":
        return cls(train=128, validation=128, test=128, steps=40)


def spirals(cfg: SpiralsConfig, n: int, key):
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
def spiral_data(cfg: SpiralsConfig):
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


def report_spirals(cfg: SpiralsConfig, results, out_dir: Path | None) -> dict:
    metrics = class_metrics(cfg, results)
    if out_dir is not None:
        _, _, (times, values, labels) = spiral_data(cfg)
        predicted = np.asarray(predictions(test_logits(cfg, results)[0]))
        fig = Figure(figsize=(10, 4.5))
        for ax, label in zip(fig.subplots(1, 2), (0, 1)):
            for i in np.flatnonzero(np.asarray(labels) == label)[:12]:
                wrong = predicted[i] != label
                ax.plot(*np.asarray(values[i]).T, ".-", ms=2, lw=0.6, color="r" if wrong else "C0")
            kind = "clockwise" if label else "anticlockwise"
            ax.set(title=f"test {kind} spirals (red: misclassified, seed 0)", aspect="equal")
        fig.tight_layout()
        fig.savefig(out_dir / "spirals.png", dpi=110)
    return metrics


EXPERIMENT = TRAINING.experiment(
    "nde.spirals",
    "neural CDE: clockwise vs anticlockwise spirals at irregular times, 30% of points dropped",
    SpiralsConfig,
    report_spirals,
    history=class_history,
)
