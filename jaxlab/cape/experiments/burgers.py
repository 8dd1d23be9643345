"""`cape.burgers`: CAPE-FNO against FNOs (plain, with parameter channels) on 1-D
Burgers, tested on viscosities $\\nu$ never seen in training."""

import dataclasses
from typing import ClassVar

from ..._config import option
from .._comparison import TRAINING
from .._generators import BurgersData
from .._report import comparison_report
from .advection import AdvectionConfig


@dataclasses.dataclass(frozen=True)
class BurgersConfig(AdvectionConfig):
    """Settings of `cape.burgers`: as [`AdvectionConfig`][jaxlab.cape.experiments.AdvectionConfig],
    with viscosities $\\nu$ (the PDE's is $\\nu/\\pi$)."""

    pde: ClassVar[str] = "burgers"

    train_params: tuple[float, ...] = option(
        (0.002, 0.007, 0.02, 0.04, 0.2, 0.4, 2.0),
        "viscosities nu trained on (the PDE's is nu / pi)",
        above=0,
    )
    unseen_params: tuple[float, ...] = option(
        (0.001, 0.004, 0.01, 0.1, 1.0, 4.0), "viscosities nu never trained on (tested)", above=0
    )

    def data_config(self, values: tuple[float, ...]):
        (nu,) = values
        return BurgersData(nu=nu, nx=self.nx, cfl=self.cfl)


def report(config, results, out_dir):
    """Per-seed nRMSE of each model on seen, unseen and validation viscosities,
    PDEBench's other errors, parameter counts and rollout times; figures."""
    return comparison_report(config, results, out_dir)


EXPERIMENT = TRAINING.experiment(
    "cape.burgers",
    "CAPE-FNO vs FNO (plain, parameter channels) on 1-D Burgers, unseen nu",
    BurgersConfig,
    report,
)
