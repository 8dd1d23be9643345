"""`nde.vowels`: a neural CDE (or a GRU baseline) on the JapaneseVowels data set (UEA
archive), read from the files that the `aeon` package ships (`pip install
"jaxlab[data]"`)."""

import dataclasses
from pathlib import Path

import numpy as np

from ..._config import Config, option
from ..._experiment import require
from .._cde import INTERPOLATIONS
from .._classify import (
    MODELS,
    class_history,
    class_metrics,
    confusion_figure,
    predictions,
    test_logits,
)
from .._vowels import CLASSES, TRAIN, TRAINING, _held_out, _load


@dataclasses.dataclass(frozen=True)
class VowelsConfig(Config):
    r"""JapaneseVowels: 12 LPC cepstrum coefficients of two vowels uttered by 9 speakers,
    7 to 29 frames each; classify the speaker. The standard split: 270 training and 370
    test series; a stratified `validation_fraction` of the training series (per speaker,
    drawn from `data_seed`) is held out for choosing settings, and the model trains on
    the rest. Frame $i$ is observed at time $i \cdot$ `frame_time`; channels are
    standardized with the mean and deviation of the series trained on. `model`:
    `"cde"`, a [`NeuralCDE`][jaxlab.nde.NeuralCDE] with `hidden` channels on a Hermite
    cubic path with time as a channel; or `"gru"`, the baseline
    [`GRUClassifier`][jaxlab.nde.GRUClassifier] with `hidden` channels on the same
    observations. Both are trained with Adam."""

    model: str = option("cde", "the classifier: a neural CDE, or the GRU baseline", choices=MODELS)
    hidden: int = option(16, "size of the hidden state of the CDE (or GRU)", minimum=1)
    width: int = option(32, "hidden width of the CDE's vector field MLP", minimum=1)
    depth: int = option(1, "hidden layers of the CDE's vector field MLP", minimum=1)
    interpolation: str = option(
        "hermite", "the CDE's control path through the observations", choices=INTERPOLATIONS
    )
    intensity: bool = option(False, "add the cumulative observation count as channels")
    frame_time: float = option(0.1, "time between two frames", above=0)
    rtol: float = option(1e-3, "relative tolerance of the CDE solve", above=0)
    atol: float = option(1e-5, "absolute tolerance of the CDE solve", above=0)
    learning_rate: float = option(3e-3, "Adam's learning rate", above=0)
    batch_size: int = option(64, "series per minibatch", minimum=1)
    steps: int = option(150, "training steps", minimum=1)
    validation_fraction: float = option(
        0.2, "fraction of each speaker's training series held out for validation",
        above=0, maximum=0.5,
    )  # fmt: skip
    data_seed: int = option(0, "seed of the validation split", minimum=0)

    channels = 12
    classes = 9

    def check(self):
        train = TRAIN - CLASSES * _held_out(self.validation_fraction)
        require(
            self.batch_size <= train,
            "batch_size",
            f"at most {train} (the series trained on)",
            self.batch_size,
        )

    @classmethod
    def quick(cls) -> "VowelsConfig":
        return cls(steps=60)


def report(cfg: VowelsConfig, results, out_dir: Path | None) -> dict:
    metrics = class_metrics(cfg, results)
    if out_dir is not None:
        labels = _load("test")[1]
        predicted = np.stack([predictions(logits) for logits in test_logits(cfg, results)])
        names = [str(c + 1) for c in range(cfg.classes)]
        fig = confusion_figure(labels, predicted, cfg.classes, names)
        fig.savefig(out_dir / "confusion.png", dpi=110)
    return metrics


EXPERIMENT = TRAINING.experiment(
    "nde.vowels",
    "neural CDE (or --set model=gru, a GRU) on JapaneseVowels (12 channels, variable "
    "length, 9 speakers; 270/370 split, 54 training series held out for validation)",
    VowelsConfig,
    report,
    history=class_history,
)
