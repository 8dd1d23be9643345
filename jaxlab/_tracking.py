"""Experiment tracking: a results folder replayed into TensorBoard event files."""

import json
from pathlib import Path

import numpy as np

from ._experiment import require


def check_tensorboard(log_dir: Path) -> None:
    """A [`ConfigError`][jaxlab.ConfigError] unless tensorboardX is installed and
    `log_dir` is a folder (or can be one)."""
    try:
        import tensorboardX  # noqa: F401
    except ImportError:
        require(False, "--log", "tensorboardX installed (pip install 'jaxlab[track]')", "")
    require(
        not log_dir.exists() or log_dir.is_dir(), "--log", "tensorboard DIR, a folder", str(log_dir)
    )


def _thinned(steps: int, most: int = 2000) -> np.ndarray:
    return np.unique(np.linspace(0, steps - 1, min(steps, most)).astype(int))


def log_tensorboard(log_dir: Path, results_dir: Path) -> Path:
    """Write a results folder to TensorBoard: the config (as text and hyper-parameters),
    every `history.npz` curve as its mean, min and max over seeds per step (at most 2000
    steps, evenly spaced), every summary metric's mean, and every figure. Each run goes
    to its own sub-folder `log_dir/EXPERIMENT/RUN`; returns it."""
    from matplotlib.image import imread
    from tensorboardX import SummaryWriter

    metrics = json.loads((results_dir / "metrics.json").read_text())
    config = json.loads((results_dir / "config.json").read_text())
    run_dir = log_dir / metrics["experiment"] / results_dir.name
    with SummaryWriter(str(run_dir)) as writer:
        writer.add_text("config", f"```\n{json.dumps(config, indent=2)}\n```")
        with np.load(results_dir / "history.npz") as history:
            for name in history.files:
                curves = np.asarray(history[name], dtype=float).reshape(-1, history[name].shape[-1])
                with np.errstate(all="ignore"):
                    stats = {
                        "mean": np.nanmean(curves, 0),
                        "min": np.nanmin(curves, 0),
                        "max": np.nanmax(curves, 0),
                    }
                for step in _thinned(curves.shape[1]):
                    for stat, values in stats.items():
                        writer.add_scalar(f"{name}/{stat}", values[step], int(step))
        for name, entry in metrics["summary"].items():
            if entry["mean"] is not None:
                writer.add_scalar(f"summary/{name}", entry["mean"])
        scalars = {k: v for k, v in config.items() if isinstance(v, int | float | str | bool)}
        means = {
            f"summary/{k}": e["mean"]
            for k, e in metrics["summary"].items()
            if e["mean"] is not None
        }
        writer.add_hparams(scalars, means, name="hparams")
        for figure in sorted((results_dir / "figures").glob("*.png")):
            writer.add_image(f"figures/{figure.stem}", imread(figure)[..., :3], dataformats="HWC")
    return run_dir
