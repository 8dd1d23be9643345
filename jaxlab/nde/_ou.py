r"""`nde.ou`: neural SDEs (a latent SDE and an SDE-GAN) learning a time-dependent
Ornstein-Uhlenbeck process, judged by the marginal mean and standard deviation of what they
generate against the exact ones."""

import dataclasses
import functools
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from matplotlib.figure import Figure

from .._experiment import require, require_integer
from .._side_by_side import ModelSpec, Training
from .._train import sampler
from ._latent_sde import LatentSDE
from ._missing import with_nan, without_nan
from ._sde_gan import CDEDiscriminator, SDEGenerator, clip_weights
from ._sde_solve import SDE_SOLVERS


MODELS = ("latent_sde", "sde_gan")
POSTERIORS = {"bridge": "latent_sde", "context": "latent_sde_context"}  # -> model name
_POSITIVE = (
    "theta", "sigma", "t1", "obs_std", "learning_rate", "generator_lr", "discriminator_lr",
    "initial_lr_factor",
)  # fmt: skip
_COUNTS = (
    "paths", "batch_size", "steps", "substeps", "gan_substeps", "latent_size", "context_size",
    "hidden_size", "width", "depth", "gan_hidden_size", "gan_noise_size",
    "gan_initial_noise_size", "gan_width", "gan_depth",
)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class OUConfig:
    r"""`nde.ou`: learn $\mathrm{d}Y = (\mu t - \theta Y)\,\mathrm{d}t + g(t)\,\mathrm{d}W$,
    $Y_0 \sim U(-1, 1)$, on $[0, t_1]$ from `paths` sample paths observed at `times` equally
    spaced times, each point dropped (NaN) with probability `drop`. `diffusion`:
    `"constant"`, $g = \sigma$ (the default), or `"linear"`, $g(t) = 2\sigma t / t_1$ (the
    process of diffrax's SDE-GAN example).

    The parameters are diffrax's example ($\mu = 0.02$, $\theta = 0.1$, $\sigma = 0.4$ on
    $[0, 63]$) with time divided by 10 ($\mu \to 100\mu$, $\theta \to 10\theta$,
    $\sigma \to \sqrt{10}\,\sigma$, $t_1 \to t_1/10$, which maps either law of paths to
    itself on the new clock), observed at 32 instead of 64 times to halve the cost: so
    `diffusion="linear"` is diffrax's law of paths, and the default is not. The data are
    simulated exactly (Gaussian transitions) from `data_seed`; seeds vary the models'
    initialization and training noise.

    Both models see the data standardized by one shift and scale (the mean and standard
    deviation over all observed points; mapped back for the metrics), and take `substeps`
    (latent SDE) or `gan_substeps` (SDE-GAN) solver steps per observation interval.
    `obs_std` is the latent SDE's observation noise, in standardized units. `posterior`:
    `"bridge"` (default), the posterior drift also sees the next observed value, the time
    to it and the gap to the decoded state; `"context"`, the GRU context alone (as Li et
    al.), trained under the name `latent_sde_context` (see
    [`LatentSDE`][jaxlab.nde.LatentSDE]). The SDE-GAN's generator maps
    `gan_initial_noise_size` standard normals to its initial state and is differentiated
    by `gan_adjoint` (`"reversible"` or `"backprop"`). Its critic scores a path at $t_0$
    and $t_1$, sees each generated path with the missing points of the real path it is
    paired with, and has its weights clipped to $\pm$`clip` (none:
    $\pm 1/\text{out\_features}$ per layer). The `initial` networks of both learn
    `initial_lr_factor` times faster.

    `model`: `"latent_sde"` (default: it reaches the target), `"sde_gan"` or `"both"`.
    `steps` is shared; the SDE-GAN's best measured setting is `steps=2000` (docs/nde.md).
    Metrics, per model: with $m(t)$, $s(t)$ the exact marginal mean and standard deviation
    and $\hat m$, $\hat s$ those of `samples` paths drawn from the trained model (the
    latent SDE's generative model, prior SDE then decoder with its observation noise; the
    generator), `MODEL/mean_rel_error` $= \overline{|\hat m - m|} / \overline{|m|}$ and
    `MODEL/std_rel_error` $= \overline{|\hat s - s|} / \overline{s}$, the bars averaging
    over the `times` observation times.
    """

    model: str = "latent_sde"
    mu: float = 2.0
    theta: float = 1.0
    sigma: float = 1.2649110640673518  # 0.4 * sqrt(10)
    diffusion: str = "constant"
    t1: float = 6.3
    times: int = 32
    drop: float = 0.3
    paths: int = 1024
    batch_size: int = 32
    steps: int = 800
    samples: int = 2048
    solver: str = "euler"
    substeps: int = 4
    # latent SDE
    latent_size: int = 4
    context_size: int = 8
    hidden_size: int = 16
    width: int = 32
    depth: int = 1
    obs_std: float = 0.1
    posterior: str = "bridge"
    learning_rate: float = 1e-2
    # SDE-GAN
    gan_solver: str = "reversible_heun"
    gan_hidden_size: int = 16
    gan_noise_size: int = 4
    gan_initial_noise_size: int = 16
    gan_width: int = 32
    gan_depth: int = 1
    gan_substeps: int = 1
    gan_adjoint: str = "reversible"
    generator_lr: float = 1e-3
    discriminator_lr: float = 2e-3
    initial_lr_factor: float = 10.0
    clip: float | None = 1.0
    data_seed: int = 0

    def __post_init__(self):
        require(
            self.model in (*MODELS, "both"), "model", "one of latent_sde, sde_gan, both",
            self.model,
        )  # fmt: skip
        require(
            self.diffusion in ("constant", "linear"), "diffusion", "one of constant, linear",
            self.diffusion,
        )  # fmt: skip
        require(self.posterior in POSTERIORS, "posterior", "one of bridge, context", self.posterior)
        for name in ("solver", "gan_solver"):
            value = getattr(self, name)
            require(value in SDE_SOLVERS, name, f"one of {', '.join(SDE_SOLVERS)}", value)
        require(
            self.gan_adjoint in ("backprop", "reversible"), "gan_adjoint",
            "one of backprop, reversible", self.gan_adjoint,
        )  # fmt: skip
        require(
            self.gan_adjoint == "backprop" or self.gan_solver == "reversible_heun",
            "gan_adjoint", "backprop unless gan_solver=reversible_heun", self.gan_adjoint,
        )  # fmt: skip
        for name in _POSITIVE:
            require(getattr(self, name) > 0, name, "a positive number", getattr(self, name))
        require(0 <= self.drop < 1, "drop", "a number in [0, 1)", self.drop)
        require(self.clip is None or self.clip > 0, "clip", "a positive number or none", self.clip)
        for name in _COUNTS:
            value = getattr(self, name)
            require_integer(value, name)
        for name in ("times", "samples"):
            value = getattr(self, name)
            require_integer(value, name, 2)
        require(
            self.batch_size <= self.paths, "batch_size", f"at most paths={self.paths}",
            self.batch_size,
        )  # fmt: skip

    @classmethod
    def quick(cls) -> "OUConfig":
        return cls(times=16, paths=256, batch_size=16, steps=400, samples=512)

    @property
    def models(self) -> tuple[str, ...]:
        """The trained models' names: the latent SDE's is `latent_sde_context` with
        `posterior="context"`."""
        names = MODELS if self.model == "both" else (self.model,)
        return tuple(POSTERIORS[self.posterior] if n == "latent_sde" else n for n in names)


