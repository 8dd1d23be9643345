"""What `sensing.overparam` and `sensing.robust` share: the size rules of their configs,
the problem's key, the flattening of batched error curves and the semilog figure."""

import warnings
from collections.abc import Callable
from pathlib import Path

import jax
import numpy as np
from matplotlib.figure import Figure

from ..._experiment import require


def check_sizes(config) -> None:
    """The rules joining the sizes: `1 <= rank <= n` and `rank <= k <= n`."""
    require(config.rank <= config.n, "rank", f"an integer in [1, n={config.n}]", config.rank)
    require(
        config.rank <= config.k <= config.n,
        "k",
        f"an integer in [rank={config.rank}, n={config.n}]",
        config.k,
    )


def problem_key(config, key):
    """The key of the ground truth and the measurements: the seed's own key if
    `resample_problem`, else the one of `problem_seed` (shared by all seeds)."""
    return key if config.resample_problem else jax.random.key(config.problem_seed)


def label(value: float) -> str:
    return f"{value:g}"


def curves(
    results, grid_of: Callable[[str], tuple[str, tuple[float, ...]]]
) -> dict[str, np.ndarray]:
    """Flatten the results into `{variant: (seeds, steps + 1)}` curves; a batched result
    `name` (seeds, values, steps + 1) gives one curve per value of `grid_of(name)`, the
    swept setting's name and values."""
    flat = {}
    for name, errors in results.items():
        errors = np.asarray(errors)
        if errors.ndim == 3:
            prefix, values = grid_of(name)
            for i, value in enumerate(values):
                flat[f"{name}/{prefix}={label(value)}"] = errors[:, i]
        else:
            flat[name] = errors
    return flat


def nan_quiet(function):
    """Plot diverged (all-NaN) curves without NumPy's all-NaN warnings."""

    def wrapped(*args):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            function(*args)

    return wrapped


@nan_quiet
def semilog_figure(curves, path: Path, title: str) -> None:
    """The median relative error of each curve over the seeds, and their min-max band."""
    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    for name, errors in curves.items():
        median = np.nanmedian(errors, axis=0)
        (line,) = ax.semilogy(median, label=name, lw=1.3)
        ax.fill_between(
            np.arange(errors.shape[1]),
            np.nanmin(errors, axis=0),
            np.nanmax(errors, axis=0),
            color=line.get_color(),
            alpha=0.15,
            lw=0,
        )
    ax.set(xlabel="iteration t", ylabel=r"$\|M_t - M^\star\|_F / \|M^\star\|_F$", title=title)
    ax.set_ylim(1e-16, 1e2)  # diverged runs leave the plot instead of flattening it
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
