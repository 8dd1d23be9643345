"""[`cape.train`][jaxlab.cape.train]: a surrogate (CAPE or not) on trajectories of your own."""

import dataclasses
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import numpy as np
import optax
from jaxtyping import ArrayLike

from .._config import Config, option
from .._experiment import require
from .._train import Trained, fit, overridden, sampler
from ._metrics import pdebench_metrics
from ._models import KINDS, build_surrogate
from ._training import curriculum_sampler, predict_trajectories, rollout_loss


@dataclasses.dataclass(frozen=True)
class RolloutTraining(Config):
    """The surrogate's size and its rollout training: the fields that
    [`cape.Settings`][jaxlab.cape.Settings] and the experiments' configs share (defaults:
    `cape.advection`'s). Adam for `steps` steps of batch `batch_size`, the learning rate
    `learning_rate` halved every `steps // 5`, CAPE's curriculum (the autoregressive
    horizon grows over training) with `warmup_steps` steps that train the CAPE block
    alone, `aux_weight` and `input_noise` of [`rollout_loss`][jaxlab.cape.rollout_loss]."""

    steps: int = option(2000, "Adam steps", minimum=1)
    batch_size: int = option(50, "trajectories per step", minimum=1)
    learning_rate: float = option(
        3e-3, "Adam's initial learning rate, halved every steps // 5 steps", above=0
    )
    warmup_steps: int = option(
        60, "first steps, training CAPE's block alone (on its guess loss)", minimum=0
    )
    aux_weight: float = option(5.7e-5, "weight of the loss of CAPE's guess", minimum=0)
    input_noise: float = option(1e-3, "std of the Gaussian noise on each input frame", minimum=0)
    width: int = option(
        20,
        "width (channels) of the base network (experiments: under CAPE; others matched)",
        minimum=1,
    )
    modes: int = option(12, "Fourier modes of each FNO layer", minimum=1)
    layers: int = option(4, "Fourier layers of the FNO", minimum=1)
    hidden: int = option(128, "channels of the FNO's projection", minimum=1)
    cape_width: int = option(64, "CAPE's widening factor w (even)", minimum=2)
    cape_kernel: int = option(5, "kernel size k of CAPE's convolutions (odd)", minimum=1)
    cape_modes: int = option(16, "Fourier modes of CAPE's spectral convolution", minimum=1)
    padding: str = option(
        "circular",
        "padding of the CAPE block's and U-Net's convolutions",
        choices=("circular", "zeros"),
    )
    log_params: bool = option(True, "the PDE parameters enter the models as log10")


@dataclasses.dataclass(frozen=True)
class Settings(RolloutTraining):
    """Settings of [`cape.train`][jaxlab.cape.train] (defaults: `cape.advection`'s).

    - Model: `model` one of `fno`, `fno_cond`, `cape_fno`, `unet`, `unet_cond`,
      `cape_unet` ([`build_surrogate`][jaxlab.cape.build_surrogate], with `width`,
      `modes`, `layers`, `hidden`, `levels`, `cape_width`, `cape_kernel`, `cape_modes`,
      `padding`, `log_params`), unless `train` is given a model of its own.
    - Training: `steps` Adam steps of batch `batch_size`, learning rate
      `learning_rate` halved every `steps // 5`, CAPE's curriculum (the autoregressive
      horizon grows over training) with `warmup_steps` steps that train the CAPE block
      alone, `aux_weight` and `input_noise` of [`rollout_loss`][jaxlab.cape.rollout_loss].

    The training and model fields are those of the experiments' configs (one declaration,
    in a shared base); `model` and `levels` are `train`'s own.
    """

    model: str = option("cape_fno", "the surrogate to build", choices=KINDS)
    levels: int = option(3, "levels of the U-Net (models unet, unet_cond, cape_unet)", minimum=1)


TRAIN_KEYWORDS = "val, model, seeds, key, progress, checkpoint_dir, chunk_size"


