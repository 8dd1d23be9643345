"""The recipe every PFGM++ model here trains and samples with: EDM's settings, the loss
of one augmentation dimension, the optimizer, sampling on the settings' schedule, and
one such model per D side by side."""

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import optax

from .._config import Config, option
from .._experiment import require
from .._side_by_side import ModelSpec
from ._edm import log_normal, pfgmpp_loss
from ._sampler import sample


INF = float("inf")


@dataclasses.dataclass(frozen=True)
class EDMSettings(Config):
    """The settings every PFGM++ experiment shares: EDM preconditioning (`sigma_data`),
    the log-normal training distribution of sigma (`p_mean`, `p_std`), the clipping of
    the kernel's Beta draw (`clip`), and the Heun sampler (`sample_steps` from
    `sigma_max` to `sigma_min`, time exponent `rho`)."""

    sigma_data: float = option(0.5, "EDM's data scale sigma_data (preconditioning)", above=0)
    p_mean: float = option(-1.2, "mean of ln sigma in training (EDM's P_mean)")
    p_std: float = option(1.2, "std of ln sigma in training (EDM's P_std)", above=0)
    clip: float = option(
        1e-3,
        "the kernel's Beta draw B = R^2/(R^2 + r^2) is clipped at 1 - clip (0: none)",
        minimum=0,
        below=0.5,
    )
    sample_steps: int = option(
        18, "Heun steps of the sampler (2 * steps - 1 evaluations)", minimum=1
    )
    sigma_min: float = option(0.002, "smallest noise level of the sampler", above=0)
    sigma_max: float = option(80.0, "largest noise level of the sampler (the prior's)")
    rho: float = option(7.0, "time exponent rho of the sampler's noise schedule", above=0)

    def check(self):
        require(
            self.sigma_min < self.sigma_max,
            "sigma_min",
            f"a number below sigma_max={self.sigma_max}",
            self.sigma_min,
        )
        Ds = getattr(self, "Ds", ())  # an experiment's augmentation dimensions, one model each
        require(len(set(Ds)) == len(Ds), "Ds", "distinct dimensions", Ds)


def label(D: float) -> str:
    """`"D=inf"`, `"D=1"`, `"D=2.5"`: the model name of augmentation dimension D."""
    return f"D={D:g}"


def models_per_D(
    cfg, *, network: Callable[[Any, Any], Any], evaluate: Callable[..., Any]
) -> dict[str, ModelSpec]:
    """One model per augmentation dimension in `cfg.Ds`, named `label(D)`: the
    network `network(cfg, key)`, the loss of its D, the optimizer of `cfg`, and the
    evaluation `evaluate(model, key, data, *, cfg, D)` of the final model."""
    return {
        label(D): ModelSpec(
            init=functools.partial(network, cfg),
            loss=training_loss(cfg, D),
            optimizer=training_optimizer(cfg),
            evaluate=functools.partial(evaluate, cfg=cfg, D=D),
        )
        for D in cfg.Ds
    }


@functools.cache
def training_optimizer(cfg) -> optax.GradientTransformation:
    """Adam with gradients clipped at norm 1, a linear warm-up over the first 5% of
    `cfg.steps` and a cosine decay from `cfg.learning_rate` to a tenth of it."""
    warmup = max(1, cfg.steps // 20)
    schedule = optax.warmup_cosine_decay_schedule(
        0.0, cfg.learning_rate, warmup, cfg.steps, cfg.learning_rate / 10
    )
    return optax.chain(optax.clip_by_global_norm(1.0), optax.adam(schedule))


def generate(model, key, cfg, D, n: int, shape, *, steps=None, alpha=0.0):
    """`n` samples of a trained network for augmentation dimension `D` with the config's
    noise levels ([`sample`][jaxlab.pfgmpp.sample]). Returns `(samples, nfe)`."""
    return sample(
        model, key, n, D=D, shape=shape, steps=cfg.sample_steps if steps is None else steps,
        sigma_min=cfg.sigma_min, sigma_max=cfg.sigma_max, rho=cfg.rho,
        sigma_data=cfg.sigma_data, clip=cfg.clip, alpha=alpha,
    )  # fmt: skip


@functools.cache
def training_loss(cfg, D):
    """[`pfgmpp_loss`][jaxlab.pfgmpp.pfgmpp_loss] of augmentation dimension `D` with the
    settings' EDM fields, as `loss(model, batch, key)` (one object per `(cfg, D)`)."""
    sampler = log_normal(cfg.p_mean, cfg.p_std)

    def loss(model, batch, key):
        return pfgmpp_loss(
            model, batch, key, D, sigma_data=cfg.sigma_data, sigma_sampler=sampler, clip=cfg.clip
        )

    return loss
