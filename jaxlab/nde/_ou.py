r"""A time-dependent Ornstein-Uhlenbeck process, $\mathrm{d}Y = (\mu t - \theta Y)\,
\mathrm{d}t + g(t)\,\mathrm{d}W$: its exact marginal moments and exact sampler, and the
neural SDEs (a latent SDE and an SDE-GAN) that learn it from paths with missing points:
their losses, optimizers, evaluation against the exact marginals, and their side-by-side
[`Training`][jaxlab.Training], run by the experiment `nde.ou`.

`cfg` is an [`OUConfig`][jaxlab.nde.OUConfig] (its fields say what each setting is)."""

import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from .._side_by_side import ModelSpec, Training
from .._train import sampler
from ._latent_sde import LatentSDE
from ._missing import with_nan, without_nan
from ._sde_gan import CDEDiscriminator, SDEGenerator, clip_weights


MODELS = ("latent_sde", "sde_gan")
POSTERIORS = {"bridge": "latent_sde", "context": "latent_sde_context"}  # -> model name


def _drift_mean(cfg, t):
    r"""$M(t) = \mu t/\theta - \mu/\theta^2$, the solution of $m' = \mu t - \theta m$
    that every mean approaches."""
    return cfg.mu * t / cfg.theta - cfg.mu / cfg.theta**2


def _variance_term(cfg, t):
    r"""$Q(t)$ with $\int_s^t e^{-2\theta(t-u)} g(u)^2\,\mathrm{d}u = Q(t) -
    e^{-2\theta(t-s)} Q(s)$, the variance of $Y_t$ given $Y_s$: $Q = \sigma^2 / (2\theta)$
    for $g = \sigma$; $Q(t) = c^2 (t^2/a - 2t/a^2 + 2/a^3)$ for $g(t) = c\,t$, with
    $a = 2\theta$ and $c = 2\sigma/t_1$ (integrate $u^2 e^{au}$ by parts twice)."""
    a = 2 * cfg.theta
    if cfg.diffusion == "constant":
        return jnp.full_like(t, cfg.sigma**2 / a)
    c = 2 * cfg.sigma / cfg.t1
    return c**2 * (t**2 / a - 2 * t / a**2 + 2 / a**3)


def exact_moments(cfg, ts):
    r"""Exact marginal mean and standard deviation of the OU process at `ts`. From
    $m' = \mu t - \theta m$ and $v' = -2\theta v + g(t)^2$ with $m(0) = 0$,
    $v(0) = 1/3$ ($Y_0 \sim U(-1, 1)$): $m(t) = M(t) - M(0) e^{-\theta t}$ and
    $v(t) = v(0) e^{-2\theta t} + Q(t) - e^{-2\theta t} Q(0)$, with $M$ (`_drift_mean`)
    and $Q$ (`_variance_term`)."""
    decay = jnp.exp(-cfg.theta * ts)
    mean = _drift_mean(cfg, ts) - _drift_mean(cfg, 0.0) * decay
    var = decay**2 / 3 + _variance_term(cfg, ts) - decay**2 * _variance_term(cfg, 0 * ts)
    return mean, jnp.sqrt(var)


def sample_paths(cfg, ts, key, n: int):
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


def _times(cfg):
    return jnp.linspace(0.0, cfg.t1, cfg.times)


@functools.partial(jax.jit, static_argnums=0)
def _data(cfg):
    """The observation times, the training paths (a fraction `drop` of points NaN), and
    the shift and scale that standardize them (over all paths and times)."""
    ts = _times(cfg)
    k_paths, k_drop = jax.random.split(jax.random.key(cfg.data_seed))
    ys = sample_paths(cfg, ts, k_paths, cfg.paths)
    ys = jnp.where(jax.random.bernoulli(k_drop, cfg.drop, ys.shape), jnp.nan, ys)
    return ts, ys, (jnp.nanmean(ys), jnp.nanstd(ys))


def _latent_sde(cfg):
    def init(key):
        return LatentSDE(
            data_size=1, latent_size=cfg.latent_size, context_size=cfg.context_size,
            hidden_size=cfg.hidden_size, width=cfg.width, depth=cfg.depth, obs_std=cfg.obs_std,
            solver=cfg.solver, substeps=cfg.substeps, posterior_inputs=cfg.posterior, key=key,
        )  # fmt: skip

    return init


def _sde_gan(cfg):
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


def _optimizers(cfg):
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


def _losses(cfg, ts):
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


def _evaluate(cfg, name: str):
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


def models(cfg) -> dict[str, ModelSpec]:
    ts = _times(cfg)
    inits = {POSTERIORS[cfg.posterior]: _latent_sde(cfg), "sde_gan": _sde_gan(cfg)}
    optimizers, losses = _optimizers(cfg), _losses(cfg, ts)
    return {
        name: ModelSpec(inits[name], losses[name], optimizers[name], _evaluate(cfg, name))
        for name in cfg.models
    }


def data(cfg):
    """The standardized training paths (host arrays; their missing points as a mask, see
    `without_nan`) and the shift and scale that map them back."""
    _, ys, (shift, scale) = _data(cfg)
    paths, missing = without_nan((ys - shift) / scale)
    shift, scale = np.asarray(shift), np.asarray(scale)
    return {"paths": paths, "missing": missing, "shift": shift, "scale": scale}


def batches(cfg, data):
    """Minibatches of `batch_size` standardized training paths, NaN where not observed."""
    sample = sampler((data["paths"], data["missing"]), cfg.batch_size)
    return lambda key: with_nan(*sample(key))


TRAINING = Training(models, data, batches)