def _drift_mean(cfg: OUConfig, t):
    r"""$M(t) = \mu t/\theta - \mu/\theta^2$, the solution of $m' = \mu t - \theta m$
    that every mean approaches."""
    return cfg.mu * t / cfg.theta - cfg.mu / cfg.theta**2


def _variance_term(cfg: OUConfig, t):
    r"""$Q(t)$ with $\int_s^t e^{-2\theta(t-u)} g(u)^2\,\mathrm{d}u = Q(t) -
    e^{-2\theta(t-s)} Q(s)$, the variance of $Y_t$ given $Y_s$: $Q = \sigma^2 / (2\theta)$
    for $g = \sigma$; $Q(t) = c^2 (t^2/a - 2t/a^2 + 2/a^3)$ for $g(t) = c\,t$, with
    $a = 2\theta$ and $c = 2\sigma/t_1$ (integrate $u^2 e^{au}$ by parts twice)."""
    a = 2 * cfg.theta
    if cfg.diffusion == "constant":
        return jnp.full_like(t, cfg.sigma**2 / a)
    c = 2 * cfg.sigma / cfg.t1
    return c**2 * (t**2 / a - 2 * t / a**2 + 2 / a**3)


def exact_moments(cfg: OUConfig, ts):
    r"""Exact marginal mean and standard deviation of the OU process at `ts`. From
    $m' = \mu t - \theta m$ and $v' = -2\theta v + g(t)^2$ with $m(0) = 0$,
    $v(0) = 1/3$ ($Y_0 \sim U(-1, 1)$): $m(t) = M(t) - M(0) e^{-\theta t}$ and
    $v(t) = v(0) e^{-2\theta t} + Q(t) - e^{-2\theta t} Q(0)$, with $M$ (`_drift_mean`)
    and $Q$ (`_variance_term`)."""
    decay = jnp.exp(-cfg.theta * ts)
    mean = _drift_mean(cfg, ts) - _drift_mean(cfg, 0.0) * decay
    var = decay**2 / 3 + _variance_term(cfg, ts) - decay**2 * _variance_term(cfg, 0 * ts)
    return mean, jnp.sqrt(var)


