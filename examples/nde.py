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
# # Neural differential equations with `jaxlab.nde`
#
# Three kinds of models from Kidger, *On Neural Differential Equations* (2022), all built
# on diffrax and optimistix and all plain `equinox` modules:
#
# - a **neural ODE** $\dot y = f_\theta(y)$ and a **hybrid** model
#   $\dot y = g(y; p) + c_\theta(y)$ that keeps a known mechanistic part $g$ with learnable
#   physical parameters $p$;
# - a **neural CDE** $dz = f_\theta(z)\,dX$ driven by a path $X$ interpolating an
#   irregularly sampled time series (different times, lengths and missing values per series);
# - a **deep equilibrium layer** $z^\star = f_\theta(z^\star, x)$, differentiated by the
#   implicit function theorem.
#
# Every model is called on one example; batches and seeds come from `jax.vmap` and
# `jaxlab.fit`. Run it as a script with `JAXLAB_EXAMPLE_QUICK=1 python examples/nde.py`
# (smoke-test sizes: every cell runs, the models learn little); figures go to
# `$JAXLAB_EXAMPLE_OUT` (a temporary folder by default).

# %%
import dataclasses
import os
import sys
import tempfile
from pathlib import Path

import matplotlib


if "ipykernel" not in sys.modules:
    matplotlib.use("Agg")  # run as a script: draw to files only

import equinox as eqx
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax

import jaxlab
from jaxlab import nde


QUICK = os.environ.get("JAXLAB_EXAMPLE_QUICK") == "1"
OUT = Path(os.environ.get("JAXLAB_EXAMPLE_OUT") or tempfile.mkdtemp(prefix="jaxlab-nde-"))
OUT.mkdir(parents=True, exist_ok=True)

if QUICK:
    ode_steps, cde_steps, seeds = 20, 5, 2
else:
    ode_steps, cde_steps, seeds = 1500, 300, 8
print(f"ODE steps {ode_steps}, CDE steps {cde_steps}, {seeds} seeds; figures in {OUT}")


def show(fig, name: str) -> None:
    """Save a figure to OUT; display it in a notebook, close it in a script."""
    fig.tight_layout()
    fig.savefig(OUT / name, dpi=110)
    if "ipykernel" in sys.modules:
        plt.show()
    else:
        plt.close(fig)


def relative_error(a, b) -> float:
    """$\\|a - b\\| / \\|b\\|$ over all leaves of two pytrees of arrays."""
    a, b = (jnp.concatenate([x.ravel() for x in jax.tree.leaves(t)]) for t in (a, b))
    return float(jnp.linalg.norm(a - b) / jnp.linalg.norm(b))


# %% [markdown]
# ## 1. Neural ODE against a hybrid model
#
# The data are noisy trajectories of a damped pendulum, $y = (x, \dot x)$,
#
# $$\ddot x = -\omega^2 \sin x - \gamma \dot x, \qquad \omega = 2,\ \gamma = 0.3 .$$
#
# The **neural ODE** learns the whole vector field, $\dot y = f_\theta(y)$ (an MLP). The
# **hybrid** model knows the undamped pendulum $g(y; \omega) = (\dot x, -\omega^2\sin x)$
# with $\omega$ learnable, and adds a small neural correction $c_\theta$ that has to learn
# the damping. Both are fitted by the mean squared error of the solution at the
# observation times $t_j$,
#
# $$L(\theta) = \frac{1}{NJ}\sum_{i,j} \|\hat y_\theta(t_j; y_0^{(i)}) - y^{(i)}_j\|^2
# \;\big(+\ \lambda \operatorname{mean}\|c_\theta\|^2 \text{ for the hybrid}\big),$$
#
# where the penalty makes the mechanistic part explain as much as it can (otherwise
# $\omega$ is not identifiable: the correction could absorb any error in it).

# %%
omega, damping, horizon = 2.0, 0.3, 5.0
n_train, n_times, noise = (8, 25, 0.01) if QUICK else (16, 40, 0.01)


def pendulum(t, y, params):
    """The undamped pendulum, params = (omega,)."""
    return jnp.array([y[1], -(params[0] ** 2) * jnp.sin(y[0])])


