# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Over-parameterized matrix sensing with `jaxlab.sensing`
#
# We recover a rank-$r$ matrix $M^\star$ from $m$ Gaussian measurements
# $y = \mathcal{A}(M^\star)$ by gradient descent on a factorization of width $k \ge r$:
#
# - **symmetric**: $M = XX^\top$, loss $\tfrac14\|\mathcal{A}(XX^\top) - y\|^2$;
# - **asymmetric**: $M = FG^\top$, loss $\tfrac12\|\mathcal{A}(FG^\top) - y\|^2$.
#
# Xiong, Ding & Du (ICLR 2024) show that from a small random initialization of scale
# $\alpha$, over-parameterization ($k > r$) slows GD down: the symmetric case becomes
# sublinear ($\Omega(1/T^2)$), the asymmetric case stays linear but at a rate
# $\propto \alpha^2$, and a one-step modification restores an $\alpha$-independent rate.
# This notebook reproduces each statement at small scale, then sweeps seeds and step
# sizes with `jaxlab.sweep`.
#
# Run it as a script with `JAXLAB_EXAMPLE_QUICK=1 python examples/sensing.py` (small
# sizes, well under a minute); figures go to `$JAXLAB_EXAMPLE_OUT` (a temporary folder
# by default).

# %%
import dataclasses
import os
import sys
import tempfile
from pathlib import Path

import matplotlib


if "ipykernel" not in sys.modules:
    matplotlib.use("Agg")  # run as a script: draw to files only

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

import jaxlab
from jaxlab import sensing


# Matrix sensing reaches errors near 1e-16: float64 throughout. (A notebook may set this
# globally; jaxlab itself never does.)
jax.config.update("jax_enable_x64", True)

QUICK = os.environ.get("JAXLAB_EXAMPLE_QUICK") == "1"
OUT = Path(os.environ.get("JAXLAB_EXAMPLE_OUT") or tempfile.mkdtemp(prefix="jaxlab-sensing-"))
OUT.mkdir(parents=True, exist_ok=True)

if QUICK:
    n, r, k, m, steps = 20, 2, 4, 400, 600
else:
    n, r, k, m, steps = 50, 3, 5, 1000, 3000
eta = 0.5  # step size
print(f"n={n}, r={r}, k={k}, m={m}, steps={steps}; figures in {OUT}")


def show(fig, name: str) -> None:
    """Save a figure to OUT; display it in a notebook, close it in a script."""
    fig.tight_layout()
    fig.savefig(OUT / name, dpi=110)
    if "ipykernel" in sys.modules:
        plt.show()
    else:
        plt.close(fig)


def median_band(ax, errors, label: str) -> None:
    """Median error curve over seeds, with the min-max range shaded."""
    (line,) = ax.semilogy(np.median(errors, axis=0), label=label)
    t = np.arange(errors.shape[1])
    ax.fill_between(
        t, errors.min(axis=0), errors.max(axis=0), color=line.get_color(), alpha=0.2, lw=0
    )


# %% [markdown]
# ## Problems
#
# `symmetric_problem` draws a PSD ground truth with
# singular values from 1 down to $1/\kappa$ and symmetric Gaussian measurement matrices;
# `asymmetric_problem` a general rank-$r$ one with
# i.i.d. Gaussian measurements. A problem is an `equinox.Module` of arrays: it can be
# passed to `jit`-ed functions, or closed over.

# %%
key_sym, key_asym, key_init = jax.random.split(jax.random.key(0), 3)
sym = sensing.symmetric_problem(key_sym, n, r, m, condition_number=2.0)
asym = sensing.asymmetric_problem(key_asym, n, n, r, m, condition_number=2.0)
key_x, key_f, key_g = jax.random.split(key_init, 3)  # initializations of X, F and G
print("operator:", sym.measurements.shape, "observations:", sym.observations.shape)
print("singular values of M*:", np.round(np.linalg.svd(asym.target, compute_uv=False)[: r + 1], 6))

