r"""A deep equilibrium classifier of scikit-learn's 8x8 handwritten digits: the data
(stratified train, validation and test splits), the loss, the evaluation, and the
[`Training`][jaxlab.Training] run by the experiment `nde.deq_digits`.

`cfg` is a [`DEQDigitsConfig`][jaxlab.nde.DEQDigitsConfig] (its fields say what each
setting is)."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .._experiment import import_extra
from .._side_by_side import ModelSpec, Training
from .._train import sampler
from ._deq import DEQClassifier


CLASSES = 10
FEATURES = 64  # 8x8 pixels
EXAMPLES = 1797


@functools.lru_cache(maxsize=4)
def _digits(test_fraction: float, validation_fraction: float, data_seed: int):
    """`(x, y)` of the train, validation and test sets as numpy arrays: a stratified
    train/test split, then a stratified validation split of the training part."""
    load_digits = import_extra("sklearn.datasets", "nde.deq_digits", "scikit-learn").load_digits
    split = import_extra("sklearn.model_selection", "nde.deq_digits", "scikit-learn")
    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = split.train_test_split(
        (x / 16.0).astype(np.float32),
        y.astype(np.int32),
        test_size=test_fraction,
        stratify=y,
        random_state=data_seed,
    )
    x_train, x_val, y_train, y_val = split.train_test_split(
        x_train, y_train, test_size=validation_fraction, stratify=y_train, random_state=data_seed
    )
    return (x_train, y_train), (x_val, y_val), (x_test, y_test)


def _evaluate(model: DEQClassifier, x, y):
    logits, steps = jax.vmap(model)(x)
    loss = jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, y))
    return logits, loss, steps


def _loss(model, batch, key):
    _, loss, steps = _evaluate(model, *batch)
    return loss, jnp.mean(steps.astype(float))


def _test(model: DEQClassifier, key, data):
    """Validation and test accuracy and loss, the mean solver steps on the test set (NaN
    if a logit is not finite), and the test confusion counts."""
    _, validation, test = data
    out = {}
    for split, (x, y) in (("val", validation), ("test", test)):
        logits, loss, steps = _evaluate(model, x, y)
        predicted = jnp.argmax(logits, axis=-1)
        ok = jnp.all(jnp.isfinite(logits))
        out[f"{split}_accuracy"] = jnp.where(ok, jnp.mean(predicted == y), jnp.nan)
        out[f"{split}_loss"] = jnp.where(ok, loss, jnp.nan)
    # Of the test set, the last one evaluated.
    out["mean_fixed_point_iterations"] = jnp.where(ok, jnp.mean(steps.astype(float)), jnp.nan)
    out["confusion"] = jnp.zeros((CLASSES, CLASSES), int).at[y, predicted].add(1)
    return out


MODEL = "deq"  # the one model's name in the Training (not in the metric keys)


def models(cfg) -> dict[str, ModelSpec]:
    def init(key):
        return DEQClassifier(
            FEATURES, cfg.hidden, CLASSES, contraction=cfg.contraction, solver=cfg.solver,
            rtol=cfg.rtol, atol=cfg.atol, max_steps=cfg.max_steps, key=key,
        )  # fmt: skip

    return {MODEL: ModelSpec(init, _loss, optax.adam(cfg.learning_rate), _test)}


def data(cfg):
    """The `(x, y)` of the train, validation and test sets (host arrays, loaded once per
    process)."""
    return _digits(cfg.test_fraction, cfg.validation_fraction, cfg.data_seed)


def batches(cfg, data):
    """Minibatches of `batch_size` training examples."""
    return sampler(data[0], cfg.batch_size)


def history(cfg, results):
    """Per-seed curves: the minibatch loss and the mean solver steps at each step."""
    losses, steps = results["history"][MODEL]
    return {"train_loss": np.asarray(losses), "fixed_point_iterations": np.asarray(steps)}


TRAINING = Training(models, data, batches)
