"""`sensing.overparam` (Xiong, Ding & Du, ICLR 2024): GD on matrix sensing, symmetric and
asymmetric, exactly and over-parameterized, with the one-step modification, against
ScaledGD(lambda) and PrecGD."""

import dataclasses
from pathlib import Path
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
from matplotlib.figure import Figure

from ..._config import Config, option
from ..._experiment import Experiment, require
from .._algorithms import (
    asymmetric_gd,
    preconditioned_gd,
    preconditioned_symmetric_gd,
    small_init,
    symmetric_gd,
)
from .._problems import asymmetric_problem, symmetric_problem
from .._rates import convergence_rate, fit_window, loglog_slope, power_law_exponent
from ._shared import check_sizes, curves, label, nan_quiet, problem_key, semilog_figure


@dataclasses.dataclass(frozen=True)
class OverparamConfig(Config):
    """Settings of `sensing.overparam`: n x n ground truth of rank `rank`, factors of
    width `k`, `m` Gaussian measurements, GD with step `step_size` for `steps` iterations.

    Seeds vary the random initialization; the ground truth and the measurements are
    drawn once from `problem_seed` (all seeds share them) unless `resample_problem`.
    """

    x64: ClassVar[bool] = True

    n: int = option(50, "size n of the n x n ground truth M*", minimum=2)
    rank: int = option(3, "rank r of M* (at most n)", minimum=1)
    k: int = option(5, "width k of the factors, r <= k <= n (k > r: over-parameterized)", minimum=1)
    m: int = option(1000, "number of Gaussian measurements", minimum=1)
    condition_number: float = option(2.0, "condition number kappa of M*", minimum=1)
    step_size: float = option(0.5, "step size eta of every method", above=0)
    steps: int = option(14000, "GD iterations T", minimum=2)
    precond_steps: int = option(1000, "iterations of ScaledGD(lambda) and PrecGD", minimum=2)
    alpha: float = option(0.1, "initial scale alpha of the exact and symmetric runs", above=0)
    alphas: tuple[float, ...] = option(
        (0.4, 0.2, 0.1),
        "initial scales alpha of the asymmetric, one-step and preconditioned runs",
        above=0,
    )
    imbalance: float = option(
        1 / 3, "scale of G_0 relative to F_0 (G_0 at imbalance * alpha)", above=0
    )
    rebalance_tol: float = option(
        1e-2,
        "one-step modification: rebalance once |A(FG^T) - y| < rebalance_tol |y|",
        above=0,
        below=1,
    )
    rebalance_scale: float = option(1.0, "singular values c of F after the rebalancing", above=0)
    scaledgd_damping_ratio: float = option(
        1.0, "ScaledGD damping lambda in units of sigma_r(M*)", minimum=0
    )
    precgd_damping_scale: float = option(
        1.0, "PrecGD damping lambda_t = c * residual norm: the factor c", above=0
    )
    band_upper: float = option(
        1e-3, "upper end of the relative-error band the rates are fitted on", above=0
    )
    band_lower: float = option(1e-6, "lower end of that band", above=0)
    problem_seed: int = option(0, "seed of M* and the measurements (shared by all seeds)")
    resample_problem: bool = option(False, "draw M* and the measurements from each seed's key")

    def check(self):
        check_sizes(self)
        require(
            self.band_lower < self.band_upper,
            "band_lower",
            f"a number in (0, band_upper={self.band_upper})",
            self.band_lower,
        )

    @classmethod
    def quick(cls) -> "OverparamConfig":
        return cls(n=20, rank=2, k=4, m=400, steps=6000, precond_steps=500, alphas=(0.4, 0.2))


def _run(cfg: OverparamConfig, key) -> dict:
    """Error curves of every variant for one seed (see the module docs)."""
    n, r, k, eta, steps = cfg.n, cfg.rank, cfg.k, cfg.step_size, cfg.steps
    key_sym, key_asym = jax.random.split(problem_key(cfg, key))
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


def _curves(cfg: OverparamConfig, results) -> dict[str, np.ndarray]:
    """`{variant: (seeds, steps + 1)}`, one curve per alpha for the batched variants."""
    return curves(results, lambda name: ("alpha", cfg.alphas))


@nan_quiet
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


_ALPHA_VARIANTS = (
    "asymmetric_over",
    "asymmetric_onestep",
    "scaledgd/symmetric_over",
    "scaledgd/asymmetric_over",
    "precgd/symmetric_over",
    "precgd/asymmetric_over",
)


def _banded(cfg: OverparamConfig, errors) -> dict[str, np.ndarray]:
    """Per seed: the rate fitted on the experiment's error band, and the iterations the
    band spans (NaN where a curve does not cross it)."""
    band = (cfg.band_upper, cfg.band_lower)
    windows = [fit_window(e, *band) for e in errors]
    return {
        "rate": _per_seed(lambda e: convergence_rate(e, *band), errors),
        "fit_start": np.array([np.nan if w is None else w[0] for w in windows]),
        "fit_end": np.array([np.nan if w is None else w[1] for w in windows]),
    }


def report(cfg: OverparamConfig, results, out_dir: Path | None) -> dict:
    """Per-seed rates (all on the error band `band_upper` to `band_lower`), the band's
    iterations, alpha exponents and final errors; figures into `out_dir` unless None."""
    flat = _curves(cfg, results)
    metrics = {}
    for name in ("symmetric_exact", "asymmetric_exact"):
        for stat, values in _banded(cfg, flat[name]).items():
            metrics[f"{name}/{stat}"] = values
        metrics[f"{name}/final_error"] = flat[name][:, -1]
    metrics["symmetric_over/loglog_slope"] = _per_seed(loglog_slope, flat["symmetric_over"])
    metrics["symmetric_over/final_error"] = flat["symmetric_over"][:, -1]
    for variant in _ALPHA_VARIANTS:
        rates = []
        for alpha in cfg.alphas:
            errors = flat[f"{variant}/alpha={label(alpha)}"]
            for stat, values in _banded(cfg, errors).items():
                metrics[f"{variant}/alpha={label(alpha)}/{stat}"] = values
            rates.append(metrics[f"{variant}/alpha={label(alpha)}/rate"])
            metrics[f"{variant}/alpha={label(alpha)}/final_error"] = errors[:, -1]
        if len(cfg.alphas) > 1:
            metrics[f"{variant}/alpha_exponent"] = np.array(
                [power_law_exponent(cfg.alphas, seed_rates) for seed_rates in np.transpose(rates)]
            )
    if out_dir is not None:
        plain = {k: v for k, v in flat.items() if not k.startswith(("scaledgd", "precgd"))}
        semilog_figure(plain, out_dir / "errors_semilog.png", "Matrix sensing: GD variants")
        preconditioned = {k: v for k, v in flat.items() if k.startswith(("scaledgd", "precgd"))}
        semilog_figure(
            preconditioned,
            out_dir / "preconditioned_semilog.png",
            "ScaledGD(lambda) and PrecGD, over-parameterized",
        )
        _loglog_figure(flat["symmetric_over"], out_dir / "symmetric_over_loglog.png")
    return metrics


EXPERIMENT = Experiment(
    "sensing.overparam",
    "GD on matrix sensing: (a)symmetric, exact/over-parameterized, one-step rebalancing, "
    "ScaledGD, PrecGD",
    OverparamConfig,
    report,
    run=_run,
    history=_curves,
)