truth = nde.NeuralODE(
    lambda t, y, args: pendulum(t, y, [omega]) - jnp.array([0.0, damping * y[1]]),
    rtol=1e-7,
    atol=1e-9,
)
k_y0, k_noise = jax.random.split(jax.random.key(0))
ts_long = jnp.linspace(0.0, 2 * horizon, 2 * n_times - 1)  # to extrapolate, later
ts = ts_long[:n_times]  # the training window [0, horizon]
y0 = jax.random.uniform(k_y0, (n_train, 2), minval=-1.5, maxval=1.5)
clean_long = jax.vmap(lambda y: truth(ts_long, y))(y0)
ys = clean_long[:, :n_times] + noise * jax.random.normal(k_noise, (n_train, n_times, 2))
print("training data:", ys.shape, "(trajectories, times, state)")

# %% [markdown]
# `jaxlab.fit` trains every seed at once (one vmapped, scanned program): `init_model(key)`
# builds one seed's model, `loss(model, batch, key) -> (loss, aux)` scores it on the full
# batch `(y0, ys)`. We train both models in one program: the "model" is the pair, the loss
# the sum of the two losses. Their parameters are disjoint, so each gets exactly the
# gradient of its own loss (and Adam acts per parameter), as if trained apart. `aux`
# records each model's MSE and the hybrid's $\omega$ at every step.


# %%
def neural_model(key):
    return nde.NeuralODE(nde.MLPField(size=2, width=32, depth=2, key=key))


def hybrid_model(key):
    k_field, k_omega = jax.random.split(key)
    omega0 = omega * jax.random.uniform(k_omega, (1,), minval=0.6, maxval=1.4)
    correction = nde.MLPField(size=2, width=8, depth=1, key=k_field)
    # Start as the pure pendulum: a random correction can send the first trajectories far off.
    last = lambda c: (c.mlp.layers[-1].weight, c.mlp.layers[-1].bias)
    correction = eqx.tree_at(last, correction, replace_fn=jnp.zeros_like)
    return nde.NeuralODE(nde.HybridField(pendulum, omega0, correction))


def trajectory_mse(model, batch):
    y0, ys = batch
    predicted = jax.vmap(lambda y: model(ts, y))(y0)
    return jnp.mean((predicted - ys) ** 2), predicted


def both_models(key):
    k_neural, k_hybrid = jax.random.split(key)
    return {"neural": neural_model(k_neural), "hybrid": hybrid_model(k_hybrid)}


def loss(models, batch, key):
    neural_mse, _ = trajectory_mse(models["neural"], batch)
    hybrid_mse, predicted = trajectory_mse(models["hybrid"], batch)
    field = models["hybrid"].vector_field
    correction = jax.vmap(jax.vmap(lambda y: field.correction(0.0, y, None)))(predicted)
    penalty = 0.05 * jnp.mean(correction**2)
    return neural_mse + hybrid_mse + penalty, (neural_mse, hybrid_mse, field.params[0])


result = jaxlab.fit(loss, both_models, optax.adam(1e-2), (y0, ys), steps=ode_steps, seeds=seeds)
neural_mse, hybrid_mse, omegas = (np.asarray(a) for a in result.aux)  # (seeds, steps)
print(f"compiled in {result.compile_seconds:.0f} s, trained in {result.run_seconds:.1f} s")
print("final training MSE per seed")
print("  neural:", np.round(neural_mse[:, -1], 5))
print("  hybrid:", np.round(hybrid_mse[:, -1], 5))
print(f"recovered omega per seed (true {omega}):", np.round(omegas[:, -1], 3))
assert not np.any(result.diverged)

# %% [markdown]
# Outside the training window $[0, 5]$ the neural ODE has never seen the state space
# it wanders into; the hybrid model carries the pendulum's structure with it.


# %%
@eqx.filter_jit
def extrapolate(models, y0):
    return {name: jax.vmap(lambda y: m(ts_long, y))(y0) for name, m in models.items()}


