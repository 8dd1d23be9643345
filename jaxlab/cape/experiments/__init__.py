"""Registered reproductions of CAPE (Takamoto, Alesiani & Niepert, ICML 2023), one file
each:

- `cape.advection` ([`AdvectionConfig`][jaxlab.cape.experiments.AdvectionConfig]):
  unseen advection speeds $\\beta$;
- `cape.burgers` ([`BurgersConfig`][jaxlab.cape.experiments.BurgersConfig]): unseen
  viscosities $\\nu$;
- `cape.diffusion_reaction` (`DiffusionReactionConfig`): unseen pairs $(\\nu, \\rho)$.

Each trains, per seed and side by side ([`Training`][jaxlab.Training]), a plain FNO
(`fno`), an FNO given the parameters as constant channels (`fno_cond`), CAPE + FNO
(`cape_fno`) and CAPE + FNO without the curriculum (`cape_fno_no_curriculum`, fully
autoregressive from the first step), with parameter counts matched (the FNO width of
`fno` and `fno_cond` is chosen so their counts are nearest `cape_fno`'s). They are
evaluated by full autoregressive rollouts from the first frame: nRMSE on held-out
samples of the training parameters (`seen`), on parameters never seen in training
(`unseen`), and on a validation split of the seen parameters (`val`, the only split used
to choose settings).

Data are generated once per process by [`generate`][jaxlab.cape.generate] (seeded by
`data_seed`, shared by all seeds), or read from PDEBench files (`files`), downsampled, and
declared as the experiment's data: the compiled programs receive every split as an
argument, and each step's batch is drawn inside the program from the step's key.
"""

from ..._experiment import register
from . import advection, burgers, diffusion_reaction
from .advection import AdvectionConfig as AdvectionConfig
from .burgers import BurgersConfig as BurgersConfig
from .diffusion_reaction import DiffusionReactionConfig as DiffusionReactionConfig


for _module in (advection, burgers, diffusion_reaction):
    register(_module.EXPERIMENT)
