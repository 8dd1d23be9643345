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

from .._experiment import Experiment, register, require, require_integer
from ._algorithms import (
    asymmetric_gd,
    preconditioned_gd,
    preconditioned_symmetric_gd,
    small_init,
    subgradient_method,
    symmetric_gd,
)
from ._problems import add_gaussian_noise, add_outliers, asymmetric_problem, symmetric_problem
from ._rates import convergence_rate, fit_window, loglog_slope, power_law_exponent


def _check_sizes(cfg) -> None:
    require_integer(cfg.n, "n", 2)
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
    require_integer(cfg.m, "m")
    require_integer(cfg.steps, "steps", 2)
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
    steps: int = 14000
    precond_steps: int = 1000
    alpha: float = 0.1
    alphas: tuple[float, ...] = (0.4, 0.2, 0.1)
    imbalance: float = 1 / 3
    rebalance_tol: float = 1e-2
    rebalance_scale: float = 1.0
    scaledgd_damping_ratio: float = 1.0
    precgd_damping_scale: float = 1.0
    band_upper: float = 1e-3
    band_lower: float = 1e-6
    problem_seed: int = 0
    resample_problem: bool = False

    def __post_init__(self):
        _check_sizes(self)
        require(self.alpha > 0, "alpha", "a positive number", self.alpha)
        require_integer(self.precond_steps, "precond_steps", 2)
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
            self.scaledgd_damping_ratio >= 0,
            "scaledgd_damping_ratio",
            "a number >= 0",
            self.scaledgd_damping_ratio,
        )
        require(
            0 < self.band_lower < self.band_upper,
            "band_lower",
            f"a number in (0, band_upper={self.band_upper})",
            self.band_lower,
        )
        require(
            self.precgd_damping_scale > 0,
            "precgd_damping_scale",
            "a positive number",
            self.precgd_damping_scale,
        )

    @classmethod
    def quick(cls) -> "OverparamConfig":
        return cls(n=20, rank=2, k=4, m=400, steps=6000, precond_steps=500, alphas=(0.4, 0.2))


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

    def preconditioned_asymmetric(alpha, damping, damping_scale):
        f0, g0 = factors(alpha)
        return preconditioned_gd(
            asym, f0, g0, eta, cfg.precond_steps, damping, damping_scale
        ).errors

    def preconditioned_symmetric(alpha, damping, damping_scale):
        x0 = small_init(key_x, n, k, alpha)
        return preconditioned_symmetric_gd(
            sym, x0, eta, cfg.precond_steps, damping, damping_scale
        ).errors

    def smallest_singular_value(problem):
        return jnp.linalg.svd(problem.target, compute_uv=False)[r - 1]

    # Plain and rebalanced GD share one vmapped call (tolerance 0 never rebalances), and
    # so do ScaledGD(lambda) (lambda = ratio * sigma_r(M*), no adaptive part) and PrecGD
    # (lambda_t = c * residual norm): wider products use the shared operator better.
    alphas = jnp.tile(jnp.asarray(cfg.alphas), 2)
    tols = jnp.repeat(jnp.array([0.0, cfg.rebalance_tol]), len(cfg.alphas))
    plain, onestep = jnp.split(jax.vmap(asymmetric)(alphas, tols), 2)
    ones = jnp.ones(len(cfg.alphas))
    out = {
        "symmetric_exact": symmetric_gd(sym, small_init(key_x, n, r, cfg.alpha), eta, steps).errors,
        "symmetric_over": symmetric_gd(sym, small_init(key_x, n, k, cfg.alpha), eta, steps).errors,
        "asymmetric_exact": asymmetric_gd(asym, *factors(cfg.alpha, r), eta, steps).errors,
        "asymmetric_over": plain,
        "asymmetric_onestep": onestep,
    }
    for problem, name, run in (
        (sym, "symmetric_over", preconditioned_symmetric),
        (asym, "asymmetric_over", preconditioned_asymmetric),
    ):
        damping = cfg.scaledgd_damping_ratio * smallest_singular_value(problem)
        lambdas = jnp.concatenate([damping * ones, 0 * ones])
        scales = jnp.concatenate([0 * ones, cfg.precgd_damping_scale * ones])
        scaled, prec = jnp.split(jax.vmap(run)(alphas, lambdas, scales), 2)
        out[f"scaledgd/{name}"], out[f"precgd/{name}"] = scaled, prec
    return out


def _grid_of(cfg, name: str) -> tuple[str, tuple[float, ...]]:
    """The swept setting of a batched result: alpha (overparam), noise level or outlier
    fraction p (robust)."""
    if isinstance(cfg, OverparamConfig):
        return "alpha", cfg.alphas
    return ("noise", cfg.noise_levels) if "noise" in name else ("p", cfg.outlier_fractions)


def _curves(cfg, results) -> dict[str, np.ndarray]:
    """Flatten the results into `{variant: (seeds, steps + 1)}` curves."""
    curves = {}
    for name, errors in results.items():
        errors = np.asarray(errors)
        if errors.ndim == 3:
            prefix, values = _grid_of(cfg, name)
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


