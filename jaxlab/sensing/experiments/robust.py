"""`sensing.robust` (Ma & Fattahi, JMLR 2023): SubGM on the l1 loss with an over-estimated
rank against l2-loss GD, under gross outliers and under dense Gaussian noise."""

import dataclasses
from pathlib import Path
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from ..._config import Config, option
from ..._experiment import Experiment
from .._algorithms import small_init, subgradient_method, symmetric_gd
from .._problems import add_gaussian_noise, add_outliers, symmetric_problem
from .._rates import power_law_exponent
from ._shared import check_sizes, curves, label, problem_key, semilog_figure


@dataclasses.dataclass(frozen=True)
class RobustConfig(Config):
    """Settings of `sensing.robust`: SubGM on the l1 loss with an over-estimated rank
    `k` (r' = 2r by default; also run at r' = r) and geometric steps
    `step_size * decay**t`, against l2-loss GD (`l2_step_size`, stable on clean data),
    (a) under gross outliers: each measurement corrupted with probability p by an
    outlier added to it (`outlier_mode="add"`, Ma & Fattahi's model) or replacing it
    (`"replace"`), and (b) under dense Gaussian noise of each level in `noise_levels`."""

    x64: ClassVar[bool] = True

    n: int = option(30, "size n of the n x n ground truth M*", minimum=2)
    rank: int = option(3, "rank r of M* (at most n)", minimum=1)
    k: int = option(6, "over-estimated rank r' of the factor, r <= r' <= n", minimum=1)
    m: int = option(1500, "number of Gaussian measurements", minimum=1)
    condition_number: float = option(2.0, "condition number kappa of M*", minimum=1)
    steps: int = option(4000, "iterations T of SubGM and l2 GD", minimum=2)
    alpha: float = option(1e-6, "initial scale alpha of the factor", above=0)
    step_size: float = option(0.3, "SubGM's initial step size eta_0", above=0)
    decay: float = option(0.998, "SubGM's step decay rho: step eta_0 * rho^t", above=0, maximum=1)
    l2_step_size: float = option(0.1, "step size of l2-loss GD", above=0)
    outlier_fractions: tuple[float, ...] = option(
        (0.0, 0.1, 0.2, 0.3),
        "fractions p of measurements corrupted by outliers",
        minimum=0,
        below=0.5,
    )
    outlier_magnitude: float = option(
        10.0, "outlier magnitude c: outliers uniform in c * max|y*| * [-1, 1]", minimum=0
    )
    outlier_mode: str = option(
        "add", "add the outlier to the measurement or replace it", choices=("add", "replace")
    )
    noise_levels: tuple[float, ...] = option(
        (0.01, 0.03, 0.1), "standard deviations nu of the dense Gaussian noise", above=0
    )
    problem_seed: int = option(0, "seed of M* and the measurements (shared by all seeds)")
    resample_problem: bool = option(False, "draw M* and the measurements from each seed's key")

    def check(self):
        check_sizes(self)

    @classmethod
    def quick(cls) -> "RobustConfig":
        return cls(n=15, rank=2, k=4, m=600, steps=1500, decay=0.995)


def _run(cfg: RobustConfig, key) -> dict:
    key_problem, key_outliers, key_noise = jax.random.split(problem_key(cfg, key), 3)
    clean = symmetric_problem(key_problem, cfg.n, cfg.rank, cfg.m, cfg.condition_number)
    u0 = small_init(key, cfg.n, cfg.k, cfg.alpha)
    u0_exact = small_init(key, cfg.n, cfg.rank, cfg.alpha)

    def methods(problem):
        return (
            subgradient_method(problem, u0, cfg.step_size, cfg.decay, cfg.steps).errors,
            symmetric_gd(problem, u0, cfg.l2_step_size, cfg.steps).errors,
        )

    def with_outliers(p):
        problem = add_outliers(clean, key_outliers, p, cfg.outlier_magnitude, mode=cfg.outlier_mode)
        exact = subgradient_method(problem, u0_exact, cfg.step_size, cfg.decay, cfg.steps)
        return *methods(problem), exact.errors

    def with_noise(level):
        return methods(add_gaussian_noise(clean, key_noise, level))

    subgm, l2gd, subgm_exact = jax.vmap(with_outliers)(jnp.asarray(cfg.outlier_fractions))
    subgm_noise, l2gd_noise = jax.vmap(with_noise)(jnp.asarray(cfg.noise_levels))
    return {
        "subgm/outliers": subgm,
        "l2gd/outliers": l2gd,
        "subgm_exact_rank/outliers": subgm_exact,
        "subgm/dense_noise": subgm_noise,
        "l2gd/dense_noise": l2gd_noise,
    }


def _curves(cfg: RobustConfig, results) -> dict[str, np.ndarray]:
    """`{variant: (seeds, steps + 1)}`, one curve per noise level or outlier fraction p."""
    return curves(
        results,
        lambda name: (
            ("noise", cfg.noise_levels) if "noise" in name else ("p", cfg.outlier_fractions)
        ),
    )


def report(cfg: RobustConfig, results, out_dir: Path | None) -> dict:
    """Per-seed final errors, and for dense noise the slope of log error against log
    noise level (1 when the error is proportional to the noise); a figure into `out_dir`
    unless it is None."""
    flat = _curves(cfg, results)
    metrics = {f"{name}/final_error": errors[:, -1] for name, errors in flat.items()}
    for method in ("subgm", "l2gd"):
        errors = np.stack(
            [flat[f"{method}/dense_noise/noise={label(v)}"][:, -1] for v in cfg.noise_levels]
        )
        if len(cfg.noise_levels) > 1:
            metrics[f"{method}/dense_noise/noise_exponent"] = np.array(
                [power_law_exponent(cfg.noise_levels, e) for e in errors.T]
            )
    if out_dir is not None:
        semilog_figure(
            flat, out_dir / "errors_semilog.png", "Robust matrix sensing: SubGM vs l2 GD"
        )
    return metrics


EXPERIMENT = Experiment(
    "sensing.robust",
    "SubGM on the l1 loss vs l2 GD under outliers and Gaussian noise (over-estimated rank)",
    RobustConfig,
    report,
    run=_run,
    history=_curves,
)