def train(
    u: ArrayLike,
    params: ArrayLike,
    settings: Settings | None = None,
    *,
    val: tuple[ArrayLike, ArrayLike] | None = None,
    model: str | Callable[[Any], Any] | None = None,
    seeds: int = 1,
    key: int = 0,
    progress: bool = False,
    checkpoint_dir: str | Path | None = None,
    chunk_size: int = 500,
    **overrides: Any,
) -> Trained:
    r"""Train an autoregressive surrogate $u^{t+1} = f(u^t, \theta)$ on trajectories of
    a parametric PDE, all seeds vmapped in one program, with CAPE's rollout loss and
    curriculum; then score each seed's full rollouts on `val`.

    **Arguments:**

    - `u`: `[N, T, X]` trajectories (one scalar field on a periodic 1-D grid of `X`
      cells, `T` frames); `params`: `[N, P]` the PDE parameters of each (positive).
      From PDEBench files: `u, params = cape.load_all(cape.PDEBenchFile(path))`.
    - `settings`: [`cape.Settings`][jaxlab.cape.Settings], with fields replaced by
      `overrides` (`train(u, p, model="fno_cond", steps=500)`).
    - `val`: optional held-out `(u, params)` of the same `T` and `X`.
    - `model`: a name (`"cape_fno"`, ..., as `settings.model`) or `model(key) ->
      surrogate` of your own (any module called as `surrogate(u [C, X], params [P]) ->
      (next, guess)`); default `settings.model`.
    - `seeds`, `key`, `progress`, `checkpoint_dir`, `chunk_size`: as in
      [`jaxlab.fit`][jaxlab.fit].

    **Returns:** a [`jaxlab.Trained`][jaxlab.Trained]: `model(seed)`, the curves in
    `fit` (`fit.aux["main"]`, `["aux"]`, `["horizon"]` per step) and, with `val`,
    `metrics["val_nrmse"]` and PDEBench's other errors of full rollouts from the first
    frame.
    """
    if isinstance(model, str):
        overrides, model = {**overrides, "model": model}, None
    settings = overridden(settings, Settings, overrides, TRAIN_KEYWORDS)
    data = _trajectories(u, params, "u", "params")
    n, frames, cells = data["u"].shape
    require(
        settings.batch_size <= n, "batch_size", f"at most the {n} trajectories", settings.batch_size
    )
    if val is not None:
        require(isinstance(val, tuple) and len(val) == 2, "val", "a pair (u, params)", type(val))
        val = _trajectories(*val, "val[0]", "val[1]")
        got = val["u"].shape[1:], val["params"].shape[1]
        need = (frames, cells), data["params"].shape[1]
        require(got == need, "val", f"[M, {frames}, {cells}] and [M, {need[1]}]", got)
    init = model or _surrogate(settings, data["params"].shape[1], cells)
    result = fit(
        _loss(settings), init, training_optimizer(settings), data,
        batches=_batches(settings, frames), steps=settings.steps, seeds=seeds, key=key,
        progress=progress, checkpoint_dir=checkpoint_dir, chunk_size=chunk_size,
    )  # fmt: skip
    metrics = {"final_loss": np.asarray(result.losses[:, -1])}
    if val is not None:
        scores = _scores(result.layout, result.params, result.buffers, val["u"], val["params"])
        for name, value in scores.items():
            metrics[f"val_{name}"] = np.where(np.asarray(result.diverged), np.nan, value)
    return Trained(result, metrics, settings)


def _trajectories(u, params, u_name: str, params_name: str) -> dict[str, np.ndarray]:
    u, params = np.asarray(u, np.float32), np.asarray(params, np.float32)
    require(u.ndim == 3 and u.shape[1] >= 2, u_name, "an array [N, T >= 2, X]", u.shape)
    require(
        params.ndim == 2 and len(params) == len(u),
        params_name,
        f"an array [N={len(u)}, P]",
        params.shape,
    )
    return {"u": u, "params": params}


@functools.cache
def _surrogate(settings: Settings, n_params: int, cells: int):
    """The default model's `init(key)` (one object per settings and shape, so a second
    `train` reuses the compiled programs)."""
    return functools.partial(_build, settings, n_params, cells)


def _build(settings: Settings, n_params: int, cells: int, key):
    return build_surrogate(
        settings.model, n_params=n_params, width=settings.width, modes=settings.modes,
        layers=settings.layers, hidden=settings.hidden, levels=settings.levels,
        cape_width=settings.cape_width, cape_kernel=settings.cape_kernel,
        cape_modes=settings.cape_modes, padding=settings.padding, grid=cells,
        log_params=settings.log_params, key=key,
    )  # fmt: skip


@functools.cache
def _loss(settings: Settings):
    def loss(model, batch, key):
        return rollout_loss(
            model, batch, key, aux_weight=settings.aux_weight,
            input_noise=settings.input_noise, warmup_steps=settings.warmup_steps,
        )  # fmt: skip

    return loss


@functools.cache
def training_optimizer(settings) -> optax.GradientTransformation:
    """Adam, the learning rate `settings.learning_rate` halved every `settings.steps // 5`
    steps (the experiments' and `train`'s; one object per settings)."""
    decay = max(1, settings.steps // 5)
    return optax.adam(optax.exponential_decay(settings.learning_rate, decay, 0.5, staircase=True))


@functools.cache
def _batches(settings: Settings, frames: int):
    def batches(data):
        base = sampler(data, settings.batch_size)
        return curriculum_sampler(base, settings.steps, settings.warmup_steps, frames)

    return batches


@eqx.filter_jit
def _scores(layout, params, buffers, u, p) -> dict[str, Any]:
    """PDEBench's errors of every seed's full rollouts on `(u, p)`, one vmapped program."""

    def one(weights, carried):
        pred = predict_trajectories(layout.merge(weights, carried), u, p)
        return pdebench_metrics(pred, u, initial_step=1)

    return jax.vmap(one)(params, buffers)
