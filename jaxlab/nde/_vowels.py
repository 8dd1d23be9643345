"""The JapaneseVowels data set (UEA archive), read from the files that the `aeon`
package ships (`pip install "jaxlab[data]"`): its standard split, a stratified
validation split, and the [`Training`][jaxlab.Training] of a neural CDE (or a GRU
baseline) run by the experiment `nde.vowels`.

`cfg` is a [`VowelsConfig`][jaxlab.nde.VowelsConfig] (its fields say what each setting
is)."""

import functools

import numpy as np

from .._experiment import import_extra
from ._cde import pad_series
from ._classify import classifier_training


TRAIN, CLASSES, PER_SPEAKER = 270, 9, 30  # the standard training split


def _held_out(fraction: float) -> int:
    """Validation series per speaker (at least one)."""
    return max(1, round(fraction * PER_SPEAKER))


@functools.cache
def _load(split: str):
    datasets = import_extra("aeon.datasets", "nde.vowels", "aeon")
    series, labels = datasets.load_classification("JapaneseVowels", split=split)
    return [np.asarray(x, float).T for x in series], np.asarray(labels).astype(int) - 1


def _split(cfg):
    """Indices of the training series trained on and of those held out for validation:
    `_held_out` per speaker, drawn from `data_seed`."""
    labels = _load("train")[1]
    rng = np.random.default_rng(cfg.data_seed)
    held = _held_out(cfg.validation_fraction)
    validation = np.concatenate(
        [rng.permutation(np.flatnonzero(labels == c))[:held] for c in range(CLASSES)]
    )
    return np.setdiff1d(np.arange(len(labels)), validation), np.sort(validation)


def vowel_data(cfg):
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
