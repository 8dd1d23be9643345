r"""`nde.deq_digits`: a deep equilibrium classifier of scikit-learn's 8x8 handwritten digits."""

import dataclasses
import functools
import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from matplotlib.figure import Figure

from .._experiment import import_extra, require, require_integer
from .._side_by_side import ModelSpec, Training
from .._train import sampler
from ._deq import DEQ_SOLVERS, DEQClassifier


CLASSES = 10
FEATURES = 64  # 8x8 pixels
EXAMPLES = 1797


@dataclasses.dataclass(frozen=True)
class DEQDigitsConfig:
    r"""`nde.deq_digits`: classify scikit-learn's 1797 8x8 digits (pixels scaled to [0, 1])
    with a DEQ classifier trained by Adam on minibatches of cross-entropy, gradients by
    the implicit function theorem. The stratified train/test split is fixed by
    `data_seed`, and a stratified `validation_fraction` of the training part is held out
    for choosing settings (the model trains on the rest); seeds vary the initialization
    and the minibatches. Reported numbers are those at the end of training."""

    hidden: int = 64
    contraction: float = 0.9
    solver: str = "fixed_point"
    rtol: float = 1e-4
    atol: float = 1e-5
    max_steps: int = 100
    batch_size: int = 128
    learning_rate: float = 3e-3
    steps: int = 1500
    test_fraction: float = 0.25
    validation_fraction: float = 0.2
    data_seed: int = 0

    def __post_init__(self):
        for name in ("hidden", "max_steps", "batch_size", "steps"):
            value = getattr(self, name)
            require_integer(value, name)
        for name in ("rtol", "atol", "learning_rate"):
            require(getattr(self, name) > 0, name, "a positive number", getattr(self, name))
        require(0 < self.contraction < 1, "contraction", "a number in (0, 1)", self.contraction)
        for name in ("test_fraction", "validation_fraction"):
            value = getattr(self, name)
            require(0 < value < 1, name, "a fraction in (0, 1)", value)  # NaN and inf fail
        test = math.ceil(self.test_fraction * EXAMPLES)
        require(
            CLASSES <= test <= EXAMPLES - CLASSES,
            "test_fraction",
            "a fraction leaving at least 10 test and 10 training examples",
            self.test_fraction,
        )
        require(
            self.solver in DEQ_SOLVERS, "solver", f"one of {', '.join(DEQ_SOLVERS)}", self.solver
        )
        validation = math.ceil(self.validation_fraction * (EXAMPLES - test))
        require(
            CLASSES <= validation <= EXAMPLES - test - CLASSES,
            "validation_fraction",
            "a fraction of the training part leaving at least 10 validation and 10 training "
            "examples",
            self.validation_fraction,
        )
        train = EXAMPLES - test - validation
        require(
            self.batch_size <= train,
            "batch_size",
            f"at most {train} (the training set)",
            self.batch_size,
        )

    @classmethod
    def quick(cls) -> "DEQDigitsConfig":
        return cls(hidden=32, steps=200)


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


def models(cfg: DEQDigitsConfig) -> dict[str, ModelSpec]:
    def init(key):
        return DEQClassifier(
            FEATURES, cfg.hidden, CLASSES, contraction=cfg.contraction, solver=cfg.solver,
            rtol=cfg.rtol, atol=cfg.atol, max_steps=cfg.max_steps, key=key,
        )  # fmt: skip

    return {MODEL: ModelSpec(init, _loss, optax.adam(cfg.learning_rate), _test)}


def data(cfg: DEQDigitsConfig):
    """The `(x, y)` of the train, validation and test sets (host arrays, loaded once per
    process)."""
    return _digits(cfg.test_fraction, cfg.validation_fraction, cfg.data_seed)


def batches(cfg: DEQDigitsConfig, data):
    """Minibatches of `batch_size` training examples."""
    return sampler(data[0], cfg.batch_size)


def report_digits(cfg: DEQDigitsConfig, results, out_dir: Path | None) -> dict:
    final = {k.removeprefix(f"{MODEL}/"): v for k, v in results["final"].items()}
    metrics = {
        k: np.asarray(v, dtype=float)
        for k, v in final.items()
        if k not in ("confusion", "diverged")
    }
    if out_dir is not None:
        ok = np.isfinite(metrics["test_accuracy"])
        counts = np.asarray(final["confusion"])[ok].sum(0)
        fig = Figure(figsize=(5.5, 4.8))
        ax = fig.subplots()
        image = ax.imshow(
            counts / np.maximum(counts.sum(1, keepdims=True), 1), cmap="Blues", vmin=0, vmax=1
        )
        for (i, j), n in np.ndenumerate(counts):
            if n:
                ax.text(j, i, n, ha="center", va="center", fontsize=7, color="w" if i == j else "k")
        ax.set(
            xticks=range(CLASSES),
            yticks=range(CLASSES),
            xlabel="predicted digit",
            ylabel="true digit",
            title=f"DEQ on digits: test confusion, {ok.sum()} seeds summed\n"
            f"final accuracy {np.nanmean(metrics['test_accuracy']):.3f}",
        )
        fig.colorbar(image, ax=ax, label="fraction of the true class")
        fig.tight_layout()
        fig.savefig(out_dir / "confusion_matrix.png", dpi=110)

        losses, steps = (np.asarray(v) for v in results["history"][MODEL])
        fig = Figure(figsize=(10, 3.5))
        left, right = fig.subplots(1, 2)
        left.semilogy(losses.T, lw=0.8)
        left.set(xlabel="step", ylabel="minibatch cross-entropy", title="training loss, per seed")
        right.plot(steps.T, lw=0.8)
        right.set(xlabel="step", ylabel="mean solver steps", title="fixed-point iterations")
        fig.tight_layout()
        fig.savefig(out_dir / "training.png", dpi=110)
    return metrics


def _history(cfg, results):
    losses, steps = results["history"][MODEL]
    return {"train_loss": np.asarray(losses), "fixed_point_iterations": np.asarray(steps)}


TRAINING = Training(models, data, batches)
EXPERIMENT = TRAINING.experiment(
    "nde.deq_digits",
    "deep equilibrium classifier (implicit gradients) on scikit-learn's 8x8 digits",
    DEQDigitsConfig,
    report_digits,
    history=_history,
)
