"""The report shared by the registered experiments: PIG and the PINN side by side, their
errors per seed and figures of the solutions, the learned centres and the error curves."""

import warnings
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from ._training import Settings, time_per_step


def _plot_slice(shape, box) -> tuple:
    """Index of a 2-D slice of the test grid to draw: all of a 2-D grid; the last time
    (or the middle of the first axis) of a 3-D one."""
    if len(shape) <= 2:
        return (slice(None),) * len(shape)
    axis = box.names.index(box.time) if box.time else 0
    index = [slice(None)] * len(shape)
    index[axis] = shape[axis] - 1 if box.time else shape[axis] // 2
    return tuple(index)


def _quiet(function):
    def wrapped(*args):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return function(*args)

    return wrapped


@_quiet
def _figures(cfg, results, curves, out_dir: Path) -> None:
    problem = cfg.problem()
    _, reference, shape = problem.test_set(cfg.test_grid)
    box, final = problem.box, results["final"]
    index = _plot_slice(shape, box)
    axes = [n for i, n in enumerate(box.names) if isinstance(index[i], slice)]
    extent = []
    for n in axes[::-1]:
        i = box.names.index(n)
        extent += [box.lower[i], box.upper[i]]
    ref = np.asarray(reference).reshape(shape)[index]
    names = cfg.models()
    fig = Figure(figsize=(4 * (1 + len(names)), 7))
    grid = fig.subplots(2, 1 + len(names), squeeze=False)
    title = problem.name + ("" if len(shape) <= 2 else f" at {box.time or box.names[0]} slice")
    im = grid[0, 0].imshow(ref, origin="lower", extent=extent, aspect="auto", cmap="RdBu_r")
    grid[0, 0].set(title=f"reference: {title}", xlabel=axes[1], ylabel=axes[0])
    fig.colorbar(im, ax=grid[0, 0])
    grid[1, 0].axis("off")
    for j, name in enumerate(names, start=1):
        pred = np.asarray(final[f"{name}/prediction"])[0].reshape(shape)[index]
        im = grid[0, j].imshow(pred, origin="lower", extent=extent, aspect="auto", cmap="RdBu_r")
        grid[0, j].set(title=f"{name} (seed 0)", xlabel=axes[1], ylabel=axes[0])
        fig.colorbar(im, ax=grid[0, j])
        im = grid[1, j].imshow(np.abs(pred - ref), origin="lower", extent=extent, aspect="auto")
        grid[1, j].set(title=f"{name}: |error|", xlabel=axes[1], ylabel=axes[0])
        fig.colorbar(im, ax=grid[1, j])
    fig.tight_layout()
    fig.savefig(out_dir / "solution.png", dpi=100)

    if "pig/centres" in final:
        centres = np.asarray(final["pig/centres"])[0]
        i, j = box.names.index(axes[1]), box.names.index(axes[0])
        fig = Figure(figsize=(5, 5))
        ax = fig.subplots()
        ax.scatter(centres[:, i], centres[:, j], s=2, alpha=0.5)
        ax.set(
            xlim=(box.lower[i], box.upper[i]), ylim=(box.lower[j], box.upper[j]),
            xlabel=axes[1], ylabel=axes[0], title="learned Gaussian centres (PIG, seed 0)",
        )  # fmt: skip
        fig.tight_layout()
        fig.savefig(out_dir / "centres.png", dpi=100)

    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    for name in names:
        errors = curves[name]
        (line,) = ax.semilogy(np.nanmedian(errors, axis=0), label=f"{name} (median)")
        ax.fill_between(
            np.arange(errors.shape[1]), np.nanmin(errors, axis=0), np.nanmax(errors, axis=0),
            color=line.get_color(), alpha=0.2, lw=0,
        )  # fmt: skip
    ax.set(
        xlabel="iteration", ylabel="relative L2 error (monitor subset)",
        title=f"{problem.name}: test error during training",
    )  # fmt: skip
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_dir / "error_vs_iteration.png", dpi=100)


def side_by_side_report(cfg: Settings, results, out_dir: Path | None) -> dict:
    """The report of every registered `pig.*` experiment, per model and seed:
    `MODEL/final_rel_l2` (the final model on the test set: the headline),
    `MODEL/best_rel_l2` (the lowest error on the monitor subset during training: selected
    on test data, so flattering), `MODEL/ms_per_iter` (one seed, timed apart from the
    sweep) and `MODEL/params`; figures into `out_dir` (`solution.png`, `centres.png`,
    `error_vs_iteration.png`)."""
    final, metrics, curves = results["final"], {}, {}
    for name in cfg.models():
        diverged = np.asarray(final[f"{name}/diverged"], bool)
        curves[name] = np.asarray(results["history"][name][1]["rel_l2"], float)
        best = np.array([np.nanmin(c) if np.isfinite(c).any() else np.nan for c in curves[name]])
        ms = time_per_step(cfg, name) if cfg.time_steps else np.nan
        metrics[f"{name}/final_rel_l2"] = np.asarray(final[f"{name}/final_rel_l2"], float)
        metrics[f"{name}/best_rel_l2"] = np.where(diverged, np.nan, best)
        metrics[f"{name}/ms_per_iter"] = np.full(diverged.shape, ms)
        metrics[f"{name}/params"] = np.asarray(final[f"{name}/params"], float)
    if out_dir is not None:
        _figures(cfg, results, curves, out_dir)
    return metrics
