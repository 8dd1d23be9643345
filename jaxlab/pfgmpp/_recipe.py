"""The recipe every PFGM++ model here trains and samples with: EDM's settings, the loss
of one augmentation dimension, the optimizer, and sampling on the settings' schedule."""

import dataclasses
import functools

import optax

from .._experiment import require, require_integer
from ._edm import log_normal, pfgmpp_loss
from ._sampler import sample


@dataclasses.dataclass(frozen=True)
class EDMSettings:
    """The settings every PFGM++ experiment shares: EDM preconditioning (`sigma_data`),
    the log-normal training distribution of sigma (`p_mean`, `p_std`), the clipping of
    the kernel's Beta draw (`clip`), and the Heun sampler (`sample_steps` from
    `sigma_max` to `sigma_min`, time exponent `rho`)."""

    sigma_data: float = 0.5
    p_mean: float = -1.2
    p_std: float = 1.2
    clip: float = 1e-3
    sample_steps: int = 18
    sigma_min: float = 0.002
    sigma_max: float = 80.0
    rho: float = 7.0

    def __post_init__(self):
        require(self.sigma_data > 0, "sigma_data", "a number > 0", self.sigma_data)
        require(self.p_std > 0, "p_std", "a number > 0", self.p_std)
        require(0 <= self.clip < 0.5, "clip", "a number in [0, 0.5)", self.clip)
        require_integer(self.sample_steps, "sample_steps")
        require(self.sigma_min > 0, "sigma_min", "a number > 0", self.sigma_min)
        require(
            self.sigma_min < self.sigma_max,
            "sigma_min",
            f"a number below sigma_max={self.sigma_max}",
            self.sigma_min,
        )
        require(self.rho > 0, "rho", "a number > 0", self.rho)


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
