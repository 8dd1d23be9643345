"""`nde.vowels`: a neural CDE on the JapaneseVowels data set (UEA archive), read from the
files that the `aeon` package ships (`pip install "jaxlab[data]"`)."""

import dataclasses
import functools
from pathlib import Path

import jax.numpy as jnp
import numpy as np

from .._experiment import ConfigError, require
from ._cde import INTERPOLATIONS, pad_series
from ._classify import (
    class_history,
    class_metrics,
    classifier_training,
    confusion_figure,
    predictions,
    test_logits,
)


@dataclasses.dataclass(frozen=True)
class VowelsConfig:
    r"""JapaneseVowels: 12 LPC cepstrum coefficients of two vowels uttered by 9 speakers,
    7 to 29 frames each; classify the speaker. The standard split: 270 training and 370
    test series. Frame $i$ is observed at time $i \cdot$ `frame_time`; channels are
    standardized with the training mean and deviation. A
    [`NeuralCDE`][jaxlab.nde.NeuralCDE] with `hidden` channels on a Hermite cubic path
    with time as a channel, trained with Adam."""

    hidden: int = 16
    width: int = 32
    depth: int = 1
    interpolation: str = "hermite"
    intensity: bool = False
    frame_time: float = 0.1
    rtol: float = 1e-3
    atol: float = 1e-5
    learning_rate: float = 3e-3
    batch_size: int = 64
    steps: int = 300

    channels = 12
    classes = 9

    def __post_init__(self):
        for name in ("hidden", "width", "depth", "steps"):
            value = getattr(self, name)
            require(isinstance(value, int) and value >= 1, name, "a positive integer", value)
        require(
            isinstance(self.batch_size, int) and 1 <= self.batch_size <= 270,
            "batch_size",
            "an integer in [1, 270]",
            self.batch_size,
        )
        require(
            self.interpolation in INTERPOLATIONS,
            "interpolation",
            f"one of {', '.join(INTERPOLATIONS)}",
            self.interpolation,
        )
        for name in ("frame_time", "rtol", "atol", "learning_rate"):
            require(getattr(self, name) > 0, name, "a positive number", getattr(self, name))

    @classmethod
    def quick(cls) -> "VowelsConfig":
        return cls(steps=60)


@functools.cache
def _load(split: str):
    try:
        from aeon.datasets import load_classification
    except ImportError:
        raise ConfigError(
            'nde.vowels: needs the aeon package: pip install "jaxlab[data]"'
        ) from None
    series, labels = load_classification("JapaneseVowels", split=split)
    return [np.asarray(x, float).T for x in series], np.asarray(labels).astype(int) - 1


def vowel_data(cfg: VowelsConfig):
    """`(times, values, labels)` for the train and test splits: NaN-padded arrays."""
    (train, train_labels), (test, test_labels) = _load("train"), _load("test")
    stacked = np.concatenate(train)
    mean, std = stacked.mean(0), stacked.std(0)
    out = []
    for series, labels in ((train, train_labels), (test, test_labels)):
        times, values = pad_series(
            [cfg.frame_time * np.arange(len(x)) for x in series], [(x - mean) / std for x in series]
        )
        out.append((times, values, jnp.asarray(labels)))
    return tuple(out)


TRAINING = classifier_training(vowel_data)


def report_vowels(cfg: VowelsConfig, results, out_dir: Path | None) -> dict:
    metrics = class_metrics(results)
    if out_dir is not None:
        labels = _load("test")[1]
        predicted = np.stack([predictions(logits) for logits in test_logits(results)])
        names = [str(c + 1) for c in range(cfg.classes)]
        fig = confusion_figure(labels, predicted, cfg.classes, names)
        fig.savefig(out_dir / "confusion.png", dpi=110)
    return metrics


EXPERIMENT = TRAINING.experiment(
    "nde.vowels",
    "neural CDE on JapaneseVowels (12 channels, variable length, 9 speakers; 270/370 split)",
    VowelsConfig,
    report_vowels,
    history=class_history,
)