def sample_paths(cfg: OUConfig, ts, key, n: int):
    r"""`n` exact OU paths at `ts`, shape `(n, times, 1)`: given $Y_s$,
    $Y_t \sim \mathcal N(M(t) + (Y_s - M(s)) e^{-\theta (t-s)},\,
    Q(t) - e^{-2\theta(t-s)} Q(s))$."""
    k0, kw = jax.random.split(key)
    y0 = jax.random.uniform(k0, (n,), minval=-1.0, maxval=1.0)
    decay = jnp.exp(-cfg.theta * jnp.diff(ts))
    q = _variance_term(cfg, ts)
    std = jnp.sqrt(q[1:] - decay**2 * q[:-1])
    noise = jax.random.normal(kw, (ts.shape[0] - 1, n))

    def step(y, x):
        s, t, a, b, z = x
        y = _drift_mean(cfg, t) + (y - _drift_mean(cfg, s)) * a + b * z
        return y, y

    _, ys = jax.lax.scan(step, y0, (ts[:-1], ts[1:], decay, std, noise))
    return jnp.concatenate([y0[None], ys]).T[:, :, None]


def _times(cfg: OUConfig):
    return jnp.linspace(0.0, cfg.t1, cfg.times)


@functools.partial(jax.jit, static_argnums=0)
def _data(cfg: OUConfig):
    """The observation times, the training paths (a fraction `drop` of points NaN), and
    the shift and scale that standardize them (over all paths and times)."""
    ts = _times(cfg)
    k_paths, k_drop = jax.random.split(jax.random.key(cfg.data_seed))
    ys = sample_paths(cfg, ts, k_paths, cfg.paths)
    ys = jnp.where(jax.random.bernoulli(k_drop, cfg.drop, ys.shape), jnp.nan, ys)
    return ts, ys, (jnp.nanmean(ys), jnp.nanstd(ys))


def _latent_sde(cfg: OUConfig):
    def init(key):
        return LatentSDE(
            data_size=1, latent_size=cfg.latent_size, context_size=cfg.context_size,
            hidden_size=cfg.hidden_size, width=cfg.width, depth=cfg.depth, obs_std=cfg.obs_std,
            solver=cfg.solver, substeps=cfg.substeps, posterior_inputs=cfg.posterior, key=key,
        )  # fmt: skip

    return init


def _sde_gan(cfg: OUConfig):
    def init(key):
        k_gen, k_disc = jax.random.split(key)
        generator = SDEGenerator(
            data_size=1, hidden_size=cfg.gan_hidden_size, noise_size=cfg.gan_noise_size,
            initial_noise_size=cfg.gan_initial_noise_size, width=cfg.gan_width,
            depth=cfg.gan_depth, solver=cfg.gan_solver, substeps=cfg.gan_substeps,
            adjoint=cfg.gan_adjoint, key=k_gen,
        )  # fmt: skip
        discriminator = CDEDiscriminator(
            data_size=1, hidden_size=cfg.gan_hidden_size, width=cfg.gan_width,
            depth=cfg.gan_depth, substeps=cfg.gan_substeps, key=k_disc,
        )  # fmt: skip
        return generator, clip_weights(discriminator, cfg.clip)

    return init


