r"""`nde.deq_digits`: a deep equilibrium classifier of scikit-learn's 8x8 handwritten digits."""

import dataclasses
import math
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from ..._config import Config, option
from ..._experiment import require
from .._deq import DEQ_SOLVERS
from .._deq_digits import CLASSES, EXAMPLES, MODEL, TRAINING, history


@dataclasses.dataclass(frozen=True)
class DEQDigitsConfig(Config):
    r"""`nde.deq_digits`: classify scikit-learn's 1797 8x8 digits (pixels scaled to [0, 1])
    with a DEQ classifier trained by Adam on minibatches of cross-entropy, gradients by
    the implicit function theorem. The stratified train/test split is fixed by
    `data_seed`, and a stratified `validation_fraction` of the training part is held out
    for choosing settings (the model trains on the rest); seeds vary the initialization
    and the minibatches. Reported numbers are those at the end of training."""

    hidden: int = option(64, "size of the equilibrium state z", minimum=1)
    contraction: float = option(
        0.9, "Lipschitz bound of the cell in z (a contraction)", above=0, below=1
    )
    solver: str = option("fixed_point", "the fixed-point solver", choices=DEQ_SOLVERS)
    rtol: float = option(1e-4, "relative tolerance of the fixed-point solve", above=0)
    atol: float = option(1e-5, "absolute tolerance of the fixed-point solve", above=0)
    max_steps: int = option(100, "most solver iterations per solve", minimum=1)
    batch_size: int = option(128, "images per minibatch", minimum=1)
    learning_rate: float = option(3e-3, "Adam's learning rate", above=0)
    steps: int = option(1500, "training steps", minimum=1)
    test_fraction: float = option(
        0.25, "fraction of the 1797 images held out for test", above=0, below=1
    )
    validation_fraction: float = option(
        0.2, "fraction of the training part held out for validation", above=0, below=1
    )
    data_seed: int = option(0, "seed of the stratified splits", minimum=0)

    def check(self):
        test = math.ceil(self.test_fraction * EXAMPLES)
        require(
            CLASSES <= test <= EXAMPLES - CLASSES,
            "test_fraction",
            "a fraction leaving at least 10 test and 10 training examples",
            self.test_fraction,
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


def report(cfg: DEQDigitsConfig, results, out_dir: Path | None) -> dict:
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


EXPERIMENT = TRAINING.experiment(
    "nde.deq_digits",
    "deep equilibrium classifier (implicit gradients) on scikit-learn's 8x8 digits",
    DEQDigitsConfig,
    report,
    history=history,
)
