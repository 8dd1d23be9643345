"""Figures shared by the reports: a metric against D, and grids of digit samples."""

import math
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from .._data import digits
from .._recipe import label


def axis_D(ax, Ds):
    """A log axis of D with `inf` drawn a decade past the largest finite D; returns the
    x positions of `Ds`."""
    finite = [d for d in Ds if math.isfinite(d)]
    top = max(finite) * 10 if finite else 1.0
    xs = [d if math.isfinite(d) else top for d in Ds]
    ax.set_xscale("log")
    ax.set_xticks(xs, [f"{d:g}" if math.isfinite(d) else "inf" for d in Ds])
    ax.set_xlabel("D")
    return xs


def metric_vs_D(cfg, metrics, names, floors, path: Path, title: str) -> None:
    """One panel per metric in `names`: mean and spread over seeds against D, each seed
    in gray, and the metric's floor (or None) as a dashed line."""
    fig = Figure(figsize=(5.0 * len(names), 4))
    axes = np.atleast_1d(fig.subplots(1, len(names)))
    for ax, metric, floor in zip(axes, names, floors):
        xs = axis_D(ax, cfg.Ds)
        values = np.array([metrics[f"{label(D)}/{metric}"] for D in cfg.Ds])  # (Ds, seeds)
        ax.errorbar(
            xs, np.nanmean(values, 1), yerr=np.nanstd(values, 1), marker="o", capsize=3, lw=1.3
        )
        for seed_values in values.T:
            ax.plot(xs, seed_values, ".", color="gray", alpha=0.4)
        if floor is not None:
            ax.axhline(np.nanmean(floor), color="k", ls="--", label="floor (data vs data)")
            ax.legend(fontsize=8)
        ax.set_ylabel(metric)
        ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def image_grid(ax, images, rows=6, cols=10):
    """The first `rows * cols` 8x8 images in [-1, 1] as one gray grid."""
    images = np.clip(np.asarray(images)[: rows * cols].reshape(-1, 8, 8), -1, 1)
    grid = np.ones((rows * 9, cols * 9))
    for i, image in enumerate(images):
        r, c = divmod(i, cols)
        grid[r * 9 : r * 9 + 8, c * 9 : c * 9 + 8] = (image + 1) / 2
    ax.imshow(grid, cmap="gray_r", vmin=0, vmax=1)
    ax.axis("off")


def samples_figure(cfg, final, metrics, path: Path, key_of) -> None:
    """The test split, then the first seed's samples `final["D=X/samples"]` of each D
    titled with its FID `metrics[key_of(D)]`."""
    x_test = digits()[2]
    fig = Figure(figsize=(3.2 * (len(cfg.Ds) + 1), 2.4))
    axes = fig.subplots(1, len(cfg.Ds) + 1)
    image_grid(axes[0], x_test)
    axes[0].set_title("data (test split)", fontsize=9)
    for ax, D in zip(axes[1:], cfg.Ds):
        image_grid(ax, final[f"{label(D)}/samples"][0])
        ax.set_title(f"{label(D)}  fid {metrics[key_of(D)][0]:.2f}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