def _projected(project):
    """An optax stage that replaces the parameters after the update by `project(params)`."""

    def update(updates, state, params):
        new = project(optax.apply_updates(params, updates))
        return jax.tree.map(lambda a, b: a - b, new, params), state

    return optax.GradientTransformation(lambda params: optax.EmptyState(), update)


def _gan_labels(params):
    """`"g"`/`"d"` for the generator's/critic's parameters, `"g0"`/`"d0"` for those of
    their `initial` networks."""

    def label(module, name):
        labels = jax.tree.map(lambda _: name, module)
        return eqx.tree_at(
            lambda m: m.initial, labels, jax.tree.map(lambda _: name + "0", module.initial)
        )

    return label(params[0], "g"), label(params[1], "d")


def _optimizers(cfg: OUConfig):
    """Adam for the latent SDE. For the SDE-GAN, simultaneous steps: RMSprop descent for
    the generator, RMSprop ascent for the critic, whose weights are then clipped; the
    `initial` networks (of the generator's initial state, and of the critic's score at
    $t_0$) step `initial_lr_factor` times faster. Every learning rate decays to zero on a
    cosine schedule."""

    def decayed(rate):
        return optax.cosine_decay_schedule(rate, cfg.steps)

    def descent(rate):
        return optax.rmsprop(decayed(rate))

    def ascent(rate):
        return optax.chain(optax.scale(-1.0), optax.rmsprop(decayed(rate)))

    fast = cfg.initial_lr_factor
    latent = optax.adam(decayed(cfg.learning_rate))
    gan = optax.chain(
        optax.multi_transform(
            {
                "g": descent(cfg.generator_lr),
                "g0": descent(fast * cfg.generator_lr),
                "d": ascent(cfg.discriminator_lr),
                "d0": ascent(fast * cfg.discriminator_lr),
            },
            _gan_labels,
        ),
        _projected(lambda p: (p[0], clip_weights(p[1], cfg.clip))),
    )
    return {POSTERIORS[cfg.posterior]: latent, "sde_gan": gan}


def _losses(cfg: OUConfig, ts):
    def latent_sde(model, batch, key):
        keys = jax.random.split(key, batch.shape[0])
        loss, (loglik, kl) = jax.vmap(lambda y, k: model.loss(ts, y, k))(batch, keys)
        observed = jnp.sum(~jnp.isnan(batch))
        return jnp.sum(loss) / observed, {"kl": jnp.sum(kl) / observed}

    def sde_gan(model, batch, key):
        generator, discriminator = model
        fake = jax.vmap(lambda k: generator(ts, k))(jax.random.split(key, batch.shape[0]))
        fake = jnp.where(jnp.isnan(batch), jnp.nan, fake)  # real path i's missing points
        scores = jax.vmap(lambda y: discriminator(ts, y))(jnp.concatenate([batch, fake]))
        real_score, fake_score = jnp.split(scores, 2)
        return jnp.mean(real_score) - jnp.mean(fake_score), {}

    return {POSTERIORS[cfg.posterior]: latent_sde, "sde_gan": sde_gan}


def _generate(name, model, ts, key, n, noise=True):
    """`n` paths of a trained model, standardized units: the latent SDE's generative
    model (with its observation noise, or its decoded prior without), or the generator."""
    keys = jax.random.split(key, n)
    if name != "sde_gan":
        paths = jax.vmap(lambda k: model.sample(ts, k, noise=noise))(keys)
    else:
        paths = jax.vmap(lambda k: model[0](ts, k))(keys)
    return paths[..., 0]


