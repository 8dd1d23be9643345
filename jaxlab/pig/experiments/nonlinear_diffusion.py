"""`pig.nonlinear_diffusion`: (2+1)-D nonlinear diffusion, $\\alpha = 0.05$, PIG against a
PINN, tested on a method-of-lines reference."""

import dataclasses
from pathlib import Path

from ..._config import option, with_default
from ..._experiment import require
from .._benchmarks import nonlinear_diffusion
from .._report import side_by_side_report
from .._training import TRAINING, Settings


@dataclasses.dataclass(frozen=True)
class NonlinearDiffusionConfig(Settings):
    """`pig.nonlinear_diffusion`: (2+1)-D, $u_t = \\alpha \\nabla\\cdot(u\\nabla u)$,
    $\\alpha = 0.05$. Defaults follow the official script: 4 x 4000 Gaussians,
    $\\sigma_0 = 0.1$ on the box mapped to $[0, 1]^3$, Adam 1e-3 decayed 0.9 every 2,000
    steps, 100,000 steps, 16^3 collocation points and 256 points per initial/boundary
    face, weights 1:1:1; the test set is the method-of-lines reference on a 101^3 grid
    (`reference_grid` in space, `reference_times` in time; solved on `solver_grid`)."""

    alpha: float = option(0.05, "diffusivity alpha in u_t = alpha div(u grad u)", above=0)
    condition_points: int = option(256, "points per initial or boundary face, per step", minimum=1)
    reference_grid: int = option(101, "reference (test) points per space axis", minimum=2)
    reference_times: int = option(101, "reference (test) times in [0, 1]", minimum=2)
    solver_grid: int = option(201, "method-of-lines points per space axis", minimum=2)
    steps: int = with_default(Settings, "steps", 100000)
    n_gaussians: int = with_default(Settings, "n_gaussians", 4000)
    sigma0: float = with_default(Settings, "sigma0", 0.1)
    embed_upper: float = with_default(Settings, "embed_upper", 1.0)
    learning_rate: float = with_default(Settings, "learning_rate", 1e-3)
    collocation: int = with_default(Settings, "collocation", 4096)

    def check(self):
        super().check()
        require(
            (self.solver_grid - 1) % (self.reference_grid - 1) == 0,
            "solver_grid",
            "an integer with solver_grid - 1 a multiple of reference_grid - 1 = "
            f"{self.reference_grid - 1}",
            self.solver_grid,
        )

    def problem(self):
        return nonlinear_diffusion(
            self.alpha, self.condition_points, self.reference_grid, self.reference_times,
            self.solver_grid,
        )  # fmt: skip

    @classmethod
    def quick(cls) -> "NonlinearDiffusionConfig":
        return cls(
            steps=1000, n_gaussians=200, sigma0=0.15, learning_rate=1e-2, decay_steps=250,
            decay_rate=0.5, collocation=1024, condition_points=128, reference_grid=51,
            reference_times=51, solver_grid=101, monitor_points=1024, pinn_width=32,
            pinn_depth=3, pinn_learning_rate=3e-3,
        )  # fmt: skip


def report(config: NonlinearDiffusionConfig, results, out_dir: Path | None) -> dict:
    """Per model and seed: `final_rel_l2` (the headline), `best_rel_l2`, `ms_per_iter`
    and `params`; figures into `out_dir` (the report of every `pig.*` experiment)."""
    return side_by_side_report(config, results, out_dir)


EXPERIMENT = TRAINING.experiment(
    "pig.nonlinear_diffusion",
    "(2+1)-D nonlinear diffusion, alpha = 0.05: PIG against a PINN",
    NonlinearDiffusionConfig,
    report,
)
