"""`nde.vowels`: a neural CDE (or a GRU baseline) on the JapaneseVowels data set (UEA
archive), read from the files that the `aeon` package ships (`pip install
"jaxlab[data]"`)."""

import dataclasses
import functools
from pathlib import Path

import numpy as np

from .._experiment import import_extra, require, require_integer
from ._cde import INTERPOLATIONS, pad_series
from ._classify import (
    MODELS,
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
    test series; a stratified `validation_fraction` of the training series (per speaker,
    drawn from `data_seed`) is held out for choosing settings, and the model trains on
    the rest. Frame $i$ is observed at time $i \cdot$ `frame_time`; channels are
    standardized with the mean and deviation of the series trained on. `model`:
    `"cde"`, a [`NeuralCDE`][jaxlab.nde.NeuralCDE] with `hidden` channels on a Hermite
    cubic path with time as a channel; or `"gru"`, the baseline
    [`GRUClassifier`][jaxlab.nde.GRUClassifier] with `hidden` channels on the same
    observations. Both are trained with Adam."""

    model: str = "cde"
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
    steps: int = 150
    validation_fraction: float = 0.2
    data_seed: int = 0

    channels = 12
    classes = 9

    def __post_init__(self):
        for name in ("hidden", "width", "depth", "steps"):
            value = getattr(self, name)
            require_integer(value, name)
        require(self.model in MODELS, "model", f"one of {', '.join(MODELS)}", self.model)
        require(
            0 < self.validation_fraction <= 0.5,
            "validation_fraction",
            "a fraction in (0, 0.5]",
            self.validation_fraction,
        )
        train = TRAIN - CLASSES * _held_out(self.validation_fraction)
        require(
            isinstance(self.batch_size, int) and 1 <= self.batch_size <= train,
            "batch_size",
            f"an integer in [1, {train}] (the series trained on)",
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


TRAIN, CLASSES, PER_SPEAKER = 270, 9, 30  # the standard training split


def _held_out(fraction: float) -> int:
    """Validation series per speaker (at least one)."""
    return max(1, round(fraction * PER_SPEAKER))


@functools.cache
def _load(split: str):
    datasets = import_extra("aeon.datasets", "nde.vowels", "aeon")
    series, labels = datasets.load_classification("JapaneseVowels", split=split)
    return [np.asarray(x, float).T for x in series], np.asarray(labels).astype(int) - 1


def _split(cfg: VowelsConfig):
    """Indices of the training series trained on and of those held out for validation:
    `_held_out` per speaker, drawn from `data_seed`."""
    labels = _load("train")[1]
    rng = np.random.default_rng(cfg.data_seed)
    held = _held_out(cfg.validation_fraction)
    validation = np.concatenate(
        [rng.permutation(np.flatnonzero(labels == c))[:held] for c in range(CLASSES)]
    )
    return np.setdiff1d(np.arange(len(labels)), validation), np.sort(validation)


def vowel_data(cfg: VowelsConfig):
    """`(times, values, labels)` of the series trained on, the validation series and the
    test series: NaN-padded host arrays (the files are read once per process)."""
    (series, labels), (test, test_labels) = _load("train"), _load("test")
    train, validation = _split(cfg)
    stacked = np.concatenate([series[i] for i in train])
    mean, std = stacked.mean(0), stacked.std(0)
    out = []
    for xs, ys in (
        ([series[i] for i in train], labels[train]),
        ([series[i] for i in validation], labels[validation]),
        (test, test_labels),
    ):
        times, values = pad_series(
            [cfg.frame_time * np.arange(len(x)) for x in xs], [(x - mean) / std for x in xs]
        )
        out.append((np.asarray(times), np.asarray(values), ys.astype(np.int32)))
    return tuple(out)


TRAINING = classifier_training(vowel_data)


def report_vowels(cfg: VowelsConfig, results, out_dir: Path | None) -> dict:
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
    report_vowels,
    history=class_history,
)
