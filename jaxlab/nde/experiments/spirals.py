"""`nde.spirals`: a neural CDE (or a GRU baseline) tells clockwise from anticlockwise
spirals observed at irregular times."""

import dataclasses
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from ..._config import Config, option
from ..._experiment import require
from .._cde import INTERPOLATIONS
from .._classify import MODELS, class_history, class_metrics, predictions, test_logits
from .._spirals import TRAINING, spiral_data


@dataclasses.dataclass(frozen=True)
class SpiralsConfig(Config):
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

    model: str = option("cde", "the classifier: a neural CDE, or the GRU baseline", choices=MODELS)
    train: int = option(256, "training series", minimum=1)
    validation: int = option(256, "validation series (for choosing settings)", minimum=1)
    test: int = option(256, "test series", minimum=1)
    grid: int = option(100, "grid times on [0, 4 pi] that series are sampled from", minimum=4)
    drop: float = option(0.3, "fraction of each series' grid times dropped", minimum=0, below=1)
    noise: float = option(0.02, "std of the Gaussian noise on the values", minimum=0)
    hidden: int = option(8, "size of the hidden state of the CDE (or GRU)", minimum=1)
    width: int = option(128, "hidden width of the CDE's vector field MLP", minimum=1)
    depth: int = option(1, "hidden layers of the CDE's vector field MLP", minimum=1)
    interpolation: str = option(
        "hermite", "the CDE's control path through the observations", choices=INTERPOLATIONS
    )
    intensity: bool = option(False, "add the cumulative observation count as channels")
    rtol: float = option(1e-3, "relative tolerance of the CDE solve", above=0)
    atol: float = option(1e-5, "absolute tolerance of the CDE solve", above=0)
    learning_rate: float = option(1e-2, "Adam's learning rate", above=0)
    batch_size: int = option(32, "series per minibatch", minimum=1)
    steps: int = option(100, "training steps", minimum=1)
    data_seed: int = option(0, "seed of the train, validation and test series", minimum=0)

    channels = 2
    classes = 2

    def check(self):
        require(round(self.grid * (1 - self.drop)) >= 2, "drop", "leaving >= 2 times", self.drop)
        require(
            self.batch_size <= self.train,
            "batch_size",
            f"at most train={self.train}",
            self.batch_size,
        )

    @classmethod
    def quick(cls) -> "SpiralsConfig":
        return cls(train=128, validation=128, test=128, steps=40)


def report(cfg: SpiralsConfig, results, out_dir: Path | None) -> dict:
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
    report,
    history=class_history,
)
