"""PFGM++ (Xu, Liu, Tian, Tong, Tegmark & Jaakkola, ICML 2023): training and sampling for
any augmentation dimension D, from D = 1 (PFGM) to D = inf (EDM)."""

from .._experiment import package_configs
from ._data import (
    digits as digits,
    eight_gaussians as eight_gaussians,
    two_moons as two_moons,
)
from ._edm import (
    edm_scalings as edm_scalings,
    log_normal as log_normal,
    log_uniform as log_uniform,
    loss_weight as loss_weight,
    pfgmpp_loss as pfgmpp_loss,
    precondition as precondition,
)
from ._entry import Settings as Settings, train as train
from ._kernel import (
    log_kernel as log_kernel,
    mixture_denoiser as mixture_denoiser,
    perturb as perturb,
    perturbation as perturbation,
    prior as prior,
    radius_ratio as radius_ratio,
)
from ._metrics import (
    DigitsClassifier as DigitsClassifier,
    digits_classifier as digits_classifier,
    digits_features as digits_features,
    fid_digits as fid_digits,
    frechet_distance as frechet_distance,
    label_coverage as label_coverage,
    mmd as mmd,
    quantize as quantize,
    sliced_wasserstein as sliced_wasserstein,
)
from ._networks import (
    MLP as MLP,
    Conv as Conv,
    NoiseEmbedding as NoiseEmbedding,
    UNet as UNet,
)
from ._recipe import EDMSettings as EDMSettings
from ._sampler import heun_sample as heun_sample, sample as sample, sigma_steps as sigma_steps


__getattr__ = package_configs(
    "pfgmpp"
)  # the experiments' configs: from jaxlab.pfgmpp import ...Config