extrapolated = extrapolate(result.model(0), y0[:3])  # both models, seed 0
for name, predicted in extrapolated.items():
    error = jnp.mean((predicted[:, n_times:] - clean_long[:3, n_times:]) ** 2)
    print(f"{name}: MSE on t in ({horizon:g}, {2 * horizon:g}] (seed 0) {error:.2e}")
fig, axes = plt.subplots(1, 3, figsize=(14, 4))
for ax, name in zip(axes, ("neural", "hybrid")):
    predicted = extrapolated[name]
    for i in range(3):
        (line,) = ax.plot(ts_long, clean_long[i, :, 0], lw=1)
        ax.plot(ts_long, predicted[i, :, 0], "--", color=line.get_color())
        ax.plot(ts, ys[i, :, 0], ".", ms=3, color=line.get_color())
    ax.axvspan(0, horizon, color="0.92", zorder=-1)
    ax.set(title=f"{name} ODE, seed 0 (dashed), truth (solid)", xlabel="t", ylabel="x")
    ax.set_ylim(-2.5, 2.5)
axes[2].plot(omegas.T, lw=1)
axes[2].axhline(omega, color="k", ls="--", label=r"true $\omega$")
axes[2].set(xlabel="Adam step", ylabel=r"$\omega$", title=r"hybrid model: $\omega$ per seed")
axes[2].legend()
show(fig, "ode_fits.png")

# %% [markdown]
# ### Adjoints
#
# `adjoint=` picks how $\partial L / \partial\theta$ is computed. The default
# `"recursive_checkpoint"` backpropagates through the solver's operations
# (discretise-then-optimise, with checkpointing). `"backsolve"` solves the continuous
# adjoint equations backwards in time,
#
# $$\dot a = -a^\top \partial_y f, \qquad \dot g = -a^\top \partial_\theta f, \qquad
# a = \partial L / \partial y \ \text{(jumping at each observation)}, \qquad
# g(t_0) = \partial L / \partial\theta,$$
#
# (optimise-then-discretise: $O(1)$ memory, but only as accurate as that second solve).
# With tight tolerances both give the same gradient.

# %%
field = result.model(0)["neural"].vector_field


@eqx.filter_jit
@eqx.filter_grad
def loss_gradient(model):
    """The gradient of the squared error on the first training trajectory."""
    return jnp.mean((model(ts, y0[0]) - ys[0]) ** 2)


grads = {}
for adjoint in ("recursive_checkpoint", "backsolve"):
    model = nde.NeuralODE(field, adjoint=adjoint, rtol=1e-6, atol=1e-8)
    grads[adjoint] = loss_gradient(model).vector_field
error = relative_error(grads["backsolve"], grads["recursive_checkpoint"])
print(f"relative difference of the gradients, backsolve vs recursive_checkpoint: {error:.1e}")
assert error < 1e-4

# %% [markdown]
# ## 2. Irregular time series with a neural CDE
#
# A series is a set of observations $(t_i, x_i)$. A neural CDE interpolates them by a
# continuous path $X$ (with time as a channel) and solves
#
# $$z(t_0) = \zeta_\theta(X(t_0)), \qquad z(t) = z(t_0) + \int_{t_0}^{t} f_\theta(z(s))\,
# \mathrm{d}X(s), \qquad \hat y = \ell_\theta(z(t_\text{end})),$$
#
# i.e. the ODE $\dot z = f_\theta(z)\,\dot X(t)$ with $f_\theta(z)$ a
# (hidden $\times$ channels) matrix. Nothing requires a common time grid: each series
# brings its own path. We make a batch of 2-d spirals $e^{-0.3t} R(\pm 2t)\,(\cos\phi,
# \sin\phi)$ (the sign of the rotation is the class), each with its own random
# observation times, its own length, and 10% of its values missing.


