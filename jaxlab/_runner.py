"""Run a registered experiment end to end: sweep, report, results folder."""

import time
from pathlib import Path
from typing import Any

import jax

from ._experiment import Experiment, get_experiment
from ._results import check_out_dir, environment, write_results
from ._sweep import sweep


def default_out_dir(name: str) -> Path:
    return Path("runs") / name / time.strftime("%Y%m%d-%H%M%S")


def run_experiment(
    experiment: str | Experiment,
    config: Any = None,
    *,
    seeds: int = 8,
    quick: bool = False,
    out_dir: str | Path | None = None,
    overwrite: bool = False,
    progress: bool = True,
    key: int = 0,
) -> tuple[dict[str, Any], Path]:
    """Sweep an experiment over `seeds`, report it, and write its results folder.

    **Arguments:**

    - `experiment`: a registered name (`"sensing.overparam"`) or an
      [`Experiment`][jaxlab.Experiment].
    - `config`: its config; the default (or `quick()`) config if None.
    - `seeds`, `key`: as in [`sweep`][jaxlab.sweep].
    - `out_dir`: the results folder (default `runs/NAME/<timestamp>`); `overwrite` must
      be set to replace a non-empty one. Bad input is rejected before anything is written.

    **Returns:** the content of `metrics.json`, and the folder.
    """
    if isinstance(experiment, str):
        experiment = get_experiment(experiment)
    config = experiment.default_config(quick) if config is None else config
    out_dir = Path(out_dir) if out_dir is not None else default_out_dir(experiment.name)
    check_out_dir(out_dir, overwrite)
    result = sweep(experiment, config, seeds, key=key, progress=progress)
    results = result.results
    history = experiment.history(config, results) if experiment.history else {}
    metrics = write_results(
        out_dir,
        name=experiment.name,
        config=config,
        quick=quick,
        seeds=seeds,
        report=lambda figures: experiment.report(config, results, figures),
        history=history,
        environment=environment(
            result.compile_seconds,
            result.run_seconds,
            bool(getattr(config, "x64", False) or jax.config.jax_enable_x64),
        ),
        overwrite=overwrite,
    )
    return metrics, out_dir