# The ground truth fits the data exactly and has rank r.
for problem in (sym, asym):
    assert float(jnp.max(jnp.abs(problem.residual(problem.target)))) < 1e-12
    assert np.sum(np.linalg.svd(problem.target, compute_uv=False) > 1e-10) == r

# %% [markdown]
# ## Symmetric GD: exact ($k = r$) against over-parameterized ($k > r$)
#
# Both runs start from `small_init` at $\alpha = 0.1$
# (entries $\mathcal{N}(0, \alpha^2/n)$). The number of steps is static (it sets the
# length of the `lax.scan`); everything else may be traced.

# %%
symmetric_gd = jax.jit(sensing.symmetric_gd, static_argnames="steps")
exact = symmetric_gd(sym, sensing.small_init(key_x, n, r, 0.1), eta, steps=steps).errors
over = symmetric_gd(sym, sensing.small_init(key_x, n, k, 0.1), eta, steps=steps).errors

slope = sensing.loglog_slope(over)
print(f"k = r: final error {exact[-1]:.2e}, rate {sensing.convergence_rate(exact):.4f} per step")
print(f"k > r: final error {over[-1]:.2e}, log-log slope of the squared error {slope:.2f}")

# Exact parameterization converges linearly to machine precision; over-parameterized GD
# is still far from it, with a squared error decaying polynomially, close to 1/t^2.
assert exact[-1] < 1e-8
assert over[-1] > 1e4 * exact[-1]
assert -2.6 < slope < -1.2

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
ax1.semilogy(exact, label=f"k = r = {r}")
ax1.semilogy(over, label=f"k = {k} > r")
ax1.set(xlabel="iteration t", ylabel="relative error", title="Symmetric GD")
ax1.legend()
t = np.arange(1, steps + 1)
ax2.loglog(t, np.asarray(over[1:]) ** 2, label=f"k = {k} > r")
ax2.loglog(t, over[steps // 2] ** 2 * (steps / 2 / t) ** 2, "k--", label=r"$\propto 1/t^2$")
ax2.set(xlabel="iteration t", ylabel="squared relative error", title="Over-parameterized, log-log")
ax2.legend()
show(fig, "symmetric.png")

# %% [markdown]
# ## Asymmetric GD: the $\alpha^2$ slow-down and the one-step modification
#
# $F$ starts at scale $\alpha$ and $G$ at $\alpha/3$. Over-parameterized asymmetric GD
# converges linearly, but the directions $M^\star$ does not need shrink only as fast as
# the imbalance $F^\top F - G^\top G \sim \alpha^2$ allows. With `rebalance_tol`,
# `asymmetric_gd` applies
# `rebalance` once, when the relative residual first drops
# below the tolerance: $F \leftarrow F(F^\top F)^{-1/2}$, $G \leftarrow G(F^\top F)^{1/2}$.
# This is jaxlab's formulation of the paper's step (its exact formula could not be
# confirmed). It leaves $FG^\top$ unchanged:

# %%
f = sensing.small_init(key_f, n, k, 1.0)
g = sensing.small_init(key_g, n, k, 0.3)
f_new, g_new = sensing.rebalance(f, g)
sv = np.linalg.svd(f_new, compute_uv=False)
print("singular values of F after rebalancing:", np.round(sv, 12))
assert np.allclose(f_new @ g_new.T, f @ g.T, rtol=0, atol=1e-12)
assert np.allclose(sv, 1.0, atol=1e-12)

# %% [markdown]
# Two values of $\alpha$, each with and without the step, as one `vmap`: a tolerance of
# 0 never triggers, so plain and modified runs share one compiled program.

# %%
alphas = (0.4, 0.1)
tolerance = 1e-2


@jax.jit
def asymmetric_runs(alpha, tol):
    def one(alpha, tol):
        f0 = sensing.small_init(key_f, n, k, alpha)
        g0 = sensing.small_init(key_g, n, k, alpha / 3)
        return sensing.asymmetric_gd(asym, f0, g0, eta, steps, rebalance_tol=tol).errors

    return jax.vmap(one)(alpha, tol)


grid_alpha = jnp.array(alphas * 2)
grid_tol = jnp.repeat(jnp.array([0.0, tolerance]), len(alphas))
plain, rebalanced = np.split(np.asarray(asymmetric_runs(grid_alpha, grid_tol)), 2)

# The curves of one comparison share one error band, crossed by each within `steps`:
# plain GD is compared across alpha on 3e-2 -> 4e-3, the rebalanced runs (after their
# step) on 1e-6 -> 1e-12.
bands = {"plain": (3e-2, 4e-3), "rebalanced": (1e-6, 1e-12)}
rates = {}
for name, curves in (("plain", plain), ("rebalanced", rebalanced)):
    for alpha, errors in zip(alphas, curves):
        rates[name, alpha] = sensing.convergence_rate(errors, *bands[name])
        rate = rates[name, alpha]
        print(f"{name:10s} alpha={alpha}: final error {errors[-1]:.2e}, rate {rate:.4f}")

small, large = min(alphas), max(alphas)
# Plain GD slows down as alpha shrinks; the rebalanced runs converge at a rate that
# hardly depends on alpha, and end far below plain GD at the small alpha.
assert abs(rates["plain", small]) < 0.5 * abs(rates["plain", large])
assert 0.5 < rates["rebalanced", small] / rates["rebalanced", large] < 2
i = alphas.index(small)
assert rebalanced[i][-1] < 1e-3 * plain[i][-1]

# %%
fig, ax = plt.subplots(figsize=(7, 4.5))
for i, alpha in enumerate(alphas):
    (line,) = ax.semilogy(plain[i], label=f"plain, alpha = {alpha}")
    ax.semilogy(rebalanced[i], "--", color=line.get_color(), label=f"rebalanced, alpha = {alpha}")
ax.set(xlabel="iteration t", ylabel="relative error", title=f"Asymmetric GD, k = {k} > r = {r}")
ax.legend()
show(fig, "asymmetric.png")

# %% [markdown]
# ## Seeds as one program: `jaxlab.sweep`
#
# The registered experiment `sensing.overparam` runs every variant above (plus
# ScaledGD and PrecGD on both over-parameterized problems) for one seed; `jaxlab.sweep`
# vmaps it over seed keys and compiles once. Seeds vary the initialization; all share
# one problem. This is what `jaxlab run sensing.overparam --quick` computes, without
# writing a results folder.

# %%
experiment = jaxlab.get_experiment("sensing.overparam")
config = experiment.config.quick()
if QUICK:
    config = dataclasses.replace(config, steps=500)
seeds = jaxlab.sweep(experiment, config, seeds=8)
print(f"compiled in {seeds.compile_seconds:.1f} s, ran 8 seeds in {seeds.run_seconds:.2f} s")
print({name: errors.shape for name, errors in seeds.results.items()})

# The experiment's report turns the curves into per-seed metrics (and draws its figures
# into OUT).
metrics = jaxlab.summarize(experiment.report(config, seeds.results, OUT))
for name in (
    "symmetric_exact/final_error",
    "symmetric_over/loglog_slope",
    "asymmetric_over/alpha_exponent",
    "asymmetric_onestep/alpha_exponent",
):
    entry = metrics[name]
    if entry["mean"] is None:  # no seed crossed the error band within `steps`
        print(f"{name:36s} no seed crossed the band {config.band_upper:g} -> {config.band_lower:g}")
    else:
        print(f"{name:36s} mean {entry['mean']:.3g}, std {entry['std']:.2g}")

# Every seed recovers M* with k = r.
assert np.all(np.asarray(seeds.results["symmetric_exact"])[:, -1] < 1e-8)

# %%
curves = experiment.history(config, seeds.results)
fig, ax = plt.subplots(figsize=(7, 4.5))
for name in (
    "symmetric_exact",
    "symmetric_over",
    f"asymmetric_over/alpha={config.alphas[-1]:g}",
    f"asymmetric_onestep/alpha={config.alphas[-1]:g}",
    f"precgd/symmetric_over/alpha={config.alphas[-1]:g}",
):
    median_band(ax, curves[name], name)
ax.set(
    xlabel="iteration t",
    ylabel="relative error",
    title="sensing.overparam (quick): median and range over 8 seeds",
)
ax.legend(fontsize=8)
show(fig, "seeds.png")

# %% [markdown]
# ## Sweeping a hyper-parameter: `over=`
#
# Numeric config fields can be swept in the same program: `over={"step_size": [...]}`
# substitutes each value as a traced array, so the whole grid (times the seeds) is one
# vmapped batch. The same call works on a registered experiment,
# `jaxlab.sweep(experiment, config, over={"step_size": [...]})`. Here it is applied to
# a `run(config, key)` of our own, which is all `jaxlab.sweep` needs: rebalanced
# asymmetric GD, with the problem drawn from a fixed seed so that seeds vary only the
# initialization.


# %%
@dataclasses.dataclass(frozen=True)
class StepConfig:
    n: int = n
    rank: int = r
    k: int = k
    m: int = m
    steps: int = steps
    alpha: float = 0.1
    step_size: float = 0.5
    rebalance_tol: float = 1e-2


def run(config: StepConfig, key):
    problem = sensing.asymmetric_problem(
        jax.random.key(1), config.n, config.n, config.rank, config.m, 2.0
    )
    key_f, key_g = jax.random.split(key)
    f0 = sensing.small_init(key_f, config.n, config.k, config.alpha)
    g0 = sensing.small_init(key_g, config.n, config.k, config.alpha / 3)
    trajectory = sensing.asymmetric_gd(
        problem, f0, g0, config.step_size, config.steps, rebalance_tol=config.rebalance_tol
    )
    return {"errors": trajectory.errors}


step_sizes = [0.25, 0.375, 0.5]
grid = jaxlab.sweep(run, StepConfig(), seeds=4, over={"step_size": step_sizes})
errors = np.asarray(grid.results["errors"])  # (step sizes, seeds, steps + 1)
print("results:", errors.shape, "grid:", grid.grid)
# One band, crossed by every step size within `steps`.
step_rates = np.array(
    [[sensing.convergence_rate(e, 1e-2, 1e-4) for e in per_step] for per_step in errors]
)
for eta_i, rate in zip(step_sizes, step_rates):
    print(
        f"step size {eta_i}: median rate {np.median(rate):.4f}, rate / step size "
        f"{np.median(rate) / eta_i:.3f}"
    )

# The linear rate grows with the step size (about in proportion, for small steps), and
# a second call with other values on a grid of the same size compiles nothing.
assert np.all(np.diff(np.median(step_rates, axis=1)) < 0)
again = jaxlab.sweep(run, StepConfig(), seeds=4, over={"step_size": [0.2, 0.3, 0.4]})
assert again.compile_seconds == 0

# %%
fig, ax = plt.subplots(figsize=(7, 4.5))
for eta_i, per_step in zip(step_sizes, errors):
    median_band(ax, per_step, f"step size {eta_i}")
ax.set(
    xlabel="iteration t",
    ylabel="relative error",
    title="Rebalanced asymmetric GD: median and range over 4 seeds",
)
ax.legend()
show(fig, "step_sizes.png")

# %% [markdown]
# ## Next
#
# - `jaxlab run sensing.overparam` runs the paper-scale experiment (8 seeds) and writes a
#   results folder: metrics with their spread, the curves and the figures.
# - `jaxlab run sensing.robust` compares SubGM on the $\ell_1$ loss with $\ell_2$ GD under
#   outliers (`subgradient_method`).
# - ScaledGD and PrecGD are `scaled_gd` and
#   `prec_gd`.

# %%
print(f"figures: {sorted(p.name for p in OUT.glob('*.png'))}")