# %%
def spiral_batch(n: int, seed: int):
    """`n` irregular spirals: lists of times and values (NaN = missing), and labels."""
    rng = np.random.default_rng(seed)
    times, values = [], []
    labels = rng.integers(0, 2, n)
    for label in labels:
        t = np.sort(rng.choice(np.linspace(0, 4 * np.pi, 100), rng.integers(30, 60), False))
        angle = rng.uniform(0, 2 * np.pi) + (-2.0 if label else 2.0) * t
        x = np.exp(-0.3 * t)[:, None] * np.stack([np.cos(angle), np.sin(angle)], -1)
        x = x + 0.02 * rng.normal(size=x.shape)
        x[rng.random(x.shape) < 0.1] = np.nan
        times.append(t)
        values.append(x)
    return times, values, jnp.asarray(labels)


n_cde = 32 if QUICK else 512  # series in each of the training and test sets
train_series = spiral_batch(n_cde, seed=1)
test_series = spiral_batch(n_cde, seed=2)
times, values = nde.pad_series(*train_series[:2])  # NaN-padded at the end
print("padded batch:", times.shape, values.shape)
print("lengths of the first series:", [len(t) for t in train_series[0][:6]])

# %% [markdown]
# `control_path` builds $X$ for ONE series. Missing values are filled forward per
# channel; with `intensity=True` each channel also gets its running count of observations
# $\sum_{t_i \le t} \mathbb{1}[x_i \text{ observed}]$, so the model can see *where* data were
# missing (informative missingness). The interpolation is one of
#
# - `"hermite"`: cubic Hermite with backward differences, $C^1$ and causal between knots;
# - `"linear"`: piecewise linear;
# - `"rectilinear"`: time moves with the values held, then the values jump (causal, for
#   online use; the path is parameterised by knot index, so we plot it against its time
#   channel).
#
# Padding holds the path constant after the series' last observation, where its solve
# stops; `jax.vmap` over the padded arrays gives a batch of paths.


# %%
@eqx.filter_jit
def on_grid(path, n=600):
    """The path's channels at n points evenly spread over its solve interval."""
    return jax.vmap(path.evaluate)(jnp.linspace(path.t0, path.t1, n))


t_obs, x_obs = train_series[0][0], train_series[1][0]  # the first series, unpadded
fig, axes = plt.subplots(1, 2, figsize=(12, 4))
for interpolation, style in (("hermite", "-"), ("linear", "--"), ("rectilinear", ":")):
    path = nde.control_path(t_obs, x_obs, interpolation=interpolation, intensity=True)
    channels = on_grid(path)  # [time, x1, x2, count1, count2]
    axes[0].plot(channels[:, 0], channels[:, 1], style, lw=1, label=interpolation)
    axes[1].plot(channels[:, 0], channels[:, 3], style, lw=1, label=interpolation)
observed = ~np.isnan(x_obs[:, 0])
axes[0].plot(t_obs[observed], x_obs[observed, 0], "k.", ms=5, label="observed")
for t in t_obs[~observed]:
    axes[0].axvline(t, color="r", lw=0.5, alpha=0.6)
axes[0].set(xlabel="t", ylabel="channel x1", title="path of series 0 (red: x1 missing)")
axes[1].set(xlabel="t", ylabel="observations of x1 so far", title="intensity channel of x1")
axes[0].set_xlim(0, 4)
axes[0].legend()
show(fig, "cde_paths.png")


# %% [markdown]
# For training we leave the counts out: here values are missing at random, so the counts
# say nothing about the class, while each observation adds 1 to them, so they would
# dominate $\mathrm{d}X$ (try `intensity=True` below: learning is much slower). The
# channels are then $[t, x_1, x_2]$, Hermite-interpolated.


# %%
@eqx.filter_jit
def make_paths(times, values):
    return jax.vmap(lambda t, x: nde.control_path(t, x, interpolation="hermite"))(times, values)


train_paths = make_paths(times, values)
test_paths = make_paths(*nde.pad_series(*test_series[:2]))

# Each sample keeps its own time grid: in the padded batch, series 0 has the same path
# as alone, and its solve stops at its own last observation.
alone = nde.control_path(t_obs, x_obs)
batched = jax.tree.map(lambda a: a[0], train_paths)
gap = jnp.max(jnp.abs(on_grid(alone) - on_grid(batched)))
print(f"series 0: solve on [{batched.t0:.2f}, {batched.t1:.2f}], path difference {gap:.1e}")
assert batched.t1 == alone.t1 and gap < 1e-5


