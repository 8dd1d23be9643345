"""Registered reproductions: `sensing.overparam` (Xiong, Ding & Du 2024) and
`sensing.robust` (Ma & Fattahi 2023)."""

import dataclasses
import warnings
from pathlib import Path
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
from matplotlib.figure import Figure

from .._experiment import Experiment, register, require
from ._algorithms import (
    asymmetric_gd,
    preconditioned_gd,
    small_init,
    subgradient_method,
    symmetric_gd,
)
from ._problems import add_gaussian_noise, add_outliers, asymmetric_problem, symmetric_problem
from ._rates import convergence_rate, loglog_slope, power_law_exponent


def _check_sizes(cfg) -> None:
    require(isinstance(cfg.n, int) and cfg.n >= 2, "n", "an integer >= 2", cfg.n)
    require(
        isinstance(cfg.rank, int) and 1 <= cfg.rank <= cfg.n,
        "rank",
        f"an integer in [1, n={cfg.n}]",
        cfg.rank,
    )
    require(
        isinstance(cfg.k, int) and cfg.rank <= cfg.k <= cfg.n,
        "k",
        f"an integer in [rank={cfg.rank}, n={cfg.n}]",
        cfg.k,
    )
    require(isinstance(cfg.m, int) and cfg.m > 0, "m", "a positive integer", cfg.m)
    require(isinstance(cfg.steps, int) and cfg.steps >= 2, "steps", "an integer >= 2", cfg.steps)
    require(cfg.condition_number >= 1, "condition_number", "a number >= 1", cfg.condition_number)
    require(cfg.step_size > 0, "step_size", "a positive number", cfg.step_size)


def _problem_key(cfg, key):
    return key if cfg.resample_problem else jax.random.key(cfg.problem_seed)


def _label(value: float) -> str:
    return f"{value:g}"


@dataclasses.dataclass(frozen=True)
class OverparamConfig:
    """Settings of `sensing.overparam`: n x n ground truth of rank `rank`, factors of
    width `k`, `m` Gaussian measurements, GD with step `step_size` for `steps` iterations.

    Seeds vary the random initialization; the ground truth and the measurements are
    drawn once from `problem_seed` (all seeds share them) unless `resample_problem`.
    """

    x64: ClassVar[bool] = True

    n: int = 50
    rank: int = 3
    k: int = 5
    m: int = 1000
    condition_number: float = 2.0
    step_size: float = 0.5
    steps: int = 3000
    alpha: float = 0.1
    alphas: tuple[float, ...] = (0.4, 0.2, 0.1, 0.05)
    imbalance: float = 1 / 3
    rebalance_tol: float = 1e-2
    rebalance_scale: float = 1.0
    scaledgd_damping: float = 1e-8
    precgd_damping_scale: float = 1.0
    problem_seed: int = 0
    resample_problem: bool = False

    def __post_init__(self):
        _check_sizes(self)
        require(self.alpha > 0, "alpha", "a positive number", self.alpha)
        require(
            len(self.alphas) >= 1 and all(a > 0 for a in self.alphas),
            "alphas",
            "one or more positive numbers",
            self.alphas,
        )
        require(self.imbalance > 0, "imbalance", "a positive number", self.imbalance)
        require(
            (0 < self.rebalance_tol) & (self.rebalance_tol < 1),
            "rebalance_tol",
            "a number in (0, 1)",
            self.rebalance_tol,
        )
        require(
            self.rebalance_scale > 0, "rebalance_scale", "a positive number", self.rebalance_scale
        )
        require(
            self.scaledgd_damping >= 0, "scaledgd_damping", "a number >= 0", self.scaledgd_damping
        )
        require(
            self.precgd_damping_scale > 0,
            "precgd_damping_scale",
            "a positive number",
            self.precgd_damping_scale,
        )

    @classmethod
    def quick(cls) -> "OverparamConfig":
        return cls(n=20, rank=2, k=4, m=400, steps=1500, alphas=(0.4, 0.2))


