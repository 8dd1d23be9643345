"""`cape.diffusion_reaction`: CAPE-FNO against FNOs (plain, with parameter channels) on
1-D diffusion-reaction, tested on pairs $(\\nu, \\rho)$ never seen in training."""

import dataclasses
from typing import ClassVar

from ..._config import option
from .._comparison import TRAINING
from .._generators import DiffusionReactionData
from .._report import comparison_report
from .advection import AdvectionConfig


# PDEBench's grid (nu, rho) in {0.5, 1, 2, 5} x {1, 2, 5, 10}; the unseen sets are the four
# with (i + j) % 4 == 0 (i, j the indices of nu and rho): every nu and every rho value is
# seen in training, but never in these combinations.
_GRID = [(nu, rho) for nu in (0.5, 1.0, 2.0, 5.0) for rho in (1.0, 2.0, 5.0, 10.0)]
_UNSEEN = [(nu, rho) for k, (nu, rho) in enumerate(_GRID) if (k // 4 + k % 4) % 4 == 0]
_TRAIN = [pair for pair in _GRID if pair not in _UNSEEN]


@dataclasses.dataclass(frozen=True)
class DiffusionReactionConfig(AdvectionConfig):
    """Settings of `cape.diffusion_reaction`: as
    [`AdvectionConfig`][jaxlab.cape.experiments.AdvectionConfig], with parameter sets
    $(\\nu, \\rho)$ given flat (`nu1, rho1, nu2, rho2, ...`). Default split: PDEBench's
    grid $\\{0.5, 1, 2, 5\\} \\times \\{1, 2, 5, 10\\}$; unseen are $(0.5, 1)$, $(1, 10)$,
    $(2, 5)$, $(5, 2)$, so each value of $\\nu$ and of $\\rho$ is seen, never these pairs.
    101 frames on $t \\in [0, 1]$, every `time`-th kept (26 by default)."""

    pde: ClassVar[str] = "diffusion_reaction"
    n_params: ClassVar[int] = 2

    train_params: tuple[float, ...] = option(
        tuple(v for pair in _TRAIN for v in pair),
        "pairs (nu, rho) trained on, flat: nu1, rho1, nu2, rho2, ...",
        above=0,
    )
    unseen_params: tuple[float, ...] = option(
        tuple(v for pair in _UNSEEN for v in pair),
        "pairs (nu, rho) never trained on (tested), flat",
        above=0,
    )
    time: int = option(4, "keep every time-th frame", minimum=1)

    def data_config(self, values: tuple[float, ...]):
        nu, rho = values
        return DiffusionReactionData(nu=nu, rho=rho, nx=self.nx)

    @classmethod
    def quick(cls):
        return dataclasses.replace(super().quick(), train_samples=24, time=4)


def report(config, results, out_dir):
    """Per-seed nRMSE of each model on seen, unseen and validation pairs (nu, rho),
    PDEBench's other errors, parameter counts and rollout times; figures."""
    return comparison_report(config, results, out_dir)


EXPERIMENT = TRAINING.experiment(
    "cape.diffusion_reaction",
    "CAPE-FNO vs FNO (plain, parameter channels) on 1-D diffusion-reaction, unseen (nu, rho)",
    DiffusionReactionConfig,
    report,
)