def cde_model(key):
    return nde.NeuralCDE(3, 8, 1, width=32, key=key)  # 3 channels; one logit: binary


@eqx.filter_jit
def logits(model, paths):
    return jax.vmap(model)(paths)[:, 0]  # each series solved on its own grid


# %% [markdown]
# Training is `jaxlab.fit` again: the data are `(paths, labels)`, a pytree with a leading
# series axis, drawn in minibatches of 32; the loss is the binary cross-entropy of the
# logit.


# %%
def cde_loss(model, batch, key):
    paths, labels = batch
    logit = logits(model, paths)
    loss = jnp.mean(optax.sigmoid_binary_cross_entropy(logit, labels))
    return loss, jnp.mean((logit > 0) == labels)


cde = jaxlab.fit(
    cde_loss,
    cde_model,
    optax.adam(1e-2),
    (train_paths, train_series[2]),
    steps=cde_steps,
    seeds=2,
    batch_size=32,
)
test_labels = test_series[2]
accuracy = [
    float(jnp.mean((logits(cde.model(s), test_paths) > 0) == test_labels)) for s in range(2)
]
print(f"neural CDE on irregular spirals: test accuracy per seed {np.round(accuracy, 3)}")
print(f"compile {cde.compile_seconds:.0f} s, {cde_steps} steps in {cde.run_seconds:.1f} s")

fig, ax = plt.subplots(figsize=(6, 4))
ax.plot(np.asarray(cde.losses).T, lw=1)
ax.set(xlabel="Adam step", ylabel="minibatch cross-entropy", title="neural CDE, 2 seeds")
show(fig, "cde_training.png")

# %% [markdown]
# The registered experiment `nde.spirals` (`jaxlab run nde.spirals`) is the same task
# at the scale of diffrax's example, and `nde.vowels` classifies the variable-length
# JapaneseVowels data set.
#
# ## 3. Deep equilibrium layers
#
# A DEQ layer maps $x$ to the fixed point $z^\star = f_\theta(z^\star, x)$. With
# `ContractiveCell`, $f(z, x) = \tanh(Wz + x + b)$ with $\|W\|_2 \le \|W\|_F \le \gamma < 1$,
# so $f(\cdot, x)$ is a $\gamma$-contraction: the fixed point is unique and the iteration
# $z_{n+1} = f(z_n, x)$ converges linearly, $\|z_{n+1} - z_n\| \le \gamma^n \|z_1 - z_0\|$.
# Newton's method on $z - f(z, x) = 0$ converges quadratically.
#
# To see the rate $\gamma$ itself we set $W = \gamma\, u u^\top / \|u\|^2$, symmetric of
# rank one, so that $\|W\|_2 = \|W\|_F = \gamma$ is also its largest eigenvalue. The
# first step settles every direction but $u$ at once; from then on the residual shrinks
# by nearly $\gamma$ per step (by $\gamma$ times the slope of $\tanh$), as fast as the bound
# allows. The DEQ's three solvers find the same fixed point.

# %%
size = 16
k_cell, k_u, k_x = jax.random.split(jax.random.key(3), 3)
u = jax.random.normal(k_u, (size,))
x = 0.3 * jax.random.normal(k_x, (size,))
base = nde.ContractiveCell(size, contraction=0.99, key=k_cell)


def rank_one_cell(gamma):
    return eqx.tree_at(lambda c: c.weight, base, gamma * jnp.outer(u, u) / (u @ u))


@eqx.filter_jit
def residuals(cell, n=80):
    r"""$\|z_{n+1} - z_n\|$ for $z_{n+1} = f(z_n, x)$ from $z_0 = 0$."""

    def step(z, _):
        z_next = cell(z, x)
        return z_next, jnp.linalg.norm(z_next - z)

    return jax.lax.scan(step, jnp.zeros(size), length=n)[1]


