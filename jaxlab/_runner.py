"""Run a registered experiment end to end: sweep, report, results folder."""

import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import jax

from ._experiment import Experiment, get_experiment, require
from ._results import check_out_dir, environment, write_results
from ._sweep import sweep


def default_out_dir(name: str) -> Path:
    return Path("runs") / name / time.strftime("%Y%m%d-%H%M%S")


def enable_compile_cache(directory: str | Path) -> None:
    """Keep every compiled program in `directory` (JAX's persistent compilation cache), so
    that a later process running the same programs loads them instead of compiling.

    JAX never caches a program that holds a host callback, and equinox's runtime checks
    (`eqx.error_if`, inside diffrax, optimistix and lineax solves) are host callbacks that
    raise. So unless the environment sets `EQX_ON_ERROR`, a failed check returns NaN
    instead (`EQX_ON_ERROR=nan`): the programs are cached, and in a sweep the seed whose
    solve failed is flagged as diverged instead of stopping every seed."""
    jax.config.update("jax_compilation_cache_dir", str(Path(directory).absolute()))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    if "EQX_ON_ERROR" not in os.environ:
        os.environ["EQX_ON_ERROR"] = "nan"
        errors = sys.modules.get("equinox._errors")  # imported already: it read the variable
        if errors is not None and hasattr(errors, "EQX_ON_ERROR"):
            errors.EQX_ON_ERROR = "nan"  # read again each time a check is traced


def _checkpoint_dir(experiment: Experiment, out_dir: Path, resume: bool, overwrite: bool):
    """Where the run keeps its checkpoints (`out_dir/checkpoint`), after checking that
    `out_dir` may be used; None for an experiment that runs as one program."""
    folder = out_dir / "checkpoint"
    if resume:
        require(
            experiment.chunked,
            "--resume",
            "a chunked experiment (this one runs as one compiled program: run it again)",
            experiment.name,
        )
        require(
            folder.is_dir(),
            "--resume",
            "an --out folder holding an interrupted run's checkpoint",
            str(out_dir),
        )
        return folder
    occupied = out_dir.exists() and any(out_dir.iterdir())
    require(
        not occupied or overwrite or not folder.exists(),
        "--out",
        "an empty or new folder (it holds an interrupted run: pass --resume to continue it)",
        str(out_dir),
    )
    check_out_dir(out_dir, overwrite)
    if folder.exists() and jax.process_index() == 0:
        shutil.rmtree(folder)  # --overwrite: a stale checkpoint must not be resumed
    return folder if experiment.chunked else None


def run_experiment(
    experiment: str | Experiment,
    config: Any = None,
    *,
    seeds: int = 8,
    quick: bool = False,
    out_dir: str | Path | None = None,
    overwrite: bool = False,
    resume: bool = False,
    progress: bool = True,
    chunk_size: int = 1000,
    key: int = 0,
) -> tuple[dict[str, Any] | None, Path]:
    """Sweep an experiment over `seeds`, report it, and write its results folder.

    A chunked experiment saves a checkpoint in `out_dir/checkpoint` after every chunk of
    `chunk_size` steps; `resume=True` continues an interrupted run from it (with the
    same experiment, config, seeds and chunk size, else a
    [`ConfigError`][jaxlab.ConfigError]). The checkpoint goes when the results are written.
    In a multi-process run only process 0 reports and writes; the others return None.

    **Arguments:**

    - `experiment`: a registered name (`"sensing.overparam"`) or an
      [`Experiment`][jaxlab.Experiment].
    - `config`: its config; the default (or `quick()`) config if None.
    - `seeds`, `key`, `chunk_size`: as in [`sweep`][jaxlab.sweep].
    - `out_dir`: the results folder (default `runs/NAME/<timestamp>`); `overwrite` must
      be set to replace a non-empty one. Bad input is rejected before anything is written.

    **Returns:** the content of `metrics.json` (None on processes other than 0), and the
    folder.
    """
    if isinstance(experiment, str):
        experiment = get_experiment(experiment)
    config = experiment.default_config(quick) if config is None else config
    out_dir = Path(out_dir) if out_dir is not None else default_out_dir(experiment.name)
    checkpoint_dir = _checkpoint_dir(experiment, out_dir, resume, overwrite)
    result = sweep(
        experiment,
        config,
        seeds,
        key=key,
        progress=progress and jax.process_index() == 0,
        chunk_size=chunk_size,
        checkpoint_dir=checkpoint_dir,
    )
    if jax.process_index() != 0:
        return None, out_dir
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
        overwrite=overwrite or checkpoint_dir is not None,
    )
    return metrics, out_dir
