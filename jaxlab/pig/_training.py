"""Training PIG and the PINN on a [`Problem`][jaxlab.pig.Problem]: the settings, the
[`ModelSpec`][jaxlab.ModelSpec]s, the side-by-side [`Training`][jaxlab.Training] of the
registered experiments, and [`train`][jaxlab.pig.train] for a problem of your own."""

import dataclasses
import functools
import time
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from .._config import Config, option
from .._experiment import require
from .._model import count_params, split_model
from .._side_by_side import ModelSpec, Training
from .._train import FitResult, StepSampler, fit, init_state, overridden, train_chunk
from ._models import PIG, PINN, values
from ._problem import Problem, loss, monitor_subset, rel_l2, sample


MODELS = ("pig", "pinn")


@dataclasses.dataclass(frozen=True)
class Settings(Config):
    """How PIG and the PINN are built and trained (every field settable with `--set`).

    **Models:** `model` (`"pig"`, `"pinn"` or `"both"`). PIG: `n_gaussians` per channel,
    `channels` ($k$), initial scale `sigma0` in the embedding coordinates, the box mapped
    onto $[\\text{embed\\_lower}, \\text{embed\\_upper}]^d$, an MLP with one hidden layer of
    `hidden` units; `shared` (the paper's shared Gaussians with $k$-vector weights instead
    of $k$ channels of $N$), `covariance` (`"diagonal"` or `"full"`). PINN: `pinn_depth`
    tanh layers of `pinn_width`, optionally `fourier_features` with scale `fourier_scale`.

    **Optimization:** `optimizer` `"adam"` (learning rate `learning_rate` for PIG,
    `pinn_learning_rate` for the PINN, times `decay_rate` every `decay_steps`, smoothly)
    or `"lbfgs"` (optax L-BFGS with its zoom line search, `lbfgs_memory` pairs); `steps`;
    `collocation` interior points per step, resampled every `resample_every` steps
    (`resample`) or drawn once from `data_seed`; `residual_weight` (condition weights
    are the problem's); `causal_tol` $> 0$ weights the residual causally over
    `causal_chunks` time chunks (jaxpi's scheme, see [`loss`][jaxlab.pig.loss]; 0: plain
    mean).

    **Evaluation:** `test_grid` points per axis for problems with an exact solution; the
    per-step error curve uses a fixed random subset of `monitor_points` test points;
    `chunk_points` points per chunk in the point-by-Gaussian arrays (0: automatic);
    `time_steps` steps timed (after a warm-up) for `ms_per_iter` in the report (0: skip).
    """

    model: str = option("both", "the models trained side by side", choices=(*MODELS, "both"))
    steps: int = option(1000, "training steps (optimizer iterations)", minimum=1)
    n_gaussians: int = option(400, "PIG: Gaussians per channel (N)", minimum=1)
    channels: int = option(4, "PIG: channels (k) of n_gaussians each", minimum=1)
    sigma0: float = option(0.1, "PIG: initial Gaussian scale, embedding units (sigma_0)", above=0)
    embed_lower: float = option(0.0, "PIG: the box maps onto [embed_lower, embed_upper]^d")
    embed_upper: float = option(2.0, "PIG: the upper end of the embedding coordinates")
    hidden: int = option(16, "PIG: units of the MLP's one hidden layer", minimum=1)
    shared: bool = option(False, "PIG: shared Gaussians, k-vector weights (the paper's)")
    covariance: str = option("diagonal", "PIG: Gaussian covariance", choices=("diagonal", "full"))
    pinn_width: int = option(64, "PINN: units of each tanh layer", minimum=1)
    pinn_depth: int = option(4, "PINN: tanh layers", minimum=1)
    fourier_features: int = option(0, "PINN: random Fourier features (0: none)", minimum=0)
    fourier_scale: float = option(1.0, "PINN: scale of the Fourier frequencies", above=0)
    optimizer: str = option(
        "adam", "adam, or lbfgs (with a line search)", choices=("adam", "lbfgs")
    )
    learning_rate: float = option(1e-2, "PIG: Adam's initial learning rate", above=0)
    pinn_learning_rate: float = option(1e-3, "PINN: Adam's initial learning rate", above=0)
    decay_steps: int = option(2000, "Adam: steps per decay_rate factor (smoothly)", minimum=1)
    decay_rate: float = option(0.9, "Adam: rate factor per decay_steps", above=0, maximum=1)
    lbfgs_memory: int = option(10, "L-BFGS: (s, y) pairs kept", minimum=1)
    collocation: int = option(4096, "interior (residual) points per step", minimum=1)
    residual_weight: float = option(1.0, "weight of the PDE residual in the loss", minimum=0)
    causal_tol: float = option(0.0, "causal weighting's tolerance (0: plain mean)", minimum=0)
    causal_chunks: int = option(32, "time chunks of the causal weighting", minimum=1)
    resample: bool = option(True, "fresh collocation points, else one batch from data_seed")
    resample_every: int = option(1, "steps between fresh collocation points", minimum=1)
    data_seed: int = option(0, "seed of the fixed batch (or of the resampled blocks)")
    test_grid: int = option(50, "test points per axis (exact solutions)", minimum=1)
    monitor_points: int = option(2048, "test points of the per-step error curve", minimum=1)
    chunk_points: int = option(
        0, "points per chunk of point-by-Gaussian arrays (0: auto)", minimum=0
    )
    time_steps: int = option(3, "steps timed for the report's ms_per_iter (0: skip)", minimum=0)

    def check(self):
        require(
            (self.causal_tol == 0) | (self.causal_chunks <= self.collocation),
            "causal_chunks",
            f"at most collocation={self.collocation}",
            self.causal_chunks,
        )
        require(
            self.embed_lower < self.embed_upper,
            "embed_upper",
            f"a number above embed_lower={self.embed_lower}",
            self.embed_upper,
        )

    def problem(self) -> Problem:
        """The problem these settings train on (each experiment's config defines it)."""
        raise NotImplementedError("Settings alone pose no problem: use pig.train(problem, ...)")

    def models(self) -> tuple[str, ...]:
        return MODELS if self.model == "both" else (self.model,)


