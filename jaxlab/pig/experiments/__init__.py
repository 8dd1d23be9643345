"""Registered reproductions: PIG against the PINN baseline on the paper's benchmarks, one
module each.

- `pig.helmholtz` (`HelmholtzConfig`): 2-D Helmholtz, $(a_1, a_2) = (4, 1)$.
- `pig.helmholtz_hf` (`HelmholtzHFConfig`): 2-D Helmholtz at high frequency, $(10, 10)$.
- `pig.klein_gordon` (`KleinGordonConfig`): (2+1)-D Klein-Gordon, $k = 2$.
- `pig.flow_mixing` (`FlowMixingConfig`): (2+1)-D flow mixing.
- `pig.nonlinear_diffusion` (`NonlinearDiffusionConfig`): (2+1)-D nonlinear diffusion,
  $\\alpha = 0.05$, against a method-of-lines reference.
- `pig.allen_cahn` (`AllenCahnConfig`): 1-D Allen-Cahn, causal, against an ETDRK4
  reference.

The configs are exported by the package (`from jaxlab.pig import HelmholtzConfig`). Each
experiment trains the models `--set model=pig|pinn|both` side by side (one
[`Training`][jaxlab.Training]) and reports, per model and seed, `final_rel_l2` (the
final model on the test set: the headline), `best_rel_l2` (the lowest error on the
monitor subset seen during training: selected on test data, so flattering),
`ms_per_iter` (one seed, timed apart from the sweep) and `params`.
"""

from ..._experiment import register
from . import allen_cahn, flow_mixing, helmholtz, helmholtz_hf, klein_gordon, nonlinear_diffusion
from .allen_cahn import AllenCahnConfig as AllenCahnConfig
from .flow_mixing import FlowMixingConfig as FlowMixingConfig
from .helmholtz import HelmholtzConfig as HelmholtzConfig
from .helmholtz_hf import HelmholtzHFConfig as HelmholtzHFConfig
from .klein_gordon import KleinGordonConfig as KleinGordonConfig
from .nonlinear_diffusion import NonlinearDiffusionConfig as NonlinearDiffusionConfig


for _module in (
    helmholtz,
    helmholtz_hf,
    klein_gordon,
    flow_mixing,
    nonlinear_diffusion,
    allen_cahn,
):
    register(_module.EXPERIMENT)
