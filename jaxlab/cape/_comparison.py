"""The experiments' side-by-side comparison: which models are trained, their widths
(parameter counts matched to CAPE's), their losses and optimizer, and the
[`Training`][jaxlab.Training] that trains them all per seed on the same batches.

Models: a plain FNO (`fno`), an FNO given the parameters as constant channels
(`fno_cond`), CAPE + FNO (`cape_fno`) and CAPE + FNO without the curriculum
(`cape_fno_no_curriculum`, fully autoregressive from the first step); and on a U-Net,
`unet`, `unet_cond`, `cape_unet`. The width of a model not under CAPE is chosen so its
parameter count is nearest that of CAPE on the same base network.
"""

import functools

import equinox as eqx
import jax
import jax.numpy as jnp

from .._data import Stream
from .._model import count_params
from .._side_by_side import ModelSpec, Training
from .._train import sampler
from ._dataset import dataset
from ._entry import training_optimizer
from ._evaluation import rollout_evaluation
from ._models import build_surrogate, matched_width
from ._training import curriculum_sampler, rollout_loss


FNO_MODELS = ("fno", "fno_cond", "cape_fno", "cape_fno_no_curriculum")
MODELS = (*FNO_MODELS, "unet", "unet_cond", "cape_unet")


def _kind(name):
    return "cape_fno" if name.startswith("cape_fno") else name


def _base(name):
    return "unet" if "unet" in name else "fno"


def _model_kwargs(config):
    return dict(
        n_params=config.n_params,
        modes=config.modes,
        layers=config.layers,
        hidden=config.hidden,
        levels=config.unet_levels,
        cape_width=config.cape_width,
        cape_kernel=config.cape_kernel,
        cape_modes=config.cape_modes,
        padding=config.padding,
        faithful_norm=config.faithful_norm,
        grid=config.nx // config.space,
        log_params=config.log_params,
    )


@functools.lru_cache(maxsize=16)
def widths(config) -> dict[str, int]:
    """The base network's width of each model: `config.width` (FNO) or
    `config.unet_width` (U-Net) under CAPE, and for the others the width whose parameter
    count is nearest that of CAPE on the same base."""
    kwargs = _model_kwargs(config)
    cape_width = {"fno": config.width, "unet": config.unet_width}
    targets = {
        base: count_params(
            eqx.filter_eval_shape(
                lambda k, b=base: build_surrogate(
                    f"cape_{b}", width=cape_width[b], key=k, **kwargs
                ),
                jax.random.key(0),
            )
        )
        for base in cape_width
    }
    return {
        name: cape_width[_base(name)]
        if _kind(name).startswith("cape")
        else matched_width(_kind(name), targets[_base(name)], **kwargs)
        for name in config.models
    }


def init_model(config, name, key):
    """Model `name` of the experiment, freshly initialized from `key`."""
    return build_surrogate(
        _kind(name), width=widths(config)[name], key=key, **_model_kwargs(config)
    )


def _models(config) -> dict[str, ModelSpec]:
    evaluate = rollout_evaluation(config)
    specs = {}
    for name in config.models:
        cape = _kind(name).startswith("cape")
        curriculum = name != "cape_fno_no_curriculum"

        def loss(model, batch, key, cape=cape, curriculum=curriculum):
            if not curriculum:
                batch = {**batch, "ar": jnp.ones_like(batch["ar"])}
            return rollout_loss(
                model,
                batch,
                key,
                aux_weight=config.aux_weight,
                input_noise=config.input_noise,
                warmup_steps=config.warmup_steps if cape else 0,
            )

        specs[name] = ModelSpec(
            init=functools.partial(init_model, config, name),
            loss=loss,
            optimizer=training_optimizer(config),
            evaluate=evaluate,
        )
    return specs


def _batches(config, data):
    train = data["train"]
    if isinstance(train, Stream):
        frames = train.row_shapes["u"].shape[0]  # one row: [T, X]
    else:
        frames = train["u"].shape[1]
    base = sampler(data["train"], config.batch_size)
    return curriculum_sampler(base, config.steps, config.warmup_steps, frames)


TRAINING = Training(_models, dataset, _batches)