@dataclasses.dataclass(frozen=True)
class _Posed(Settings):
    """Settings with a user's problem attached (hashable: compiled programs are cached
    on it)."""

    posed: Problem | None = option(None, "the user's problem")

    def problem(self) -> Problem:
        return self.posed


def _optimizer(cfg: Settings, learning_rate: float) -> optax.GradientTransformation:
    if cfg.optimizer == "lbfgs":
        return optax.lbfgs(memory_size=cfg.lbfgs_memory)
    schedule = optax.exponential_decay(learning_rate, cfg.decay_steps, cfg.decay_rate)
    return optax.adam(schedule)


def build(cfg: Settings, name: str, box, key) -> PIG | PINN:
    """A fresh model `name` (`"pig"` or `"pinn"`) for the box."""
    if name == "pig":
        return PIG(
            box.lower,
            box.upper,
            n_gaussians=cfg.n_gaussians,
            channels=cfg.channels,
            sigma0=cfg.sigma0,
            lower=cfg.embed_lower,
            upper=cfg.embed_upper,
            hidden=(cfg.hidden,),
            shared=cfg.shared,
            covariance=cfg.covariance,
            key=key,
        )
    return PINN(
        box.lower,
        box.upper,
        width=cfg.pinn_width,
        depth=cfg.pinn_depth,
        fourier_features=cfg.fourier_features,
        fourier_scale=cfg.fourier_scale,
        key=key,
    )


def host_data(cfg: Settings) -> dict[str, Any]:
    r"""The data of a run on `cfg.problem()`, host-side NumPy arrays (passed to every
    compiled program as an argument, never baked in as a constant):

    - `"test"`: `(points (M, d), values (M,))`, the test set
      (`problem.test_set(test_grid)`);
    - `"monitor"`: the same for a fixed random subset of `monitor_points` of them, on
      which the relative $L^2$ error is recorded every step;
    - `"fixed"` (only with `resample=False`): the one collocation batch, drawn from
      `data_seed` (see [`sample`][jaxlab.pig.sample])."""
    problem = cfg.problem()
    points, vals, _ = problem.test_set(cfg.test_grid)
    points, vals = np.asarray(points), np.asarray(vals)
    data = {"test": (points, vals), "monitor": monitor_subset(points, vals, cfg.monitor_points)}
    if not cfg.resample:
        fixed = sample(problem, jax.random.key(cfg.data_seed), cfg.collocation)
        data["fixed"] = jax.tree.map(np.asarray, fixed)
    return data


