"""`cape.advection`: CAPE-FNO against FNOs (plain, with parameter channels) on 1-D
advection, tested on speeds $\\beta$ never seen in training."""

import dataclasses
from typing import ClassVar

from ..._config import option
from ..._experiment import require
from .._comparison import FNO_MODELS, MODELS, TRAINING
from .._entry import RolloutTraining
from .._generators import AdvectionData
from .._report import comparison_report


@dataclasses.dataclass(frozen=True)
class AdvectionConfig(RolloutTraining):
    """Settings of `cape.advection` (defaults: the paper's 1-D setup, with fewer samples).

    - Data: `train_params` / `unseen_params` ($\\beta$); per training value
      `train_samples` + `val_samples` + `test_samples` trajectories, `test_samples` per
      unseen value; generated on `nx` cells with Courant number `cfl`, kept every
      `time`-th frame and `space`-th cell (201 x 1024 -> 41 x 128), from `data_seed`.
      With `files` (PDEBench-layout HDF5 files, one per parameter set, e.g. PDEBench's
      `1D_Advection_Sols_beta0.4.hdf5`), the data are read from them instead: every set
      of `train_params` and `unseen_params` needs its file, whose first rows are the
      training, validation and test samples in that order; `nx` must be the files' X.
      With `stream`, the training rows stay in the files and each chunk's batches are
      read on the host while the previous chunk runs ([`jaxlab.Stream`][jaxlab.Stream]:
      the same batches as in memory, for files larger than memory).
    - Training: `steps` Adam steps of batch `batch_size`, learning rate `learning_rate`
      halved every `steps / 5` steps; CAPE warm-up `warmup_steps`; CAPE guess-loss weight
      `aux_weight`; input noise `input_noise`.
    - Models: `width`, `modes`, `layers`, `hidden` of the FNO under CAPE; `unet_width`,
      `unet_levels` of the U-Net under CAPE (models `unet`, `unet_cond`, `cape_unet`,
      not trained by default); CAPE's
      `cape_width` (w), `cape_kernel`, `cape_modes`; `padding`, `faithful_norm`,
      `log_params` (parameters enter as log10); `models` to train.
    - Report: `inference_repeats` timed rollouts per model for `MODEL/inference_ms`
      (compiled and warmed up apart from the sweep; 0 skips the timing and the key).
    """

    pde: ClassVar[str] = "advection"
    n_params: ClassVar[int] = 1

    train_params: tuple[float, ...] = option(
        (0.2, 0.4, 0.7, 2.0, 4.0), "speeds beta trained on", above=0
    )
    unseen_params: tuple[float, ...] = option(
        (0.1, 1.0, 7.0), "speeds beta never trained on (tested)", above=0
    )
    train_samples: int = option(200, "training trajectories per training set", minimum=1)
    val_samples: int = option(20, "validation trajectories per training set", minimum=1)
    test_samples: int = option(50, "test trajectories per set, seen and unseen", minimum=1)
    nx: int = option(1024, "cells of the generated grid (before downsampling)", minimum=4)
    space: int = option(8, "keep every space-th cell", minimum=1)
    time: int = option(5, "keep every time-th frame", minimum=1)
    cfl: float = option(
        0.4, "Courant number of the generator (advection, Burgers)", above=0, maximum=0.5
    )
    data_seed: int = option(2022, "seed of the generated data (the same for every run)")
    faithful_norm: bool = option(False, "CAPE's original per-position LayerNorm affine")
    unet_width: int = option(16, "width of the U-Net under CAPE (others matched)", minimum=1)
    unet_levels: int = option(3, "levels of the U-Net", minimum=1)
    models: tuple[str, ...] = option(FNO_MODELS, "the models to train", choices=MODELS)
    inference_repeats: int = option(
        5, "timed rollouts per model for MODEL/inference_ms (0: no timing)", minimum=0
    )
    files: tuple[str, ...] = option(
        (), "PDEBench-layout HDF5 files, one per parameter set (none: generate)", min_length=0
    )
    stream: bool = option(False, "read the training rows from files chunk by chunk")

    def check(self):
        for name in ("train_params", "unseen_params"):
            values = getattr(self, name)
            require(
                len(values) % self.n_params == 0,
                name,
                f"positive parameter values, {self.n_params} per set",
                values,
            )
        total = self.train_samples * len(self.parameter_sets("train_params"))
        require(
            self.batch_size <= total,
            "batch_size",
            f"at most the {total} training samples",
            self.batch_size,
        )
        require(
            self.warmup_steps < self.steps,
            "warmup_steps",
            f"an integer in [0, steps={self.steps})",
            self.warmup_steps,
        )
        require(not self.stream or self.files, "stream", "false without files", self.stream)

    def parameter_sets(self, name: str) -> list[tuple[float, ...]]:
        """The PDE parameter sets of field `name` (`train_params` or `unseen_params`)."""
        values = getattr(self, name)
        return [tuple(values[i : i + self.n_params]) for i in range(0, len(values), self.n_params)]

    def data_config(self, values: tuple[float, ...]):
        (beta,) = values
        return AdvectionData(beta=beta, nx=self.nx, cfl=self.cfl)

    @classmethod
    def quick(cls):
        return cls(
            train_samples=48,
            val_samples=8,
            test_samples=8,
            nx=512,
            space=4,
            time=10,
            steps=400,
            batch_size=16,
            warmup_steps=20,
            learning_rate=3e-3,
            width=12,
            modes=12,
            hidden=32,
            cape_width=16,
            cape_modes=8,
        )


def report(config, results, out_dir):
    """Per-seed nRMSE of each model on seen, unseen and validation speeds, PDEBench's
    other errors, parameter counts and rollout times; figures (see
    [`cape.advection`](../cape.md))."""
    return comparison_report(config, results, out_dir)


EXPERIMENT = TRAINING.experiment(
    "cape.advection",
    "CAPE-FNO vs FNO (plain, parameter channels) on 1-D advection, unseen beta",
    AdvectionConfig,
    report,
)
