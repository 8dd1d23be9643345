"""Training a neural CDE classifier as an init/advance/finish experiment, shared by
`nde.spirals` and `nde.vowels`.

A task provides `data(config) -> (train, test)`, each `(times, values, labels)` with
NaN-padded `(series, length)` times and `(series, length, channels)` values. The config
provides `channels` (of the data), `classes`, `hidden`, `width`, `depth`, `interpolation`,
`intensity`, `rtol`, `atol`, `learning_rate`, `batch_size` and `steps`."""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from matplotlib.figure import Figure

from .._train import init_state, split_model, train_chunk
from ._cde import NeuralCDE, control_path


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
    # The data are compile-time constants: the barrier stops XLA constant-folding the paths.
    times, values = jax.lax.optimization_barrier((times, values))
    build = lambda t, v: control_path(
        t, v, interpolation=cfg.interpolation, intensity=cfg.intensity
    )
    return jax.vmap(build)(times, values)


def _model(cfg, channels, key):
    outputs = 1 if cfg.classes == 2 else cfg.classes
    return NeuralCDE(
        channels,
        cfg.hidden,
        outputs,
        width=cfg.width,
        depth=cfg.depth,
        rtol=cfg.rtol,
        atol=cfg.atol,
        key=key,
    )


def _channels(cfg):
    return 1 + cfg.channels * (2 if cfg.intensity else 1)


def classifier_experiment(data: Callable) -> tuple[Callable, Callable, Callable]:
    """`(init, advance, finish)` training a [`NeuralCDE`][jaxlab.nde.NeuralCDE] on
    `data(config)` with Adam and minibatches; `finish` returns `test_accuracy`,
    `test_loss` and the test logits."""

    def merge_for(cfg):
        template = eqx.filter_eval_shape(_model, cfg, _channels(cfg), jax.random.key(0))
        return split_model(template)[1]

    def init(cfg, key):
        k_model, k_data = jax.random.split(key)
        params, _ = split_model(_model(cfg, _channels(cfg), k_model))
        return init_state(params, optax.adam(cfg.learning_rate), k_data)

    def advance(cfg, state, n_steps):
        (times, values, labels), _ = data(cfg)
        paths = _paths(cfg, times, values)

        def sample(key):
            index = jax.random.choice(key, labels.shape[0], (cfg.batch_size,), replace=False)
            return jax.tree.map(lambda x: x[index], (paths, labels))

        def loss(model, batch, key):
            batch_paths, batch_labels = batch
            value, accuracy = class_loss(jax.vmap(model)(batch_paths), batch_labels)
            return value, accuracy

        return train_chunk(
            state,
            n_steps,
            loss=loss,
            merge=merge_for(cfg),
            optimizer=optax.adam(cfg.learning_rate),
            sample=sample,
        )

    def finish(cfg, state):
        _, (times, values, labels) = data(cfg)
        model = merge_for(cfg)(state.params)
        logits = jax.vmap(model)(_paths(cfg, times, values))
        loss, accuracy = class_loss(logits, labels)
        nan = lambda x: jnp.where(state.diverged, jnp.nan, x)
        return {"test_accuracy": nan(accuracy), "test_loss": nan(loss), "test_logits": logits}

    return init, advance, finish


def class_metrics(results) -> dict:
    final = results["final"]
    return {k: np.asarray(final[k], dtype=float) for k in ("test_accuracy", "test_loss")}


def class_history(cfg, results) -> dict:
    loss, accuracy = results["history"]
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