def batches(cfg: Settings, data: dict[str, Any]):
    r"""`sample(key) -> batch`, traced, with `data` the arrays of `host_data(cfg)` on the
    devices: fresh points every step (from the step's key, so each seed has its own);
    with `resample_every` $k > 1$ the same points for $k$ steps at a time (block
    $b = \lfloor t / k \rfloor$ drawn from `fold_in(key(data_seed), b)`, shared by the
    seeds), as the official scripts do; with `resample=False` the fixed batch of `data`.
    Every batch also holds `data`'s monitor set as `batch["monitor"]`, for the loss's
    per-step error."""
    problem, monitor = cfg.problem(), data["monitor"]

    def fresh(key):
        return {**sample(problem, key, cfg.collocation), "monitor": monitor}

    if not cfg.resample:
        return lambda key: {**data["fixed"], "monitor": monitor}
    if cfg.resample_every == 1:
        return fresh

    def block(key, step):
        return fresh(jax.random.fold_in(jax.random.key(cfg.data_seed), step // cfg.resample_every))

    return StepSampler(block)


def model_specs(cfg: Settings) -> dict[str, ModelSpec]:
    r"""`{name: ModelSpec}` of the models `cfg.model` selects, on `cfg.problem()` (the
    same objects for equal settings, so compiled programs are reused).

    The loss's auxiliary output holds the unweighted loss terms and `rel_l2`, the
    relative error $\|u - u^\star\|_2 / \|u^\star\|_2$ on the batch's monitor set,
    every step. `evaluate(model, key, data)` gives `final_rel_l2` (on `data`'s full test
    set), `params`, `prediction` (the model on the test set) and, for PIG, `centres`
    (Gaussian centres in the box's coordinates)."""
    return _specs(cfg)


@functools.lru_cache(maxsize=64)
def _specs(cfg: Settings) -> dict[str, ModelSpec]:
    problem = cfg.problem()
    require(cfg.causal_tol == 0 or problem.box.time is not None, "causal_tol",
            "0 for a problem without a time axis", cfg.causal_tol)  # fmt: skip
    chunk = cfg.chunk_points or None
    causal = {"causal_tol": cfg.causal_tol, "causal_chunks": cfg.causal_chunks}
    lrs = {"pig": cfg.learning_rate, "pinn": cfg.pinn_learning_rate}
    specs = {}
    for name in cfg.models():

        def init(key, name=name):
            return build(cfg, name, problem.box, key)

        def loss_fn(model, batch, key):
            total, terms = loss(problem, model, batch, cfg.residual_weight, chunk, **causal)
            return total, {**terms, "rel_l2": rel_l2(model, *batch["monitor"], chunk)}

        def evaluate(model, key, data, name=name):
            points, vals = data["test"]
            prediction = values(model, points, chunk)
            err = jnp.linalg.norm(prediction - vals) / jnp.linalg.norm(vals)
            out = {"final_rel_l2": err, "params": count_params(model), "prediction": prediction}
            if name == "pig":
                out["centres"] = model.centres()
            return out

        specs[name] = ModelSpec(init, loss_fn, _optimizer(cfg, lrs[name]), evaluate)
    return specs


TRAINING = Training(model_specs, host_data, batches)
"""The side-by-side training of every registered `pig.*` experiment."""


def time_per_step(cfg: Settings, name: str, n_steps: int | None = None) -> float:
    """Milliseconds per training step of model `name` for one seed: the core's step
    scanned `n_steps` times (the data an argument), compiled and warmed up first,
    blocked until ready."""
    n_steps = n_steps or cfg.time_steps
    spec = model_specs(cfg)[name]
    key = jax.random.key(0)
    layout = split_model(eqx.filter_eval_shape(spec.init, key))[2]
    state = init_state(spec.init(key), spec.optimizer, key)
    data = jax.device_put(host_data(cfg))
    run = jax.jit(
        lambda s, d: train_chunk(
            s, n_steps, loss=spec.loss, layout=layout, optimizer=spec.optimizer,
            sample=batches(cfg, d),
        )
    )  # fmt: skip
    jax.block_until_ready(run(state, data))
    start = time.perf_counter()
    jax.block_until_ready(run(state, data))
    return 1e3 * (time.perf_counter() - start) / n_steps


@functools.lru_cache(maxsize=64)
def _fit_batches(cfg: Settings):
    """`batches(data) -> sample` for [`fit`][jaxlab.fit]: one object per settings, so a
    second `train` reuses the compiled program."""
    return functools.partial(batches, cfg)


@eqx.filter_jit
def _test_errors(layout, params, buffers, points, values, chunk):
    """The relative $L^2$ test error of every seed's model (`params` and `buffers` with
    a leading seed axis, merged by `layout`) in one vmapped program; the test arrays are
    arguments, so it compiles once per model structure and test shape."""
    one = lambda p, b: rel_l2(layout.merge(p, b), points, values, chunk)
    return jax.vmap(one)(params, buffers)


@dataclasses.dataclass
class Solution:
    """What [`train`][jaxlab.pig.train] returns.

    **Fields:**

    - `fits`: `{name: FitResult}` per model (`fits["pig"].model(seed)` is a trained
      model; `losses` and `aux` hold the per-step curves, `aux["rel_l2"]` the test
      error on the monitor subset).
    - `final_rel_l2`: `{name: (seeds,)}` relative L2 error of the final models on the
      test set (NaN for a diverged seed).
    - `best_rel_l2`: `{name: (seeds,)}` the lowest monitor-subset error seen during
      training (selected on test data: a flattering figure, labelled as such).
    """

    fits: dict[str, FitResult]
    final_rel_l2: dict[str, np.ndarray]
    best_rel_l2: dict[str, np.ndarray]

    def model(self, name: str, seed: int = 0):
        return self.fits[name].model(seed)


TRAIN_KEYWORDS = "seeds, key, progress, checkpoint_dir, chunk_size"


def train(
    problem: Problem,
    settings: Settings | None = None,
    *,
    seeds: int = 1,
    key: int = 0,
    progress: bool = False,
    checkpoint_dir: str | Path | None = None,
    chunk_size: int = 500,
    **overrides: Any,
) -> Solution:
    """Train PIG and/or the PINN on `problem`, all seeds vmapped in one program, and
    evaluate every seed on the test set in one more.

    **Arguments:**

    - `problem`: a [`Problem`][jaxlab.pig.Problem].
    - `settings`: [`Settings`][jaxlab.pig.Settings] (default `Settings()`), with any
      field replaced by `overrides` (`train(problem, steps=2000, model="pig")`); an
      unknown name is a one-line [`ConfigError`][jaxlab.ConfigError] listing the allowed.
    - `seeds`, `key`, `progress`, `chunk_size`: as in [`fit`][jaxlab.fit].
    - `checkpoint_dir`: each model's training saves to (and resumes from) its own
      subfolder `checkpoint_dir/NAME`, as in [`fit`][jaxlab.fit].

    A second call with the same problem object and settings does not compile again.

    **Returns:** a [`Solution`][jaxlab.pig.Solution].
    """
    require(isinstance(problem, Problem), "problem", "a pig.Problem", type(problem).__name__)
    settings = overridden(settings, Settings, overrides, TRAIN_KEYWORDS)
    fields = {f.name: getattr(settings, f.name) for f in dataclasses.fields(Settings)}
    cfg = _Posed(**fields, posed=problem)
    data = host_data(cfg)
    test = jax.device_put(data["test"])
    chunk = cfg.chunk_points or None
    fits, final, best = {}, {}, {}
    for name, spec in model_specs(cfg).items():
        out = fit(
            spec.loss, spec.init, spec.optimizer, data, batches=_fit_batches(cfg),
            steps=cfg.steps, seeds=seeds, key=key, progress=progress, chunk_size=chunk_size,
            checkpoint_dir=None if checkpoint_dir is None else Path(checkpoint_dir) / name,
        )  # fmt: skip
        fits[name] = out
        errors = np.asarray(_test_errors(out.layout, out.params, out.buffers, *test, chunk))
        final[name] = np.where(np.asarray(out.diverged), np.nan, errors)
        best[name] = np.nanmin(np.asarray(out.aux["rel_l2"]), axis=1)
    return Solution(fits, final, best)
