"""Training a classifier of irregular series (a [`Training`][jaxlab.Training] of one
model: a neural CDE, or a GRU baseline), shared by `nde.spirals` and `nde.vowels`.

A task provides `data(config) -> (train, validation, test)`, host side, each `(times,
values, labels)` with NaN-padded `(series, length)` times and `(series, length, channels)`
values; the validation series are held out of the training data and are the only data on
which defaults are chosen. The training declares them as its data (NaN as masks, see
`without_nan`), from which minibatches and evaluation read them. The config provides
`model` (one of `MODELS`), `channels` (of the data), `classes`, `hidden`, `width`,
`depth`, `interpolation`, `intensity`, `rtol`, `atol`, `learning_rate`, `batch_size` and
`steps` (`width` to `atol` concern the CDE only)."""

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax
from matplotlib.figure import Figure

from .._side_by_side import ModelSpec, Training
from .._train import sampler
from ._cde import NeuralCDE, control_path
from ._gru import GRUClassifier
from ._missing import with_nan, without_nan


def class_loss(logits, labels):
    """Mean cross-entropy and accuracy; one logit means binary (sigmoid) classification."""
    if logits.shape[-1] == 1:
        logit = logits[:, 0]
        loss = optax.sigmoid_binary_cross_entropy(logit, labels.astype(logit.dtype))
        predicted = (logit > 0).astype(labels.dtype)
    else:
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
        predicted = jnp.argmax(logits, axis=-1)
    return jnp.mean(loss), jnp.mean(predicted == labels)


def predictions(logits):
    return (logits[:, 0] > 0).astype(int) if logits.shape[-1] == 1 else jnp.argmax(logits, -1)


def _paths(cfg, times, values):
    build = lambda t, v: control_path(
        t, v, interpolation=cfg.interpolation, intensity=cfg.intensity
    )
    return jax.vmap(build)(times, values)


def _channels(cfg):
    return 1 + cfg.channels * (2 if cfg.intensity else 1)


MODELS = ("cde", "gru")  # `model` of the config; also the model's name in the Training


def _inputs(cfg, times, values):
    """What the model reads of a batch of series: the control paths of a CDE, the raw
    series of a GRU."""
    return (_paths(cfg, times, values),) if cfg.model == "cde" else (times, values)


def _logits(model, inputs):
    return jax.vmap(model)(*inputs)


def _declared(split):
    """A split `(times, values, labels)` as declared data: finite arrays and NaN masks."""
    times, values, labels = split
    return without_nan(times), without_nan(values), np.asarray(labels)


def _series(split):
    """The `(times, values, labels)` of a declared split, NaN restored."""
    times, values, labels = split
    return with_nan(*times), with_nan(*values), labels


def classifier_training(data: Callable) -> Training:
    """The [`Training`][jaxlab.Training] of one [`NeuralCDE`][jaxlab.nde.NeuralCDE] or
    [`GRUClassifier`][jaxlab.nde.GRUClassifier] (`config.model`) on `data(config)` with
    Adam and minibatches of cross-entropy; its evaluation gives `val_accuracy`,
    `val_loss`, `test_accuracy`, `test_loss` and the test logits."""

    def models(cfg):
        outputs = 1 if cfg.classes == 2 else cfg.classes

        def init(key):
            if cfg.model == "gru":
                return GRUClassifier(cfg.channels, cfg.hidden, outputs, key=key)
            return NeuralCDE(
                _channels(cfg), cfg.hidden, outputs, width=cfg.width, depth=cfg.depth,
                rtol=cfg.rtol, atol=cfg.atol, key=key,
            )  # fmt: skip

        def loss(model, batch, key):
            inputs, labels = batch
            return class_loss(_logits(model, inputs), labels)

        def evaluate(model, key, declared):
            _, validation, test = declared
            out = {}
            for split, stored in (("val", validation), ("test", test)):
                times, values, labels = _series(stored)
                logits = _logits(model, _inputs(cfg, times, values))
                out[f"{split}_loss"], out[f"{split}_accuracy"] = class_loss(logits, labels)
            return {**out, "test_logits": logits}  # the last evaluated: the test set

        return {cfg.model: ModelSpec(init, loss, optax.adam(cfg.learning_rate), evaluate)}

    def declare(cfg):
        return tuple(_declared(split) for split in data(cfg))

    def batches(cfg, declared):
        times, values, labels = _series(declared[0])
        return sampler((_inputs(cfg, times, values), labels), cfg.batch_size)

    return Training(models, declare, batches)


METRICS = ("val_accuracy", "val_loss", "test_accuracy", "test_loss")


def test_logits(cfg, results):
    """The test logits of every seed, `(seeds, series, outputs)`."""
    return results["final"][f"{cfg.model}/test_logits"]


def class_metrics(cfg, results) -> dict:
    final = results["final"]
    return {k: np.asarray(final[f"{cfg.model}/{k}"], dtype=float) for k in METRICS}


def class_history(cfg, results) -> dict:
    loss, accuracy = results["history"][cfg.model]
    return {"train_loss": np.asarray(loss), "train_accuracy": np.asarray(accuracy)}


def confusion_figure(labels, predicted, classes: int, names=None) -> Figure:
    """A confusion matrix (rows: true class, columns: predicted), counts summed over seeds."""
    counts = np.zeros((classes, classes), int)
    for row in np.atleast_2d(predicted):
        np.add.at(counts, (labels, row), 1)
    fig = Figure(figsize=(5, 4.4))
    ax = fig.subplots()
    image = ax.imshow(counts, cmap="Blues")
    names = names or [str(c) for c in range(classes)]
    ax.set(xticks=range(classes), yticks=range(classes), xticklabels=names, yticklabels=names)
    ax.set(xlabel="predicted", ylabel="true", title="test confusion matrix (all seeds)")
    for (i, j), count in np.ndenumerate(counts):
        ax.text(j, i, count, ha="center", va="center", fontsize=7)
    fig.colorbar(image, ax=ax)
    fig.tight_layout()
    return fig