fig, ax = plt.subplots(figsize=(7, 4.5))
for gamma in (0.5, 0.8, 0.9):
    cell = rank_one_cell(gamma)
    r = np.asarray(residuals(cell))
    (line,) = ax.semilogy(np.where(r > 1e-7, r, np.nan), label=rf"$\gamma = {gamma}$")
    n = np.arange(1, len(r))
    ax.semilogy(n, r[1] * gamma ** (n - 1.0), ":", color=line.get_color())
    steps = {}
    for solver in nde.DEQ_SOLVERS:
        deq = nde.DEQ(cell, size, solver=solver, rtol=1e-6, atol=1e-6)
        z, n_steps = deq.solve(x)
        steps[solver] = int(n_steps)
        assert float(jnp.max(jnp.abs(cell(z, x) - z))) < 1e-5
    print(f"gamma {gamma}: solver steps to 1e-6 {steps}")
ax.set(
    xlabel="iteration n",
    ylabel=r"$\|z_{n+1} - z_n\|$",
    title=r"fixed-point iteration (dotted: bound $\gamma^{n-1}\|z_2 - z_1\|$)",
)
ax.set_ylim(1e-8, 10)
ax.legend()
show(fig, "deq_convergence.png")

# %% [markdown]
# ### Implicit gradients
#
# Differentiating $z^\star = f(z^\star, x)$ gives the implicit function theorem,
#
# $$\frac{\partial z^\star}{\partial\theta} = (I - \partial_z f)^{-1}\,\partial_\theta f
# \Big|_{z = z^\star},$$
#
# one linear solve at the fixed point, with no iterate stored (`adjoint="implicit"`, the
# default). `"unrolled"` backpropagates through the iterations instead; at a converged
# fixed point the two agree.

# %%
cell = nde.ContractiveCell(size, contraction=0.9, key=jax.random.key(4))
target = jnp.linspace(-0.5, 0.5, size)
grads = {}
for adjoint in nde.DEQ_ADJOINTS:
    deq = nde.DEQ(cell, size, adjoint=adjoint, rtol=1e-6, atol=1e-7)

    def loss(cell, x):
        return jnp.sum((eqx.tree_at(lambda d: d.cell, deq, cell)(x) - target) ** 2)

    grads[adjoint] = jax.grad(loss, argnums=(0, 1))(cell, x)
error = relative_error(grads["unrolled"], grads["implicit"])
print(f"relative difference of the gradients, implicit vs unrolled: {error:.1e}")
assert error < 1e-3

# %% [markdown]
# ### A DEQ classifier of handwritten digits
#
# The registered experiment `nde.deq_digits` projects scikit-learn's 8x8 digits to the
# input of a contractive DEQ, reads the logits from $z^\star$ and trains with Adam and
# implicit gradients. `run_experiment` sweeps the seeds and writes a results folder
# (metrics, training curves and figures).

# %%
experiment = jaxlab.get_experiment("nde.deq_digits")
if QUICK:  # the --quick config (hidden 32), with 5 Adam steps instead of 200
    config = dataclasses.replace(experiment.config.quick(), steps=5)
else:  # the full experiment: hidden 64, 1500 steps
    config = experiment.config()
metrics, folder = jaxlab.run_experiment(
    experiment, config, seeds=2, quick=QUICK, out_dir=OUT / "deq_digits", progress=False
)
for name in ("test_accuracy", "mean_fixed_point_iterations"):
    summary = metrics["summary"][name]
    print(f"{name:28s} per seed {np.round(summary['per_seed'], 3)}, mean {summary['mean']:.3f}")
print("figures:", sorted(p.name for p in (folder / "figures").glob("*.png")))

# %% [markdown]
# ## Next
#
# - Neural SDEs (latent SDEs and SDE-GANs) and the exact reversible adjoint of
#   `reversible_heun` (`NeuralODE(..., solver="reversible_heun", adjoint="reversible")`,
#   memory independent of the number of steps) are covered on the `jaxlab.nde` docs page.
# - `jaxlab run nde.oscillator`, `nde.spirals`, `nde.vowels` and `nde.deq_digits` run the
#   paper-scale experiments.

# %%
print(f"figures: {sorted(p.name for p in OUT.glob('*.png'))}")