def run_overparam(cfg: OverparamConfig, key) -> dict:
    """Error curves of every variant for one seed (see the module docs)."""
    n, r, k, eta, steps = cfg.n, cfg.rank, cfg.k, cfg.step_size, cfg.steps
    key_sym, key_asym = jax.random.split(_problem_key(cfg, key))
    sym = symmetric_problem(key_sym, n, r, cfg.m, cfg.condition_number)
    asym = asymmetric_problem(key_asym, n, n, r, cfg.m, cfg.condition_number)
    key_x, key_f, key_g = jax.random.split(key, 3)

    def factors(alpha, width=k):
        return (
            small_init(key_f, n, width, alpha),
            small_init(key_g, n, width, cfg.imbalance * alpha),
        )

    def asymmetric(alpha, tol):
        return asymmetric_gd(
            asym,
            *factors(alpha),
            eta,
            steps,
            rebalance_tol=tol,
            rebalance_scale=cfg.rebalance_scale,
        ).errors

    def preconditioned(damping, damping_scale):
        return preconditioned_gd(
            asym, *factors(cfg.alpha), eta, steps, damping, damping_scale
        ).errors

    # Plain and rebalanced GD share one vmapped call (tolerance 0 never rebalances), and
    # so do ScaledGD and PrecGD: wider products make better use of the shared operator.
    alphas = jnp.tile(jnp.asarray(cfg.alphas), 2)
    tols = jnp.repeat(jnp.array([0.0, cfg.rebalance_tol]), len(cfg.alphas))
    plain, onestep = jnp.split(jax.vmap(asymmetric)(alphas, tols), 2)
    scaled, prec = jax.vmap(preconditioned)(
        jnp.array([cfg.scaledgd_damping, 0.0]), jnp.array([0.0, cfg.precgd_damping_scale])
    )
    return {
        "symmetric_exact": symmetric_gd(sym, small_init(key_x, n, r, cfg.alpha), eta, steps).errors,
        "symmetric_over": symmetric_gd(sym, small_init(key_x, n, k, cfg.alpha), eta, steps).errors,
        "asymmetric_exact": asymmetric_gd(asym, *factors(cfg.alpha, r), eta, steps).errors,
        "asymmetric_over": plain,
        "asymmetric_onestep": onestep,
        "scaledgd": scaled,
        "precgd": prec,
    }


def _curves(cfg, results) -> dict[str, np.ndarray]:
    """Flatten the results into `{variant: (seeds, steps + 1)}` curves."""
    curves = {}
    for name, errors in results.items():
        errors = np.asarray(errors)
        if errors.ndim == 3:
            values = cfg.alphas if "asymmetric" in name else cfg.outlier_fractions
            prefix = "alpha" if "asymmetric" in name else "p"
            for i, value in enumerate(values):
                curves[f"{name}/{prefix}={_label(value)}"] = errors[:, i]
        else:
            curves[name] = errors
    return curves


def _nan_quiet(function):
    """Plot diverged (all-NaN) curves without NumPy's all-NaN warnings."""

    def wrapped(*args):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            function(*args)

    return wrapped


@_nan_quiet
def _semilog_figure(curves, path: Path, title: str) -> None:
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


