"""Registered reproductions of CAPE (Takamoto, Alesiani & Niepert, ICML 2023):
`cape.advection`, `cape.burgers` and `cape.diffusion_reaction`.

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

import dataclasses
import functools
import time as _time
from pathlib import Path
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from matplotlib.figure import Figure

from .._data import Stream
from .._experiment import register, require, require_integer
from .._model import count_params
from .._side_by_side import ModelSpec, Training
from .._train import sampler
from ._data import PDEBenchFile
from ._entry import training_optimizer
from ._generators import AdvectionData, BurgersData, DiffusionReactionData, downsample, generate
from ._metrics import nrmse_per_step, pdebench_metrics
from ._models import build_surrogate, matched_width
from ._training import curriculum_sampler, predict_trajectories, rollout_loss


FNO_MODELS = ("fno", "fno_cond", "cape_fno", "cape_fno_no_curriculum")
MODELS = (*FNO_MODELS, "unet", "unet_cond", "cape_unet")


@dataclasses.dataclass(frozen=True)
class AdvectionConfig:
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

    train_params: tuple[float, ...] = (0.2, 0.4, 0.7, 2.0, 4.0)
    unseen_params: tuple[float, ...] = (0.1, 1.0, 7.0)
    train_samples: int = 200
    val_samples: int = 20
    test_samples: int = 50
    nx: int = 1024
    space: int = 8
    time: int = 5
    cfl: float = 0.4
    data_seed: int = 2022
    steps: int = 2000
    batch_size: int = 50
    learning_rate: float = 3e-3
    warmup_steps: int = 60
    aux_weight: float = 5.7e-5
    input_noise: float = 1e-3
    width: int = 20
    modes: int = 12
    layers: int = 4
    hidden: int = 128
    cape_width: int = 64
    cape_kernel: int = 5
    cape_modes: int = 16
    padding: str = "circular"
    faithful_norm: bool = False
    log_params: bool = True
    unet_width: int = 16
    unet_levels: int = 3
    models: tuple[str, ...] = FNO_MODELS
    inference_repeats: int = 5
    files: tuple[str, ...] = ()
    stream: bool = False

    def __post_init__(self):
        for name in ("train_params", "unseen_params"):
            values = getattr(self, name)
            require(
                len(values) >= 1
                and len(values) % self.n_params == 0
                and all(v > 0 for v in values),
                name,
                "one or more positive parameter values"
                + (f", {self.n_params} per set" if self.n_params > 1 else ""),
                values,
            )
        for name in (
            "train_samples",
            "val_samples",
            "test_samples",
            "steps",
            "batch_size",
            "unet_width",
            "unet_levels",
        ):
            require_integer(getattr(self, name), name)
        require(
            self.batch_size <= self.train_samples * len(self.parameter_sets("train_params")),
            "batch_size",
            f"at most the {self.train_samples * len(self.parameter_sets('train_params'))} "
            "training samples",
            self.batch_size,
        )
        require(
            isinstance(self.warmup_steps, int) and 0 <= self.warmup_steps < self.steps,
            "warmup_steps",
            f"an integer in [0, steps={self.steps})",
            self.warmup_steps,
        )
        require(self.learning_rate > 0, "learning_rate", "a positive number", self.learning_rate)
        require_integer(self.inference_repeats, "inference_repeats", 0)
        require(
            len(self.models) >= 1 and all(m in MODELS for m in self.models),
            "models",
            f"names among {', '.join(MODELS)}",
            self.models,
        )
        require(
            self.padding in ("circular", "zeros"), "padding", "'circular' or 'zeros'", self.padding
        )
        self.data_config(self.parameter_sets("train_params")[0])  # validates nx, cfl
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


@dataclasses.dataclass(frozen=True)
class BurgersConfig(AdvectionConfig):
    """Settings of `cape.burgers`: as [`AdvectionConfig`][jaxlab.cape.experiments.AdvectionConfig],
    with viscosities $\\nu$ (the PDE's is $\\nu/\\pi$)."""

    pde: ClassVar[str] = "burgers"

    train_params: tuple[float, ...] = (0.002, 0.007, 0.02, 0.04, 0.2, 0.4, 2.0)
    unseen_params: tuple[float, ...] = (0.001, 0.004, 0.01, 0.1, 1.0, 4.0)

    def data_config(self, values: tuple[float, ...]):
        (nu,) = values
        return BurgersData(nu=nu, nx=self.nx, cfl=self.cfl)


# PDEBench's grid (nu, rho) in {0.5, 1, 2, 5} x {1, 2, 5, 10}; the unseen sets are the four
# with (i + j) % 4 == 0 (i, j the indices of nu and rho): every nu and every rho value is
# seen in training, but never in these combinations.
_DR_GRID = [(nu, rho) for nu in (0.5, 1.0, 2.0, 5.0) for rho in (1.0, 2.0, 5.0, 10.0)]
_DR_UNSEEN = [(nu, rho) for k, (nu, rho) in enumerate(_DR_GRID) if (k // 4 + k % 4) % 4 == 0]
_DR_TRAIN = [pair for pair in _DR_GRID if pair not in _DR_UNSEEN]


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

    train_params: tuple[float, ...] = tuple(v for pair in _DR_TRAIN for v in pair)
    unseen_params: tuple[float, ...] = tuple(v for pair in _DR_UNSEEN for v in pair)
    time: int = 4

    def data_config(self, values: tuple[float, ...]):
        nu, rho = values
        return DiffusionReactionData(nu=nu, rho=rho, nx=self.nx)

    @classmethod
    def quick(cls):
        return dataclasses.replace(super().quick(), train_samples=24, time=4)


# ------------------------------------------------------------------------------ data


_DATA_FIELDS = (
    "train_params",
    "unseen_params",
    "train_samples",
    "val_samples",
    "test_samples",
    "nx",
    "space",
    "time",
    "cfl",
    "data_seed",
    "files",
    "stream",
)
_DATA_CACHE: dict = {}


def _generated_groups(config):
    """`(parameter set, u [n, T, X] at full resolution)` per set, training sets first."""
    key = jax.random.key(config.data_seed)
    per_train = config.train_samples + config.val_samples + config.test_samples
    train, unseen = config.parameter_sets("train_params"), config.parameter_sets("unseen_params")
    groups = [(v, per_train, i) for i, v in enumerate(train)]
    groups += [(v, config.test_samples, 1000 + i) for i, v in enumerate(unseen)]
    for values, n, salt in groups:
        data = config.data_config(values)
        yield values, generate(data, jax.random.fold_in(key, salt), n, batch_size=64)


def _file_sources(config) -> list[PDEBenchFile]:
    """The file of each parameter set of `config.files`, training sets first, checked."""
    sets = config.parameter_sets("train_params") + config.parameter_sets("unseen_params")
    per_train = config.train_samples + config.val_samples + config.test_samples
    needed = [per_train] * len(config.parameter_sets("train_params"))
    needed += [config.test_samples] * len(config.parameter_sets("unseen_params"))
    by_set = {}
    for path in config.files:
        source = PDEBenchFile(path)
        values = tuple(float(v) for v in source.param_values)
        match = [v for v in sets if len(v) == len(values) and np.allclose(v, values, rtol=1e-5)]
        require(
            match,
            "files",
            f"files whose parameters are a set of train_params or unseen_params ({sets})",
            f"{path} with {dict(zip(source.param_names, values))}",
        )
        require(match[0] not in by_set, "files", "one file per parameter set", str(path))
        require(
            source.shape[2] == config.nx,
            "nx",
            f"the files' {source.shape[2]} cells (pass --set nx={source.shape[2]})",
            config.nx,
        )
        by_set[match[0]] = source
    missing = [v for v in sets if v not in by_set]
    require(not missing, "files", "a file for every parameter set", f"none for {missing}")
    frames = {by_set[v].shape[1] for v in sets}
    require(len(frames) == 1, "files", "files with the same number of frames", sorted(frames))
    for values, n in zip(sets, needed):
        source = by_set[values]
        require(
            source.shape[0] >= n,
            "files",
            f"at least {n} samples in the file of {values}",
            f"{source.shape[0]} in {source.path}",
        )
    return [by_set[v] for v in sets]


def _file_groups(config):
    """As `_generated_groups`, read from `config.files` (only the rows used)."""
    per_train = config.train_samples + config.val_samples + config.test_samples
    n_train = len(config.parameter_sets("train_params"))
    skip = config.train_samples if config.stream else 0  # streamed: read while training
    for i, source in enumerate(_file_sources(config)):
        rows = np.arange(skip, per_train) if i < n_train else np.arange(config.test_samples)
        yield tuple(source.param_values), source.read(rows)[0]


class TrainingRows:
    """The training rows of a cape experiment's files (the first `train_samples` of each
    training file, in the order of the in-memory split), downsampled as they are read:
    the source of its [`Stream`][jaxlab.Stream]."""

    def __init__(self, config):
        self.sources = _file_sources(config)[: len(config.parameter_sets("train_params"))]
        self.per_file, self.time, self.space = config.train_samples, config.time, config.space
        self.shape = (self.per_file * len(self.sources),)

    def read(self, index: np.ndarray) -> dict[str, np.ndarray]:
        which, row = np.divmod(np.asarray(index), self.per_file)
        u = params = None
        for i in np.unique(which):
            mask = which == i
            ui, pi = self.sources[i].read(row[mask], self.time, self.space)
            if u is None:
                u = np.empty((len(which), *ui.shape[1:]), np.float32)
                params = np.empty((len(which), pi.shape[1]), np.float32)
            u[mask], params[mask] = ui, pi
        return {"u": u, "params": params}


def _load(config) -> dict[str, dict[str, np.ndarray]]:
    split = {"train": [], "val": [], "seen": [], "unseen": []}
    n_train = len(config.parameter_sets("train_params"))
    groups = _file_groups(config) if config.files else _generated_groups(config)
    for i, (values, u) in enumerate(groups):
        u = downsample(u, config.space, config.time)
        p = np.tile(np.asarray(values, np.float32), (len(u), 1))
        if i >= n_train:
            split["unseen"].append((u, p))
            continue
        a, b = config.train_samples, config.train_samples + config.val_samples
        if config.files and config.stream:
            a, b = 0, config.val_samples  # the training rows were not read
        split["train"].append((u[:a], p[:a]))
        split["val"].append((u[a:b], p[a:b]))
        split["seen"].append((u[b:], p[b:]))
    return {
        name: {
            "u": np.concatenate([u for u, _ in parts]),
            "params": np.concatenate([p for _, p in parts]),
        }
        for name, parts in split.items()
    }


def dataset(config) -> dict[str, dict[str, np.ndarray]]:
    """The experiment's data, `{"train"|"val"|"seen"|"unseen": {"u": [N, T, X],
    "params": [N, P]}}` (NumPy), generated or read once per process; with `stream`, the
    training split is a [`jaxlab.Stream`][jaxlab.Stream] of the files' rows."""
    key = (type(config), tuple(getattr(config, k) for k in _DATA_FIELDS))
    if key not in _DATA_CACHE:
        if len(_DATA_CACHE) >= 4:
            _DATA_CACHE.pop(next(iter(_DATA_CACHE)))
        data = _load(config)
        if config.stream:
            rows = TrainingRows(config)
            data["train"] = Stream(rows, config.batch_size, ",".join(config.files))
        _DATA_CACHE[key] = data
    return _DATA_CACHE[key]


# ---------------------------------------------------------------------------- models


def _kind(name):
    return "cape_fno" if name.startswith("cape_fno") else name


def _base(name):
    return "unet" if "unet" in name else "fno"


def _model_kwargs(config):
    return dict(
        n_params=config.n_params,
        modes=config.modes,
        layers=config.layers,
        hidden=config.hidden,
        levels=config.unet_levels,
        cape_width=config.cape_width,
        cape_kernel=config.cape_kernel,
        cape_modes=config.cape_modes,
        padding=config.padding,
        faithful_norm=config.faithful_norm,
        grid=config.nx // config.space,
        log_params=config.log_params,
    )


@functools.lru_cache(maxsize=16)
def widths(config) -> dict[str, int]:
    """The base network's width of each model: `config.width` (FNO) or
    `config.unet_width` (U-Net) under CAPE, and for the others the width whose parameter
    count is nearest that of CAPE on the same base."""
    kwargs = _model_kwargs(config)
    cape_width = {"fno": config.width, "unet": config.unet_width}
    targets = {
        base: count_params(
            eqx.filter_eval_shape(
                lambda k, b=base: build_surrogate(
                    f"cape_{b}", width=cape_width[b], key=k, **kwargs
                ),
                jax.random.key(0),
            )
        )
        for base in cape_width
    }
    return {
        name: cape_width[_base(name)]
        if _kind(name).startswith("cape")
        else matched_width(_kind(name), targets[_base(name)], **kwargs)
        for name in config.models
    }


def init_model(config, name, key):
    """Model `name` of the experiment, freshly initialized from `key`."""
    return build_surrogate(
        _kind(name), width=widths(config)[name], key=key, **_model_kwargs(config)
    )


def _evaluate(config):
    def evaluate(model, key, data):
        out = {}
        per_step = {}
        for split in ("val", "seen", "unseen"):
            u, p = data[split]["u"], data[split]["params"]
            pred = predict_trajectories(model, u, p)
            metrics = pdebench_metrics(pred, u, initial_step=1)
            out[f"{split}_nrmse"] = metrics["nrmse"]
            if split != "val":
                for metric, value in metrics.items():
                    if metric != "nrmse":
                        out[f"{split}_{metric}"] = value
                steps = nrmse_per_step(pred, u)  # [B, T]
                per_step[split] = steps
                out[f"{split}_nrmse_by_step"] = jnp.mean(steps, axis=0)
                out[f"{split}_example"] = pred[0]
        by_param = [
            jnp.mean(per_step[s][:, 1:].reshape(len(config.parameter_sets(f)), -1), axis=1)
            for s, f in (("seen", "train_params"), ("unseen", "unseen_params"))
        ]
        out["nrmse_by_param"] = jnp.concatenate(by_param)
        return out

    return evaluate


def _models(config) -> dict[str, ModelSpec]:
    evaluate = _evaluate(config)
    specs = {}
    for name in config.models:
        cape = _kind(name).startswith("cape")
        curriculum = name != "cape_fno_no_curriculum"

        def loss(model, batch, key, cape=cape, curriculum=curriculum):
            if not curriculum:
                batch = {**batch, "ar": jnp.ones_like(batch["ar"])}
            return rollout_loss(
                model,
                batch,
                key,
                aux_weight=config.aux_weight,
                input_noise=config.input_noise,
                warmup_steps=config.warmup_steps if cape else 0,
            )

        specs[name] = ModelSpec(
            init=functools.partial(init_model, config, name),
            loss=loss,
            optimizer=training_optimizer(config),
            evaluate=evaluate,
        )
    return specs


def _batches(config, data):
    train = data["train"]
    if isinstance(train, Stream):
        frames = train.row_shapes["u"].shape[0]  # one row: [T, X]
    else:
        frames = train["u"].shape[1]
    base = sampler(data["train"], config.batch_size)
    return curriculum_sampler(base, config.steps, config.warmup_steps, frames)


TRAINING = Training(_models, dataset, _batches)


# ---------------------------------------------------------------------------- report


def inference_ms(config, name, repeats: int) -> float:
    """Milliseconds for one full autoregressive rollout of one trajectory (compiled,
    warmed up, median of `repeats`)."""
    model = init_model(config, name, jax.random.key(0))
    seen = dataset(config)["seen"]
    u, p = jnp.asarray(seen["u"][:1]), jnp.asarray(seen["params"][:1])
    run = eqx.filter_jit(predict_trajectories)
    jax.block_until_ready(run(model, u, p))
    times = []
    for _ in range(repeats):
        start = _time.perf_counter()
        jax.block_until_ready(run(model, u, p))
        times.append(_time.perf_counter() - start)
    return 1e3 * float(np.median(times))


def report(config, results, out_dir) -> dict[str, np.ndarray]:
    final = {k: np.asarray(v) for k, v in results["final"].items()}
    seeds = next(iter(final.values())).shape[0]
    metrics = {}
    for name in config.models:
        for metric in (
            "seen_nrmse",
            "unseen_nrmse",
            "val_nrmse",
            "unseen_rmse",
            "unseen_crmse",
            "unseen_max_error",
            "unseen_brmse",
            "unseen_frmse_low",
            "unseen_frmse_mid",
            "unseen_frmse_high",
        ):
            metrics[f"{name}/{metric}"] = final[f"{name}/{metric}"]
        model = init_model(config, name, jax.random.key(0))
        metrics[f"{name}/params"] = np.full(seeds, count_params(model), float)
        if config.inference_repeats:
            ms = inference_ms(config, name, config.inference_repeats)
            metrics[f"{name}/inference_ms"] = np.full(seeds, ms)
    for base in ("fno", "unet"):
        if base in config.models and f"cape_{base}" in config.models:
            metrics[f"cape_{base}/unseen_vs_{base}"] = (
                metrics[f"cape_{base}/unseen_nrmse"] / metrics[f"{base}/unseen_nrmse"]
            )
    _figures(config, final, Path(out_dir))
    return metrics


def _figures(config, final, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    data = dataset(config)
    train, unseen = config.parameter_sets("train_params"), config.parameter_sets("unseen_params")
    sets = train + unseen
    seen = [True] * len(train) + [False] * len(unseen)
    # One parameter: against its value (log axis); several: sets in order, labelled.
    values = [v[0] for v in sets] if config.n_params == 1 else list(range(len(sets)))
    order = np.argsort(values)

    fig = Figure(figsize=(7 if config.n_params == 1 else 10, 4.5))
    ax = fig.subplots()
    for name in config.models:
        curve = np.nanmean(final[f"{name}/nrmse_by_param"], axis=0)
        ax.plot(np.array(values)[order], curve[order], "-", lw=1, label=name)
        for v, c, s in zip(values, curve, seen):
            ax.plot(v, c, "o" if s else "x", color=ax.lines[-1].get_color(), ms=5)
    ax.set(yscale="log", ylabel="rollout nRMSE (o seen, x unseen)")
    if config.n_params == 1:
        ax.set(xscale="log", xlabel=f"{config.pde} parameter")
    else:
        ax.set_xticks(values, [",".join(f"{x:g}" for x in v) for v in sets], rotation=60)
        ax.set(xlabel=f"{config.pde} parameters")
    ax.legend()
    fig.savefig(out_dir / "nrmse_by_parameter.png", dpi=120, bbox_inches="tight")

    fig = Figure(figsize=(10, 4))
    axes = fig.subplots(1, 2)
    for ax, split in zip(axes, ("seen", "unseen")):
        for name in config.models:
            ax.semilogy(np.nanmean(final[f"{name}/{split}_nrmse_by_step"], axis=0)[1:], label=name)
        ax.set(title=f"{split} parameters", xlabel="rollout step", ylabel="nRMSE")
    axes[0].legend()
    fig.savefig(out_dir / "error_by_step.png", dpi=120, bbox_inches="tight")

    rows = ["truth", *config.models]
    fig = Figure(figsize=(3 * len(rows), 5.5))
    axes = fig.subplots(2, len(rows), squeeze=False)
    for r, split in enumerate(("seen", "unseen")):
        truth = data[split]["u"][0]
        value = ",".join(f"{x:g}" for x in data[split]["params"][0])
        images = [truth] + [final[f"{n}/{split}_example"][0] for n in config.models]
        for c, (title, image) in enumerate(zip(rows, images)):
            axes[r, c].imshow(
                image,
                aspect="auto",
                origin="lower",
                cmap="RdBu_r",
                vmin=truth.min(),
                vmax=truth.max(),
            )
            axes[r, c].set(title=f"{title} ({split} {value})", xlabel="x", ylabel="t")
    fig.savefig(out_dir / "rollouts.png", dpi=110, bbox_inches="tight")


ADVECTION = register(
    TRAINING.experiment(
        "cape.advection",
        "CAPE-FNO vs FNO (plain, parameter channels) on 1-D advection, unseen beta",
        AdvectionConfig,
        report,
    )
)
BURGERS = register(
    TRAINING.experiment(
        "cape.burgers",
        "CAPE-FNO vs FNO (plain, parameter channels) on 1-D Burgers, unseen nu",
        BurgersConfig,
        report,
    )
)
DIFFUSION_REACTION = register(
    TRAINING.experiment(
        "cape.diffusion_reaction",
        "CAPE-FNO vs FNO (plain, parameter channels) on 1-D diffusion-reaction, unseen (nu, rho)",
        DiffusionReactionConfig,
        report,
    )
)
