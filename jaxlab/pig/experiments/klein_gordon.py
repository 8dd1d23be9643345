"""`pig.klein_gordon`: (2+1)-D Klein-Gordon, $k = 2$, PIG against a PINN."""

import dataclasses
from pathlib import Path

from ..._config import option, with_default
from .._benchmarks import klein_gordon
from .._report import side_by_side_report
from .._training import TRAINING, Settings


@dataclasses.dataclass(frozen=True)
class KleinGordonConfig(Settings):
    """`pig.klein_gordon`: (2+1)-D, $k = 2$. Defaults follow the official script: 4 x 100
    Gaussians, $\\sigma_0 = 0.5$ on the box mapped to $[0, 2]^3$, Adam 1e-2 decayed 0.9
    every 2,000 steps, 50,000 steps, 16^3 collocation points and 256 points per
    initial/boundary face, weights 1:1:1, a 50^3 test grid."""

    k: float = option(2.0, "k of the exact solution (x + y) cos kt + xy sin kt")
    condition_points: int = option(256, "points per initial or boundary face, per step", minimum=1)
    steps: int = with_default(Settings, "steps", 50000)
    n_gaussians: int = with_default(Settings, "n_gaussians", 100)
    sigma0: float = with_default(Settings, "sigma0", 0.5)
    collocation: int = with_default(Settings, "collocation", 4096)

    def problem(self):
        return klein_gordon(self.k, self.condition_points)

    @classmethod
    def quick(cls) -> "KleinGordonConfig":
        return cls(
            steps=1500, collocation=1024, condition_points=128, test_grid=30,
            monitor_points=1024, pinn_width=32, pinn_depth=3, pinn_learning_rate=3e-3,
        )  # fmt: skip


def report(config: KleinGordonConfig, results, out_dir: Path | None) -> dict:
    """Per model and seed: `final_rel_l2` (the headline), `best_rel_l2`, `ms_per_iter`
    and `params`; figures into `out_dir` (the report of every `pig.*` experiment)."""
    return side_by_side_report(config, results, out_dir)


EXPERIMENT = TRAINING.experiment(
    "pig.klein_gordon",
    "(2+1)-D Klein-Gordon, k = 2: PIG against a PINN",
    KleinGordonConfig,
    report,
)