@_nan_quiet
def _loglog_figure(errors, path: Path) -> None:
    squared = np.nanmedian(errors, axis=0) ** 2
    t = np.arange(1, squared.shape[0])
    fig = Figure(figsize=(6, 4.5))
    ax = fig.subplots()
    ax.loglog(t, squared[1:], label="symmetric, k > r (median over seeds)")
    anchor = t[len(t) // 2]
    ax.loglog(t, squared[anchor] * (anchor / t) ** 2, "k--", label=r"$\propto 1/t^2$")
    ax.set(
        xlabel="iteration t",
        ylabel="squared relative error",
        title="Symmetric over-parameterized GD",
    )
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def _per_seed(function, errors) -> np.ndarray:
    return np.array([function(e) for e in errors])


def report_overparam(cfg: OverparamConfig, results, out_dir: Path | None) -> dict:
    """Per-seed rates and final errors; figures into `out_dir` unless it is None."""
    curves = _curves(cfg, results)
    metrics = {}
    for name in ("symmetric_exact", "asymmetric_exact"):
        metrics[f"{name}/rate"] = _per_seed(convergence_rate, curves[name])
        metrics[f"{name}/final_error"] = curves[name][:, -1]
    metrics["symmetric_over/loglog_slope"] = _per_seed(loglog_slope, curves["symmetric_over"])
    metrics["symmetric_over/final_error"] = curves["symmetric_over"][:, -1]
    for variant in ("asymmetric_over", "asymmetric_onestep"):
        rates = []
        for alpha in cfg.alphas:
            errors = curves[f"{variant}/alpha={_label(alpha)}"]
            rates.append(_per_seed(convergence_rate, errors))
            metrics[f"{variant}/alpha={_label(alpha)}/rate"] = rates[-1]
            metrics[f"{variant}/alpha={_label(alpha)}/final_error"] = errors[:, -1]
        if len(cfg.alphas) > 1:
            metrics[f"{variant}/alpha_exponent"] = np.array(
                [power_law_exponent(cfg.alphas, seed_rates) for seed_rates in np.transpose(rates)]
            )
    for name in ("scaledgd", "precgd"):
        metrics[f"{name}/rate"] = _per_seed(convergence_rate, curves[name])
        metrics[f"{name}/final_error"] = curves[name][:, -1]
    if out_dir is not None:
        _semilog_figure(curves, out_dir / "errors_semilog.png", "Matrix sensing: GD variants")
        _loglog_figure(curves["symmetric_over"], out_dir / "symmetric_over_loglog.png")
    return metrics


@dataclasses.dataclass(frozen=True)
class RobustConfig:
    """Settings of `sensing.robust`: SubGM on the l1 loss with an over-estimated rank
    `k` (r' = 2r by default) and geometric steps `step_size * decay**t`, against
    l2-loss GD (`l2_step_size`), under gross outliers (each measurement corrupted with
    probability p) and under dense Gaussian noise of standard deviation `noise_std`."""

    x64: ClassVar[bool] = True

    n: int = 30
    rank: int = 3
    k: int = 6
    m: int = 1500
    condition_number: float = 2.0
    steps: int = 4000
    alpha: float = 1e-6
    step_size: float = 0.3
    decay: float = 0.998
    l2_step_size: float = 0.5
    outlier_fractions: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3)
    outlier_magnitude: float = 10.0
    noise_std: float = 0.1
    problem_seed: int = 0
    resample_problem: bool = False

    def __post_init__(self):
        _check_sizes(self)
        require(self.alpha > 0, "alpha", "a positive number", self.alpha)
        require((0 < self.decay) & (self.decay <= 1), "decay", "a number in (0, 1]", self.decay)
        require(self.l2_step_size > 0, "l2_step_size", "a positive number", self.l2_step_size)
        require(
            len(self.outlier_fractions) >= 1 and all(0 <= p < 0.5 for p in self.outlier_fractions),
            "outlier_fractions",
            "one or more numbers in [0, 0.5)",
            self.outlier_fractions,
        )
        require(
            self.outlier_magnitude >= 0,
            "outlier_magnitude",
            "a number >= 0",
            self.outlier_magnitude,
        )
        require(self.noise_std >= 0, "noise_std", "a number >= 0", self.noise_std)

    @classmethod
    def quick(cls) -> "RobustConfig":
        return cls(n=15, rank=2, k=4, m=600, steps=1500, decay=0.995)


def run_robust(cfg: RobustConfig, key) -> dict:
    key_problem, key_outliers, key_noise = jax.random.split(_problem_key(cfg, key), 3)
    clean = symmetric_problem(key_problem, cfg.n, cfg.rank, cfg.m, cfg.condition_number)
    u0 = small_init(key, cfg.n, cfg.k, cfg.alpha)

    def both(problem):
        return (
            subgradient_method(problem, u0, cfg.step_size, cfg.decay, cfg.steps).errors,
            symmetric_gd(problem, u0, cfg.l2_step_size, cfg.steps).errors,
        )

    def with_outliers(p):
        return both(add_outliers(clean, key_outliers, p, cfg.outlier_magnitude))

    subgm, l2gd = jax.vmap(with_outliers)(jnp.asarray(cfg.outlier_fractions))
    subgm_noise, l2gd_noise = both(add_gaussian_noise(clean, key_noise, cfg.noise_std))
    return {
        "subgm": subgm,
        "l2gd": l2gd,
        "subgm/gaussian": subgm_noise,
        "l2gd/gaussian": l2gd_noise,
    }


def report_robust(cfg: RobustConfig, results, out_dir: Path | None) -> dict:
    """Per-seed final errors; a figure into `out_dir` unless it is None."""
    curves = _curves(cfg, results)
    metrics = {f"{name}/final_error": errors[:, -1] for name, errors in curves.items()}
    if out_dir is not None:
        _semilog_figure(
            curves, out_dir / "errors_semilog.png", "Robust matrix sensing: SubGM vs l2 GD"
        )
    return metrics


register(
    Experiment(
        "sensing.overparam",
        "GD on matrix sensing: (a)symmetric, exact/over-parameterized, one-step rebalancing, "
        "ScaledGD, PrecGD",
        OverparamConfig,
        report_overparam,
        run=run_overparam,
        history=_curves,
    )
)
register(
    Experiment(
        "sensing.robust",
        "SubGM on the l1 loss vs l2 GD under outliers and Gaussian noise (over-estimated rank)",
        RobustConfig,
        report_robust,
        run=run_robust,
        history=_curves,
    )
)
