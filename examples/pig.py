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
# # Physics-Informed Gaussians with `jaxlab.pig`
#
# A PIG represents the solution of a PDE as a small MLP on top of trainable Gaussian
# features, $u(x) = \mathrm{MLP}_\theta\bigl(\sum_n w_n\, G_n(x)\bigr)$, with the centres,
# scales and weights of the Gaussians trained together with the MLP under the usual
# physics-informed loss (Kang et al., ICLR 2025). This notebook poses a 2-D Poisson
# problem from scratch, trains PIG and a PINN on it for two seeds in one vmapped program,
# checks the derivatives jaxlab computes against plain autodiff, and runs the registered
# Helmholtz experiment.
#
# Run it as a script with `JAXLAB_EXAMPLE_QUICK=1 python examples/pig.py` (smoke-test sizes);
# figures go to `$JAXLAB_EXAMPLE_OUT` (a temporary folder by default).

# %%
import os
import sys
import tempfile
from pathlib import Path

import matplotlib


if "ipykernel" not in sys.modules:
    matplotlib.use("Agg")

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

import jaxlab
from jaxlab import pig


QUICK = os.environ.get("JAXLAB_EXAMPLE_QUICK") == "1"
OUT = Path(os.environ.get("JAXLAB_EXAMPLE_OUT") or tempfile.mkdtemp())
OUT.mkdir(parents=True, exist_ok=True)

# %% [markdown]
# ## Pose a problem: Poisson on the unit square
#
# $-\Delta u = 2\pi^2 \sin(\pi x)\sin(\pi y)$ on $[0,1]^2$, $u = 0$ on the boundary;
# the solution is $\sin(\pi x)\sin(\pi y)$. The residual receives the point and the
# solution's [`Jet`](../docs/pig.md): `u.value`, `u["x"]`, `u["xx"]`, ...


# %%
def exact(p):
    return jnp.sin(jnp.pi * p[0]) * jnp.sin(jnp.pi * p[1])


poisson = pig.Problem(
    box=pig.Box("xy", lower=(0, 0), upper=(1, 1)),
    residual=lambda x, u: u["xx"] + u["yy"] + 2 * jnp.pi**2 * exact(x),
    conditions=(pig.dirichlet(lambda x: 0.0, points=128),),
    exact=exact,
    name="poisson",
)

settings = pig.Settings(
    model="both",
    steps=30 if QUICK else 2000,
    n_gaussians=50 if QUICK else 200,
    sigma0=0.2,
    collocation=256 if QUICK else 2048,
    residual_weight=0.01,
    pinn_width=32,
    pinn_depth=3,
    test_grid=40,
    monitor_points=400,
)
solution = pig.train(poisson, settings, seeds=2)
for name in ("pig", "pinn"):
    print(f"{name}: final rel. L2 per seed {solution.final_rel_l2[name]}")

# %%
fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
grid = poisson.box.grid(60)
for ax, name in zip(axes[:2], ("pig", "pinn")):
    u = pig.values(solution.model(name, 0), grid).reshape(60, 60)
    im = ax.imshow(np.asarray(u).T, origin="lower", extent=(0, 1, 0, 1), cmap="RdBu_r")
    ax.set_title(f"{name}, seed 0")
    fig.colorbar(im, ax=ax)
for name in ("pig", "pinn"):
    axes[2].semilogy(np.asarray(solution.fits[name].aux["rel_l2"][0]), label=name)
axes[2].set(xlabel="iteration", ylabel="rel. L2 (monitor subset)", title="error during training")
axes[2].legend()
fig.tight_layout()
fig.savefig(OUT / "pig_poisson.png", dpi=100)

# %% [markdown]
# The learned Gaussian centres move towards where the solution needs detail:

# %%
centres = np.asarray(solution.model("pig", 0).centres())
fig, ax = plt.subplots(figsize=(4, 4))
ax.scatter(centres[:, 0], centres[:, 1], s=3)
ax.set(xlim=(0, 1), ylim=(0, 1), title="PIG centres after training")
fig.savefig(OUT / "pig_centres.png", dpi=100)

# %% [markdown]
# ## Derivatives: closed form, checked against autodiff
#
# `pig.jets` computes $u$, $\nabla u$ and the pure second derivatives $\partial_{ii} u$
# from the closed-form derivatives of the Gaussians, pushed through the MLP as a
# second-order jet. They match `jax.hessian` of the model:

# %%
model = solution.model("pig", 0)
points = poisson.box.uniform(jax.random.key(0), 32)
jet = pig.jets(model, points)
hessians = jax.vmap(jax.hessian(model))(points)
print("max |d2u - autodiff| =", float(jnp.max(jnp.abs(jet.diag - jnp.diagonal(hessians, 0, 1, 2)))))

# %% [markdown]
# ## A registered reproduction
#
# `jaxlab run pig.helmholtz` trains PIG and the PINN on the paper's Helmholtz problem. In
# a notebook, `jaxlab.run_experiment` does the same and returns the metrics.

# %%
from jaxlab.pig import HelmholtzConfig  # noqa: E402


config = HelmholtzConfig.quick()
if QUICK:
    config = jaxlab.config_with(config, {"steps": "20", "time_steps": "0"})
metrics, folder = jaxlab.run_experiment(
    "pig.helmholtz", config, seeds=1, quick=True, out_dir=OUT / "helmholtz", progress=False
)
for key in ("pig/final_rel_l2", "pinn/final_rel_l2"):
    print(key, metrics["summary"][key]["mean"])
