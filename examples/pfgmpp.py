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
# # PFGM++ with `jaxlab.pfgmpp`
#
# PFGM++ (Xu et al., ICML 2023) treats $N$-dimensional data as charges in $N + D$
# dimensions. Its perturbation kernel is
# $p_r(x\mid y) \propto (\|x - y\|^2 + r^2)^{-(N+D)/2}$ with $r = \sigma\sqrt D$: heavy
# tailed for small $D$, and EDM's Gaussian as $D \to \infty$. Training and sampling are
# EDM's, with this kernel in the loss and its prior as the starting point.
#
# This notebook (1) looks at the kernel for several $D$, (2) trains one model per $D$
# side by side on two moons with `jaxlab.run_experiment`, and (3) samples from them.
# Run it as a script with `JAXLAB_EXAMPLE_QUICK=1 python examples/pfgmpp.py` (smoke-test
# sizes); figures go to `$JAXLAB_EXAMPLE_OUT` (a temporary folder by default).

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
import optax

import jaxlab
from jaxlab import pfgmpp


QUICK = os.environ.get("JAXLAB_EXAMPLE_QUICK") == "1"
OUT = Path(os.environ.get("JAXLAB_EXAMPLE_OUT") or tempfile.mkdtemp(prefix="jaxlab-pfgmpp-"))
OUT.mkdir(parents=True, exist_ok=True)


def show(fig, name: str) -> None:
    """Save a figure to OUT; display it in a notebook, close it in a script."""
    fig.tight_layout()
    fig.savefig(OUT / name, dpi=110)
    if "ipykernel" in sys.modules:
        plt.show()
    else:
        plt.close(fig)


# %% [markdown]
# ## 1. The kernel for several D
#
# The radius of a perturbation obeys $R^2/r^2 \sim \mathrm{BetaPrime}(N/2, D/2)$, so
# $\mathbb E\|n\|^2 = \sigma^2 N D/(D - 2)$. D is a traced argument: one compiled
# function draws for every D, `inf` included.

# %%
N, sigma, n_draws = 64, 1.0, 1000 if QUICK else 20000
Ds = jnp.array([3.0, 8.0, 64.0, 1024.0, jnp.inf])


@jax.jit
def squared_norms(D):
    keys = jax.random.split(jax.random.key(0), n_draws)
    n = jax.vmap(lambda k: pfgmpp.perturbation(k, (N,), sigma, D))(keys)
    return jnp.sum(n**2, axis=1)


norms = jax.vmap(squared_norms)(Ds)  # one program, every D
for D, sq in zip(Ds, norms):
    theory = sigma**2 * N * (D / (D - 2) if np.isfinite(D) else 1.0)
    print(f"D={float(D):>6g}: E|n|^2 = {float(sq.mean()):7.2f}  (theory {float(theory):7.2f})")

fig, ax = plt.subplots(figsize=(6, 3.5))
bins = np.geomspace(10, 1e4, 60)
for D, sq in zip(Ds, norms):
    ax.hist(np.asarray(sq), bins=bins, histtype="step", density=True, label=f"D={float(D):g}")
ax.set(xscale="log", yscale="log", xlabel=r"$\|n\|^2$", title=f"kernel radius, N={N}")
ax.legend()
show(fig, "kernel_radius.png")

# %% [markdown]
# ## 2. One model per D, side by side
#
# `pfgmpp.toy` trains a residual MLP with EDM preconditioning for each D on fresh draws of
# two moons (every model sees the same batches), samples with the 18-step Heun sampler
# (35 network evaluations) from each model's prior, and compares the samples with fresh
# data: sliced Wasserstein distance and MMD, next to the floor (two draws of real data).

# %%
config = pfgmpp.ToyConfig.quick() if QUICK else pfgmpp.ToyConfig()
if QUICK:
    config = dataclasses.replace(config, Ds=(10.0, float("inf")), steps=20, n_samples=100)
# The registered experiment, by name.
metrics, folder = jaxlab.run_experiment(
    "pfgmpp.toy", config, seeds=2, out_dir=OUT / "toy", overwrite=True, progress=False
)
summary = metrics["summary"]
floor = summary["data/swd_floor"]["mean"]
for D in config.Ds:
    name = f"D={D:g}"  # the model of dimension D
    swd = summary[f"{name}/swd"]
    print(
        f"{name:>7}: swd {swd['mean']:.4f} +- {swd['std']:.4f} "
        f"({swd['mean'] / floor:.2f}x the floor {floor:.4f})"
    )

# %% [markdown]
# The report drew samples against data for each D:

# %%
fig, ax = plt.subplots(figsize=(10, 2.6))
ax.imshow(plt.imread(folder / "figures" / "samples.png"))
ax.axis("off")
show(fig, "toy_samples.png")

# %% [markdown]
# ## 3. Sampling by hand
#
# Any network `net(x, c_noise)` becomes a denoiser through EDM's preconditioning; the
# sampler starts from the PFGM++ prior of the same D. Here we train one D = 10 model
# with `jaxlab.fit` and sample it, counting network evaluations.

# %%
D, steps = 10.0, 20 if QUICK else 3000
out = jaxlab.fit(
    lambda model, batch, key: pfgmpp.pfgmpp_loss(model, batch, key, D),
    lambda key: pfgmpp.MLP(2, key=key, width=64, depth=2),
    optax.adam(2e-3),
    lambda key: pfgmpp.two_moons(key, 256),
    steps=steps,
    seeds=1,
)
model = out.model(0)


@jax.jit
def sample(key):
    starts = jax.vmap(lambda k: pfgmpp.prior(k, (2,), 80.0, D))(jax.random.split(key, 1000))
    denoiser = lambda x, s: pfgmpp.precondition(model, x, s)
    return jax.vmap(lambda x: pfgmpp.heun_sample(denoiser, x, steps=18))(starts)


samples, nfe = sample(jax.random.key(1))
print("network evaluations per sample:", int(nfe[0]))
real = pfgmpp.two_moons(jax.random.key(2), 1000)
print("swd:", float(pfgmpp.sliced_wasserstein(samples, real, jax.random.key(3))))
fig, ax = plt.subplots(figsize=(4, 4))
ax.scatter(*np.asarray(real).T, s=2, color="0.8", label="data")
ax.scatter(*np.asarray(samples).T, s=2, label=f"D={D:g}")
ax.set(xlim=(-1.5, 1.5), ylim=(-1.5, 1.5))
ax.legend()
show(fig, "fit_samples.png")
