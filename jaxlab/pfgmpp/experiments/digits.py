"""`pfgmpp.digits`: PFGM++ on scikit-learn's 8x8 digits, one model per D, scored by
`fid_digits` and label coverage against the test split."""

import dataclasses
import functools
from pathlib import Path

import numpy as np

from ..._config import option
from ..._side_by_side import Training
from .._data import digits, digits_batches, digits_train
from .._evaluation import digits_evaluate, fid_and_coverage, fid_floor
from .._metrics import digits_features
from .._networks import NETWORKS, digits_network
from .._recipe import INF, EDMSettings, label, models_per_D
from ._shared import metric_vs_D, samples_figure


@dataclasses.dataclass(frozen=True)
class DigitsConfig(EDMSettings):
    """Settings of `pfgmpp.digits`: one network per D, trained on the digits train split
    (1198 images) with minibatches of `batch_size` for `steps` Adam steps; as many
    samples as the test split holds (599) are compared with the test split
    (`fid_digits`), the floor being a train subset of the same size against the test
    split.

    `network="mlp"` (default) is the residual MLP (`width`, `depth`) on the flattened
    image; `network="unet"` the small U-Net (`unet_width` channels at 8x8, twice that
    at 4x4), about 50x slower per step on a CPU."""

    Ds: tuple[float, ...] = option(
        (16.0, 64.0, 256.0, INF), "augmentation dimensions D, one model each (inf: EDM)",
        above=0,
        finite=False,
    )
    steps: int = option(4000, "Adam steps per model", minimum=1)
    batch_size: int = option(128, "training images per step", minimum=1)
    learning_rate: float = option(
        1e-3, "peak learning rate (5% warm-up, cosine decay to a tenth)", above=0
    )
    network: str = option(
        "mlp", "residual MLP on the 64 pixels, or a small U-Net", choices=NETWORKS
    )
    width: int = option(256, "hidden width of the MLP", minimum=4)
    depth: int = option(3, "residual layers of the MLP", minimum=1)
    unet_width: int = option(16, "U-Net channels at 8x8 (twice that at 4x4)", minimum=4)

    @classmethod
    def quick(cls) -> "DigitsConfig":
        return cls(Ds=(16.0, INF), steps=400, width=128, depth=2, sample_steps=10)


def report(cfg: DigitsConfig, results, out_dir: Path | None) -> dict:
    """Per-seed `D=X/fid_digits` and `D=X/label_coverage` (of 10), the floor
    `data/fid_floor` (a train subset against the test split, same sample count), the
    sample count `data/n_samples` and the classifier's test accuracy; figures of
    samples and of the metrics against D."""
    from .._metrics import digits_classifier

    final = results["final"]
    x_test = digits()[2]
    test_features = digits_features(x_test)[0]
    metrics = {}
    seeds = np.asarray(final[f"{label(cfg.Ds[0])}/diverged"]).shape[0]
    for D in cfg.Ds:
        name = label(D)
        samples = np.asarray(final[f"{name}/samples"])
        pairs = [fid_and_coverage(s, test_features) for s in samples]
        metrics[f"{name}/fid_digits"] = np.array([p[0] for p in pairs])
        metrics[f"{name}/label_coverage"] = np.array([p[1] for p in pairs])
        metrics[f"{name}/diverged"] = np.asarray(final[f"{name}/diverged"], dtype=float)
    metrics["data/fid_floor"] = fid_floor(seeds)
    metrics["data/n_samples"] = np.full(seeds, float(len(x_test)))
    metrics["data/nfe"] = np.asarray(final[f"{label(cfg.Ds[0])}/nfe"], dtype=float)
    metrics["data/classifier_accuracy"] = np.full(seeds, digits_classifier()[1])
    if out_dir is not None:
        samples_figure(
            cfg, final, metrics, out_dir / "samples.png", lambda D: f"{label(D)}/fid_digits"
        )
        metric_vs_D(
            cfg,
            metrics,
            ("fid_digits", "label_coverage"),
            (metrics["data/fid_floor"], None),
            out_dir / "metric_vs_D.png",
            f"pfgmpp.digits, {seeds} seeds",
        )
    return metrics


EXPERIMENT = Training(
    functools.partial(models_per_D, network=digits_network, evaluate=digits_evaluate),
    digits_train,
    digits_batches,
).experiment(
    "pfgmpp.digits",
    "PFGM++ (MLP; --set network=unet) on scikit-learn's 8x8 digits, D in {16, 64, 256, "
    "inf}: fid_digits",
    DigitsConfig,
    report,
)
