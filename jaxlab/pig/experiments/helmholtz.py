"""`pig.helmholtz`: 2-D Helmholtz, $(a_1, a_2) = (4, 1)$, PIG against a PINN."""

import dataclasses
from pathlib import Path

from ..._config import option, with_default
from .._benchmarks import helmholtz
from .._report import side_by_side_report
from .._training import TRAINING, Settings


@dataclasses.dataclass(frozen=True)
class HelmholtzConfig(Settings):
    """`pig.helmholtz`: $u_{xx} + u_{yy} + k^2 u = q$ on $[-1,1]^2$, exact
    $u = \\sin(a_1\\pi y)\\sin(a_2\\pi x)$. Defaults follow the official PyTorch script:
    4 x 800 Gaussians with $\\sigma_0 = 0.1$ on the native $[-1, 1]^2$, L-BFGS with a
    line search, 10,000 collocation points and 4 x `boundary_points` boundary points
    per step, loss `boundary + 1e-4 residual`, a 250 x 250 test grid."""

    a1: float = option(4.0, "frequency a_1 of the exact solution sin(a_1 pi y) sin(a_2 pi x)")
    a2: float = option(1.0, "frequency a_2 of the exact solution sin(a_1 pi y) sin(a_2 pi x)")
    k: float = option(1.0, "wavenumber k in u_xx + u_yy + k^2 u = q")
    boundary_points: int = option(
        2500, "boundary points per side of the square, per step", minimum=1
    )
    boundary_weight: float = option(1.0, "weight of the boundary loss", minimum=0)
    steps: int = with_default(Settings, "steps", 2000)
    n_gaussians: int = with_default(Settings, "n_gaussians", 800)
    sigma0: float = with_default(Settings, "sigma0", 0.1)
    embed_lower: float = with_default(Settings, "embed_lower", -1.0)
    embed_upper: float = with_default(Settings, "embed_upper", 1.0)
    optimizer: str = with_default(Settings, "optimizer", "lbfgs")
    collocation: int = with_default(Settings, "collocation", 10000)
    residual_weight: float = with_default(Settings, "residual_weight", 1e-4)
    test_grid: int = with_default(Settings, "test_grid", 250)

    def problem(self):
        return helmholtz(self.a1, self.a2, self.k, self.boundary_points, self.boundary_weight)

    @classmethod
    def quick(cls) -> "HelmholtzConfig":
        # Adam (the official script's commented-out alternative) gains more per second
        # than L-BFGS at this size on a CPU; a residual weight of 1e-3 (not 1e-4) fits
        # the PDE sooner in few steps.
        return cls(
            steps=800, n_gaussians=200, collocation=2000, boundary_points=500, test_grid=100,
            monitor_points=1024, pinn_width=32, pinn_depth=3, optimizer="adam",
            learning_rate=1e-2, pinn_learning_rate=1e-3, decay_steps=400,
            residual_weight=1e-3,
        )  # fmt: skip


def report(config: HelmholtzConfig, results, out_dir: Path | None) -> dict:
    """Per model and seed: `final_rel_l2` (the headline), `best_rel_l2`, `ms_per_iter`
    and `params`; figures into `out_dir` (the report of every `pig.*` experiment)."""
    return side_by_side_report(config, results, out_dir)


EXPERIMENT = TRAINING.experiment(
    "pig.helmholtz", "2-D Helmholtz (a1, a2) = (4, 1): PIG against a PINN", HelmholtzConfig, report
)
