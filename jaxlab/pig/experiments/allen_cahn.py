"""`pig.allen_cahn`: 1-D Allen-Cahn (jaxpi's setting), causal, PIG against a PINN, tested
on an ETDRK4 reference."""

import dataclasses
from pathlib import Path

from ..._config import option, with_default
from .._benchmarks import allen_cahn
from .._report import side_by_side_report
from .._training import TRAINING, Settings


@dataclasses.dataclass(frozen=True)
class AllenCahnConfig(Settings):
    """`pig.allen_cahn`: 1-D, $u_t - 10^{-4} u_{xx} + 5u^3 - 5u = 0$, periodic, jaxpi's
    setting, with jaxpi's causal weighting of the residual (tolerance 1 over 32 time
    chunks). The official code has no Allen-Cahn script: the defaults (4 x 1200
    Gaussians, $\\sigma_0 = 0.1$ on $[0, 2]^2$, Adam 1e-3 decayed 0.9 every 5,000 steps as
    in jaxpi, 100,000 steps, 8,192 collocation points, initial condition weighted
    `ic_weight`) are jaxlab's choices. The test set is the ETDRK4 reference on jaxpi's
    201 x 513 grid."""

    epsilon: float = option(1e-4, "epsilon in u_t - epsilon u_xx + 5u^3 - 5u = 0", above=0)
    condition_points: int = option(256, "initial and periodic-pair points per step", minimum=1)
    ic_weight: float = option(100.0, "weight of the initial condition's loss", minimum=0)
    steps: int = with_default(Settings, "steps", 100000)
    n_gaussians: int = with_default(Settings, "n_gaussians", 1200)
    sigma0: float = with_default(Settings, "sigma0", 0.1)
    learning_rate: float = with_default(Settings, "learning_rate", 1e-3)
    decay_steps: int = with_default(Settings, "decay_steps", 5000)
    collocation: int = with_default(Settings, "collocation", 8192)
    causal_tol: float = with_default(Settings, "causal_tol", 1.0)
    causal_chunks: int = with_default(Settings, "causal_chunks", 32)

    def problem(self):
        return allen_cahn(self.epsilon, self.condition_points, self.ic_weight)

    @classmethod
    def quick(cls) -> "AllenCahnConfig":
        return cls(
            steps=1000, n_gaussians=200, learning_rate=1e-2, decay_steps=1000,
            collocation=1024, condition_points=128, monitor_points=1024, pinn_width=32,
            pinn_depth=3, pinn_learning_rate=3e-3,
        )  # fmt: skip


def report(config: AllenCahnConfig, results, out_dir: Path | None) -> dict:
    """Per model and seed: `final_rel_l2` (the headline), `best_rel_l2`, `ms_per_iter`
    and `params`; figures into `out_dir` (the report of every `pig.*` experiment)."""
    return side_by_side_report(config, results, out_dir)


EXPERIMENT = TRAINING.experiment(
    "pig.allen_cahn",
    "1-D Allen-Cahn (jaxpi), causal: PIG against a PINN",
    AllenCahnConfig,
    report,
)
