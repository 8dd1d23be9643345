"""`pfgmpp.toy`: PFGM++ on 2-D data (two moons, eight Gaussians), one model per D, scored
by the sliced Wasserstein distance and MMD against fresh data."""

import dataclasses
import functools
from pathlib import Path

import jax
import numpy as np
from matplotlib.figure import Figure

from ..._config import option
from ..._side_by_side import Training
from .._data import TOYS, toy_batches, toy_sampler
from .._evaluation import toy_evaluate, toy_floor
from .._networks import toy_network
from .._recipe import INF, EDMSettings, label, models_per_D
from ._shared import metric_vs_D


@dataclasses.dataclass(frozen=True)
class ToyConfig(EDMSettings):
    """Settings of `pfgmpp.toy`: a residual MLP (`width`, `depth`) with EDM
    preconditioning trained per D on 2-D `dataset` (`moons` or `eight_gaussians`, fresh
    draws every step) for `steps` Adam steps (warm-up, cosine decay from
    `learning_rate`); `n_samples` samples per model from `sample_steps` Heun steps,
    compared with as many fresh data points (SWD over `n_projections` directions, MMD)."""

    dataset: str = option("moons", "2-D data set, fresh draws every step", choices=TOYS)
    Ds: tuple[float, ...] = option(
        (1.0, 3.0, 10.0, 100.0, INF), "augmentation dimensions D, one model each (inf: EDM)",
        above=0,
        finite=False,
    )
    steps: int = option(4000, "Adam steps per model", minimum=1)
    batch_size: int = option(256, "data points per step", minimum=1)
    learning_rate: float = option(
        2e-3, "peak learning rate (5% warm-up, cosine decay to a tenth)", above=0
    )
    width: int = option(128, "hidden width of the residual MLP", minimum=4)
    depth: int = option(3, "residual layers of the MLP", minimum=1)
    n_samples: int = option(
        2000, "samples per model, scored against as many data points", minimum=2
    )
    n_projections: int = option(
        128, "random directions of the sliced Wasserstein distance", minimum=1
    )

    @classmethod
    def quick(cls) -> "ToyConfig":
        return cls(steps=400, width=64, depth=2, batch_size=128, n_samples=500)


def _scalars(cfg, final, metrics=("swd", "mmd")) -> dict[str, np.ndarray]:
    out = {}
    for D in cfg.Ds:
        name = label(D)
        for metric in metrics:
            out[f"{name}/{metric}"] = np.asarray(final[f"{name}/{metric}"], dtype=float)
        out[f"{name}/diverged"] = np.asarray(final[f"{name}/diverged"], dtype=float)
    return out


def report(cfg: ToyConfig, results, out_dir: Path | None) -> dict:
    """Per-seed `D=X/swd`, `D=X/mmd`, the data floors `data/swd_floor`, `data/mmd_floor`
    (two independent draws of `n_samples` real points) and the sample count; figures of
    samples against data and of the metrics against D."""
    final = results["final"]
    metrics = _scalars(cfg, final)
    seeds = metrics[f"{label(cfg.Ds[0])}/swd"].shape[0]
    swd_floor, mmd_floor = toy_floor(
        cfg.dataset, cfg.n_samples, cfg.n_projections, seeds, jax.random.key(12345)
    )
    metrics["data/swd_floor"] = np.asarray(swd_floor, dtype=float)
    metrics["data/mmd_floor"] = np.asarray(mmd_floor, dtype=float)
    metrics["data/n_samples"] = np.full(seeds, float(cfg.n_samples))
    metrics["data/nfe"] = np.asarray(final[f"{label(cfg.Ds[0])}/nfe"], dtype=float)
    if out_dir is not None:
        real = np.asarray(toy_sampler(cfg.dataset)(jax.random.key(7), cfg.n_samples))
        fig = Figure(figsize=(2.6 * (len(cfg.Ds) + 1), 2.9))
        axes = fig.subplots(1, len(cfg.Ds) + 1, sharex=True, sharey=True)
        axes[0].scatter(*real.T, s=1, color="k")
        axes[0].set_title(f"data ({cfg.dataset})")
        for ax, D in zip(axes[1:], cfg.Ds):
            samples = np.asarray(final[f"{label(D)}/samples"][0])
            ax.scatter(*real.T, s=1, color="0.85")
            ax.scatter(*samples.T, s=1, color="C0")
            swd = metrics[f"{label(D)}/swd"][0]
            ax.set_title(f"{label(D)}  swd {swd:.3f}", fontsize=9)
        axes[0].set_xlim(-1.5, 1.5)
        axes[0].set_ylim(-1.5, 1.5)
        fig.tight_layout()
        fig.savefig(out_dir / "samples.png", dpi=110)
        metric_vs_D(
            cfg,
            metrics,
            ("swd", "mmd"),
            (metrics["data/swd_floor"], metrics["data/mmd_floor"]),
            out_dir / "metric_vs_D.png",
            f"pfgmpp.toy ({cfg.dataset}), {seeds} seeds",
        )
    return metrics


EXPERIMENT = Training(
    functools.partial(models_per_D, network=toy_network, evaluate=toy_evaluate),
    batches=toy_batches,
).experiment(
    "pfgmpp.toy",
    "PFGM++ on 2-D data (moons, eight Gaussians) for D in {1, 3, 10, 100, inf}: SWD/MMD",
    ToyConfig,
    report,
)
