"""`pig.helmholtz_hf`: 2-D Helmholtz at high frequency, $(a_1, a_2) = (10, 10)$, PIG
against a PINN."""

import dataclasses
from pathlib import Path

from ..._config import with_default
from .._report import side_by_side_report
from .._training import TRAINING
from .helmholtz import HelmholtzConfig as _Helmholtz


@dataclasses.dataclass(frozen=True)
class HelmholtzHFConfig(_Helmholtz):
    """`pig.helmholtz_hf`: the high-frequency case $a_1 = a_2 = 10$."""

    a1: float = with_default(_Helmholtz, "a1", 10.0)
    a2: float = with_default(_Helmholtz, "a2", 10.0)
    n_gaussians: int = with_default(_Helmholtz, "n_gaussians", 2000)
    sigma0: float = with_default(_Helmholtz, "sigma0", 0.05)

    @classmethod
    def quick(cls) -> "HelmholtzHFConfig":
        return cls(
            steps=300, n_gaussians=600, collocation=3000, boundary_points=400, test_grid=100,
            monitor_points=1024, pinn_width=32, pinn_depth=3,
        )  # fmt: skip


def report(config: HelmholtzHFConfig, results, out_dir: Path | None) -> dict:
    """Per model and seed: `final_rel_l2` (the headline), `best_rel_l2`, `ms_per_iter`
    and `params`; figures into `out_dir` (the report of every `pig.*` experiment)."""
    return side_by_side_report(config, results, out_dir)


EXPERIMENT = TRAINING.experiment(
    "pig.helmholtz_hf",
    "2-D Helmholtz, high frequency (10, 10): PIG, PINN",
    HelmholtzHFConfig,
    report,
)