ALPHA_VARIANTS = (
    "asymmetric_over",
    "asymmetric_onestep",
    "scaledgd/symmetric_over",
    "scaledgd/asymmetric_over",
    "precgd/symmetric_over",
    "precgd/asymmetric_over",
)


def _banded(cfg, errors) -> dict[str, np.ndarray]:
    """Per seed: the rate fitted on the experiment's error band, and the iterations the
    band spans (NaN where a curve does not cross it)."""
    band = (cfg.band_upper, cfg.band_lower)
    windows = [fit_window(e, *band) for e in errors]
    return {
        "rate": _per_seed(lambda e: convergence_rate(e, *band), errors),
        "fit_start": np.array([np.nan if w is None else w[0] for w in windows]),
        "fit_end": np.array([np.nan if w is None else w[1] for w in windows]),
    }


def report_overparam(cfg: OverparamConfig, results, out_dir: Path | None) -> dict:
    """Per-seed rates (all on the error band `band_upper` to `band_lower`), the band's
    iterations, alpha exponents and final errors; figures into `out_dir` unless None."""
    curves = _curves(cfg, results)
    metrics = {}
    for name in ("symmetric_exact", "asymmetric_exact"):
        for stat, values in _banded(cfg, curves[name]).items():
            metrics[f"{name}/{stat}"] = values
        metrics[f"{name}/final_error"] = curves[name][:, -1]
    metrics["symmetric_over/loglog_slope"] = _per_seed(loglog_slope, curves["symmetric_over"])
    metrics["symmetric_over/final_error"] = curves["symmetric_over"][:, -1]
    for variant in ALPHA_VARIANTS:
        rates = []
        for alpha in cfg.alphas:
            errors = curves[f"{variant}/alpha={_label(alpha)}"]
            for stat, values in _banded(cfg, errors).items():
                metrics[f"{variant}/alpha={_label(alpha)}/{stat}"] = values
            rates.append(metrics[f"{variant}/alpha={_label(alpha)}/rate"])
            metrics[f"{variant}/alpha={_label(alpha)}/final_error"] = errors[:, -1]
        if len(cfg.alphas) > 1:
            metrics[f"{variant}/alpha_exponent"] = np.array(
                [power_law_exponent(cfg.alphas, seed_rates) for seed_rates in np.transpose(rates)]
            )
    if out_dir is not None:
        plain = {k: v for k, v in curves.items() if not k.startswith(("scaledgd", "precgd"))}
        _semilog_figure(plain, out_dir / "errors_semilog.png", "Matrix sensing: GD variants")
        preconditioned = {k: v for k, v in curves.items() if k.startswith(("scaledgd", "precgd"))}
        _semilog_figure(
            preconditioned,
            out_dir / "preconditioned_semilog.png",
            "ScaledGD(lambda) and PrecGD, over-parameterized",
        )
        _loglog_figure(curves["symmetric_over"], out_dir / "symmetric_over_loglog.png")
    return metrics


@dataclasses.dataclass(frozen=True)
class RobustConfig:
    """Settings of `sensing.robust`: SubGM on the l1 loss with an over-estimated rank
    `k` (r' = 2r by default; also run at r' = r) and geometric steps
    `step_size * decay**t`, against l2-loss GD (`l2_step_size`, stable on clean data),
    (a) under gross outliers: each measurement corrupted with probability p by an
    outlier added to it (`outlier_mode="add"`, Ma & Fattahi's model) or replacing it
    (`"replace"`), and (b) under dense Gaussian noise of each level in `noise_levels`."""

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
    l2_step_size: float = 0.1
    outlier_fractions: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3)
    outlier_magnitude: float = 10.0
    outlier_mode: str = "add"
    noise_levels: tuple[float, ...] = (0.01, 0.03, 0.1)
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
        require(
            self.outlier_mode in ("add", "replace"),
            "outlier_mode",
            "one of add, replace",
            self.outlier_mode,
        )
        require(
            len(self.noise_levels) >= 1 and all(v > 0 for v in self.noise_levels),
            "noise_levels",
            "one or more positive numbers",
            self.noise_levels,
        )

    @classmethod
    def quick(cls) -> "RobustConfig":
        return cls(n=15, rank=2, k=4, m=600, steps=1500, decay=0.995)


def run_robust(cfg: RobustConfig, key) -> dict:
    key_problem, key_outliers, key_noise = jax.random.split(_problem_key(cfg, key), 3)
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


def report_robust(cfg: RobustConfig, results, out_dir: Path | None) -> dict:
    """Per-seed final errors, and for dense noise the slope of log error against log
    noise level (1 when the error is proportional to the noise); a figure into `out_dir`
    unless it is None."""
    curves = _curves(cfg, results)
    metrics = {f"{name}/final_error": errors[:, -1] for name, errors in curves.items()}
    for method in ("subgm", "l2gd"):
        errors = np.stack(
            [curves[f"{method}/dense_noise/noise={_label(v)}"][:, -1] for v in cfg.noise_levels]
        )
        if len(cfg.noise_levels) > 1:
            metrics[f"{method}/dense_noise/noise_exponent"] = np.array(
                [power_law_exponent(cfg.noise_levels, e) for e in errors.T]
            )
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
