r"""`nde.ou`: neural SDEs (a latent SDE and an SDE-GAN) learning a time-dependent
Ornstein-Uhlenbeck process, judged by the marginal mean and standard deviation of what they
generate against the exact ones."""

import dataclasses
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from ..._config import Config, option
from ..._experiment import require
from .._ou import MODELS, POSTERIORS, TRAINING, _data, exact_moments
from .._sde_solve import SDE_SOLVERS


@dataclasses.dataclass(frozen=True)
class OUConfig(Config):
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

    model: str = option(
        "latent_sde", "the model(s) trained: latent_sde, sde_gan or both", choices=(*MODELS, "both")
    )
    mu: float = option(2.0, "mu in the drift mu t - theta Y")
    theta: float = option(1.0, "theta, the mean reversion rate", above=0)
    sigma: float = option(1.2649110640673518, "sigma, the diffusion scale (0.4 sqrt(10))", above=0)
    diffusion: str = option(
        "constant",
        "the diffusion g(t): constant sigma, or linear 2 sigma t / t1",
        choices=("constant", "linear"),
    )
    t1: float = option(6.3, "end time of the paths", above=0)
    times: int = option(32, "observation times per path, equally spaced on [0, t1]", minimum=2)
    drop: float = option(0.3, "probability that an observation is missing", minimum=0, below=1)
    paths: int = option(1024, "training paths", minimum=1)
    batch_size: int = option(32, "paths per minibatch", minimum=1)
    steps: int = option(800, "training steps (each model)", minimum=1)
    samples: int = option(2048, "paths generated per model for the metrics", minimum=2)
    solver: str = option("euler", "the latent SDE's solver", choices=SDE_SOLVERS)
    substeps: int = option(4, "latent SDE solver steps per observation interval", minimum=1)
    # latent SDE
    latent_size: int = option(4, "latent SDE: size of the latent state z", minimum=1)
    context_size: int = option(8, "latent SDE: size of the GRU context", minimum=1)
    hidden_size: int = option(16, "latent SDE: hidden size of the context GRU", minimum=1)
    width: int = option(32, "latent SDE: hidden width of the drift MLPs", minimum=1)
    depth: int = option(1, "latent SDE: hidden layers of the drift MLPs", minimum=1)
    obs_std: float = option(0.1, "latent SDE: observation noise std (standardized units)", above=0)
    posterior: str = option(
        "bridge", "latent SDE: what the posterior drift sees", choices=tuple(POSTERIORS)
    )
    learning_rate: float = option(1e-2, "latent SDE: Adam's peak learning rate", above=0)
    # SDE-GAN
    gan_solver: str = option(
        "reversible_heun", "SDE-GAN: the generator's solver", choices=SDE_SOLVERS
    )
    gan_hidden_size: int = option(
        16, "SDE-GAN: hidden state size of generator and critic", minimum=1
    )
    gan_noise_size: int = option(
        4, "SDE-GAN: dimension of the generator's Brownian motion", minimum=1
    )
    gan_initial_noise_size: int = option(
        16, "SDE-GAN: standard normals mapped to the initial state", minimum=1
    )
    gan_width: int = option(32, "SDE-GAN: hidden width of the MLPs", minimum=1)
    gan_depth: int = option(1, "SDE-GAN: hidden layers of the MLPs", minimum=1)
    gan_substeps: int = option(1, "SDE-GAN: solver steps per observation interval", minimum=1)
    gan_adjoint: str = option(
        "reversible", "SDE-GAN: the generator's gradients", choices=("backprop", "reversible")
    )
    generator_lr: float = option(1e-3, "SDE-GAN: the generator's peak RMSprop rate", above=0)
    discriminator_lr: float = option(2e-3, "SDE-GAN: the critic's peak RMSprop rate", above=0)
    initial_lr_factor: float = option(
        10.0, "SDE-GAN: how much faster the initial networks (generator, critic) learn", above=0
    )
    clip: float | None = option(
        1.0, "SDE-GAN: the critic's weight clip (none: 1/out_features per layer)", above=0
    )
    data_seed: int = option(0, "seed of the training paths", minimum=0)

    def check(self):
        require(
            self.gan_adjoint == "backprop" or self.gan_solver == "reversible_heun",
            "gan_adjoint", "backprop unless gan_solver=reversible_heun", self.gan_adjoint,
        )  # fmt: skip
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


def report(cfg: OUConfig, results, out_dir: Path | None) -> dict:
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


EXPERIMENT = TRAINING.experiment(
    "nde.ou",
    "neural SDEs (latent SDE, SDE-GAN) learning a time-dependent Ornstein-Uhlenbeck process",
    OUConfig,
    report,
)