def _evaluate(cfg: OUConfig, name: str):
    """The relative errors of the marginal mean and standard deviation of `samples`
    generated paths (NaN if any path is not finite), those marginals, and 8 noiseless
    paths for the figure."""

    def evaluate(model, key, data):
        ts, shift, scale = _times(cfg), data["shift"], data["scale"]
        mean, std = exact_moments(cfg, ts)
        paths = shift + scale * _generate(name, model, ts, key, cfg.samples)
        learned_mean, learned_std = jnp.mean(paths, 0), jnp.std(paths, 0)
        failed = ~jnp.all(jnp.isfinite(paths))
        errors = {
            "mean_rel_error": jnp.mean(jnp.abs(learned_mean - mean)) / jnp.mean(jnp.abs(mean)),
            "std_rel_error": jnp.mean(jnp.abs(learned_std - std)) / jnp.mean(std),
        }
        return {
            **{metric: jnp.where(failed, jnp.nan, value) for metric, value in errors.items()},
            "mean": learned_mean,
            "std": learned_std,
            "paths": shift + scale * _generate(name, model, ts, key, 8, noise=False),
        }

    return evaluate


def models(cfg: OUConfig) -> dict[str, ModelSpec]:
    ts = _times(cfg)
    inits = {POSTERIORS[cfg.posterior]: _latent_sde(cfg), "sde_gan": _sde_gan(cfg)}
    optimizers, losses = _optimizers(cfg), _losses(cfg, ts)
    return {
        name: ModelSpec(inits[name], losses[name], optimizers[name], _evaluate(cfg, name))
        for name in cfg.models
    }


def data(cfg: OUConfig):
    """The standardized training paths (host arrays; their missing points as a mask, see
    `without_nan`) and the shift and scale that map them back."""
    _, ys, (shift, scale) = _data(cfg)
    paths, missing = without_nan((ys - shift) / scale)
    shift, scale = np.asarray(shift), np.asarray(scale)
    return {"paths": paths, "missing": missing, "shift": shift, "scale": scale}


def batches(cfg: OUConfig, data):
    """Minibatches of `batch_size` standardized training paths, NaN where not observed."""
    sample = sampler((data["paths"], data["missing"]), cfg.batch_size)
    return lambda key: with_nan(*sample(key))


def report_ou(cfg: OUConfig, results, out_dir: Path | None) -> dict:
    final = results["final"]
    metrics = {k: np.asarray(v, dtype=float) for k, v in final.items() if k.endswith("_error")}
    if out_dir is not None:
        ts, data, _ = _data(cfg)
        mean, std = (np.asarray(x) for x in exact_moments(cfg, ts))
        ts = np.asarray(ts)
        names = cfg.models
        fig = Figure(figsize=(5.5 * len(names), 4))
        for ax, name in zip(np.atleast_1d(fig.subplots(1, len(names))), names):
            ax.fill_between(ts, mean - std, mean + std, color="0.8", label="exact mean ± std")
            ax.plot(ts, mean, "k", lw=1.5)
            learned_mean = np.asarray(final[f"{name}/mean"])[0]
            learned_std = np.asarray(final[f"{name}/std"])[0]
            ax.plot(ts, learned_mean, "C0", lw=1.5, label="learned mean ± std (seed 0)")
            for sign in (-1, 1):
                ax.plot(ts, learned_mean + sign * learned_std, "C0--", lw=1)
            for i, path in enumerate(np.asarray(final[f"{name}/paths"])[0, :4]):
                ax.plot(
                    ts, path, "C1", lw=0.7, alpha=0.8, label="model samples" if i == 0 else None
                )
            for i, path in enumerate(np.asarray(data)[:4, :, 0]):
                seen = ~np.isnan(path)
                ax.plot(ts[seen], path[seen], "k.", ms=3, label="data" if i == 0 else None)
            m, s = (np.nanmean(metrics[f"{name}/{k}_rel_error"]) for k in ("mean", "std"))
            seeds = len(metrics[f"{name}/mean_rel_error"])
            title = f"{name}: mean error {m:.3f}, std error {s:.3f} ({seeds} seeds)"
            ax.set(title=title, xlabel="t", ylabel="Y")
            ax.legend(fontsize=7, loc="upper left")
        fig.tight_layout()
        fig.savefig(out_dir / "marginals.png", dpi=110)
    return metrics


TRAINING = Training(models, data, batches)
EXPERIMENT = TRAINING.experiment(
    "nde.ou",
    "neural SDEs (latent SDE, SDE-GAN) learning a time-dependent Ornstein-Uhlenbeck process",
    OUConfig,
    report_ou,
)
