"""Training: models split into trained and carried arrays, one optax step, and `fit`.

The step here is the only training step in jaxlab: [`fit`][jaxlab.fit] scans it for one
model, and [`Training`][jaxlab.Training] for several named models side by side.
"""

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, ArrayLike, Bool, Float, Int, PRNGKeyArray, PyTree

from ._data import is_stream, replicated, step_rows, streamed_sample
from ._experiment import require, require_integer
from ._model import ModelLayout, split_model
from ._sweep import _Chunked, _seed_keys, _sweep_chunked


def sampler(data: Any, batch_size: int | None = None) -> Callable[[PRNGKeyArray], Any]:
    """`data` as a pure `sample(key) -> batch` (see [`fit`][jaxlab.fit]): a sampler is
    returned as it is, None gives `None` batches, and arrays with a leading example axis
    give the whole set, or minibatches of `batch_size` drawn without replacement
    (`choice(key, n, (batch_size,), replace=False)`). A [`Stream`][jaxlab.Stream] gives
    the rows it read on the host for the step: the same minibatch."""
    if callable(data):
        return data
    if data is None:
        return lambda key: None
    if is_stream(data):
        require(
            batch_size in (None, data.batch_size),
            "batch_size",
            f"the stream's batch_size {data.batch_size}",
            batch_size,
        )
        return streamed_sample(data)
    sizes = {x.shape[0] for x in jax.tree.leaves(data)}
    require(len(sizes) == 1, "data", "arrays sharing one leading (example) axis", sorted(sizes))
    (size,) = sizes
    if batch_size is None:
        return lambda key: data
    require(
        type(batch_size) is int and 1 <= batch_size <= size,
        "batch_size",
        f"an integer in [1, {size}]",
        batch_size,
    )

    def sample(key):
        index = jax.random.choice(key, size, (batch_size,), replace=False)
        return jax.tree.map(lambda x: x[index], data)

    return sample


@dataclasses.dataclass(frozen=True)
class StepSampler:
    """A sampler that also reads the training step: `fn(key, step) -> batch`.

    [`train_chunk`][jaxlab.train_chunk] (hence [`fit`][jaxlab.fit] and
    [`Training`][jaxlab.Training]) calls it with the number of steps the model has taken
    (an int32 scalar, traced), so a batch can carry a schedule that depends on the step (a
    curriculum) without a recompile. Called with a key alone, it reads step 0.
    """

    fn: Callable[[PRNGKeyArray, Int[Array, ""]], Any]

    def __call__(self, key: PRNGKeyArray, step: Int[ArrayLike, ""] | int = 0) -> Any:
        return self.fn(key, jnp.asarray(step, jnp.int32))


def _wants_step(sample: Any) -> bool:
    return isinstance(sample, StepSampler)


class FitState(eqx.Module):
    """The carry of one seed's training of one model.

    `params` are trained, `buffers` carried (see [`ModelLayout`][jaxlab.ModelLayout]);
    `step` counts the steps taken, `diverged` is set by the first non-finite loss or
    gradient, and `key` draws the batches and loss keys.
    """

    params: PyTree
    buffers: PyTree
    opt_state: PyTree
    step: Int[Array, ""]
    diverged: Bool[Array, ""]
    key: PRNGKeyArray


def init_state(model: Any, optimizer: optax.GradientTransformation, key: PRNGKeyArray) -> FitState:
    """The training state of one model at step 0."""
    params, buffers, _ = split_model(model)
    zero = jnp.zeros((), jnp.int32)
    return FitState(params, buffers, optimizer.init(params), zero, jnp.array(False), key)


def _all_finite(tree: PyTree) -> Bool[Array, ""]:
    leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.array(True)


def train_chunk(
    state: FitState,
    n_steps: int,
    *,
    loss: Callable[[Any, Any, PRNGKeyArray], tuple[Array, Any]],
    layout: ModelLayout,
    optimizer: optax.GradientTransformation,
    sample: Callable[[PRNGKeyArray], Any],
    total_steps: int | None = None,
    rows: PyTree | None = None,
) -> tuple[FitState, tuple[Float[Array, " n_steps"], Any]]:
    """`n_steps` optimizer steps of one model as a `lax.scan`.

    Step $t$ draws `sample(k_batch)` (`sample(k_batch, t)` for a
    [`StepSampler`][jaxlab.StepSampler]) and calls `loss(model, batch, k_loss)` with keys from
    `fold_in(state.key, t)`, then applies the optimizer to the gradient with respect to
    the parameters (never the buffers, which are read back from the model after the call).
    Optimizers that take extra arguments get `value`, `grad` and `value_fn` (the loss of
    the parameters on this batch), so `optax.lbfgs` and its line search work.
    A non-finite loss or gradient sets `diverged`; the state then stays frozen and the loss
    reads NaN. Steps from `total_steps` on leave the state unchanged (so a run can be
    driven in equal chunks whatever its length). `rows` (leaves `[n_steps, ...]`) are a
    [`Stream`][jaxlab.Stream]'s rows of each step, read by a sampler drawn from it.
    Returns the state and the per-step `(loss, aux)`.
    """

    def objective(params, buffers, batch, key):
        model = layout.merge(params, buffers)
        value, aux = loss(model, batch, key)
        return value, (aux, layout.buffers(model))

    def step(state: FitState, step_rows_: Any):
        batch_key, loss_key = jax.random.split(jax.random.fold_in(state.key, state.step))
        with step_rows(step_rows_):
            batch = sample(batch_key, state.step) if _wants_step(sample) else sample(batch_key)
        (value, (aux, buffers)), grads = jax.value_and_grad(objective, has_aux=True)(
            state.params, state.buffers, batch, loss_key
        )
        extra = {}
        if isinstance(optimizer, optax.GradientTransformationExtraArgs):
            # Line searches (optax.lbfgs) evaluate the loss on the same batch and key.
            value_fn = lambda p: objective(p, state.buffers, batch, loss_key)[0]
            extra = dict(value=value, grad=grads, value_fn=value_fn)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params, **extra)
        params = optax.apply_updates(state.params, updates)
        active = jnp.array(True) if total_steps is None else state.step < total_steps
        diverged = state.diverged | (active & ~(jnp.isfinite(value) & _all_finite(grads)))
        keep = diverged | ~active
        new = FitState(params, buffers, opt_state, state.step, diverged, state.key)
        kept = jax.tree.map(lambda n, o: jnp.where(keep, o, n), new, state)
        kept = eqx.tree_at(lambda s: (s.step, s.diverged), kept, (state.step + active, diverged))
        return kept, (jnp.where(keep, jnp.nan, value), aux)

    return jax.lax.scan(step, state, rows, length=n_steps)


@dataclasses.dataclass(frozen=True)
class _FitConfig:
    steps: int


@dataclasses.dataclass
class FitResult:
    """What [`fit`][jaxlab.fit] returns; every array has a leading seed axis.

    **Fields:**

    - `params`: the trained parameters of every seed (stacked).
    - `buffers`: the carried arrays of every seed (settings, batch statistics, RNG state).
    - `losses`: `(seeds, steps)` loss per step; NaN from the step a seed diverged.
    - `aux`: the loss function's auxiliary output per step, `(seeds, steps, ...)`.
    - `diverged`: `(seeds,)`; a diverged seed keeps its last finite parameters.
    - `compile_seconds`, `run_seconds`: as in [`SweepResult`][jaxlab.SweepResult].
    """

    params: PyTree
    buffers: PyTree
    losses: Float[Array, "seeds steps"]
    aux: PyTree
    diverged: Bool[Array, " seeds"]
    compile_seconds: float
    run_seconds: float
    layout: ModelLayout

    def model(self, seed: int) -> Any:
        """The trained model of one seed."""
        pick = lambda tree: jax.tree.map(lambda x: x[seed], tree)
        return self.layout.merge(pick(self.params), pick(self.buffers))


@dataclasses.dataclass
class Trained:
    """What a package's `train` ([`cape.train`][jaxlab.cape.train],
    [`pfgmpp.train`][jaxlab.pfgmpp.train]) returns: one model per seed, its curves and
    its metrics.

    **Fields:**

    - `fit`: the [`FitResult`][jaxlab.FitResult]: `fit.losses` `(seeds, steps)` and
      `fit.aux` the per-step curves, `fit.diverged` `(seeds,)`.
    - `metrics`: `{name: (seeds,)}` of the final models (NaN for a diverged seed).
    - `settings`: the settings it trained with.
    """

    fit: FitResult
    metrics: dict[str, np.ndarray]
    settings: Any

    def model(self, seed: int = 0) -> Any:
        """The trained model of one seed."""
        return self.fit.model(seed)


def overridden(settings: Any, kind: type, overrides: dict[str, Any], keywords: str) -> Any:
    """`settings` (default `kind()`) with fields replaced by `overrides`; a name that is
    not a field of `kind` is a one-line [`ConfigError`][jaxlab.ConfigError] listing the
    function's own `keywords` and the fields."""
    names = [f.name for f in dataclasses.fields(kind)]
    for name in overrides:
        allowed = f"{keywords} or a {kind.__name__} field ({', '.join(names)})"
        require(name in names, "train", allowed, name)
    require(
        settings is None or isinstance(settings, kind),
        "settings",
        f"a {kind.__module__.rsplit('.', 1)[0]}.{kind.__name__}",
        type(settings).__name__,
    )
    return dataclasses.replace(settings or kind(), **overrides)


def fit(
    loss: Callable[[Any, Any, PRNGKeyArray], tuple[Array, Any]],
    init_model: Callable[[PRNGKeyArray], Any],
    optimizer: optax.GradientTransformation,
    data: Any,
    *,
    steps: int,
    seeds: int | Array = 1,
    key: int | Array = 0,
    batch_size: int | None = None,
    batches: Callable[[Any], Callable[..., Any]] | None = None,
    chunk_size: int = 500,
    progress: bool = False,
    checkpoint_dir: str | Path | None = None,
) -> FitResult:
    """Train a model for several seeds at once: one vmapped, scanned program.

    Each seed's key is split into a model key (for `init_model`) and a data key; step
    $t$ uses `fold_in(data_key, t)`. Training runs as `lax.scan` over chunks of
    `chunk_size` steps (every chunk the same length: one compiled program); between
    chunks a progress bar is updated and, with `checkpoint_dir`, the state is saved (a
    rerun resumes from it). A seed whose loss or gradient turns non-finite is flagged
    `diverged` and frozen; the others go on.

    Data arrays are arguments of the compiled program, not constants in it: a second call
    with the same `loss`, `init_model` and `optimizer` objects and data of the same shapes
    runs without compiling again. Arrays holding a NaN or an infinite value are refused
    with a one-line [`ConfigError`][jaxlab.ConfigError] before anything compiles.

    **Arguments:**

    - `loss`: `loss(model, batch, key) -> (loss, aux)`, for one batch.
    - `init_model`: `init_model(key) -> model`, an equinox module or any pytree of
      arrays, or a `flax.nnx` module (trained through `nnx.split`/`nnx.merge`; only
      `nnx.Param` variables are trained, its other state is carried per seed).
    - `optimizer`: an optax `GradientTransformation`.
    - `data`: a pytree of arrays with a leading example axis (full batch, or random
      minibatches of `batch_size`), a pure sampler `data(key) -> batch` (it must not close
      over large arrays: they would be baked into the program), or None (the loss is then
      called with `batch=None`).
    - `batches`: optional `batches(data) -> sample`, traced: how each step's batch is
      drawn from the `data` arrays (a pure `sample(key)` or a
      [`StepSampler`][jaxlab.StepSampler]); the arrays stay an argument of the program.
      Leading axes may then differ, and `batch_size` is not used.
    - `steps`: number of optimizer steps.
    - `seeds`, `key`, `progress`, `checkpoint_dir`: as in [`sweep`][jaxlab.sweep].

    **Returns:** a [`FitResult`][jaxlab.FitResult].
    """
    require_integer(steps, "steps")
    keys = _seed_keys(seeds, key)
    _, _, layout = split_model(init_model(keys[0]))
    require(batches is None or callable(batches), "batches", "a function batches(data)", batches)
    arrays = None if callable(data) else data
    if batches is None:
        sampler(arrays, batch_size)  # validates data and batch_size
    arrays = replicated(arrays)  # checked finite, on every device
    fixed_sampler = data if callable(data) else None

    def init(config, seed_key, operand):
        model_key, data_key = jax.random.split(seed_key)
        return init_state(init_model(model_key), optimizer, data_key)

    def advance(config, state, n_steps, operand, rows):
        if fixed_sampler is not None:
            sample = fixed_sampler
        elif batches is not None:
            sample = batches(operand)
        else:
            sample = sampler(operand, batch_size)
        return train_chunk(
            state,
            n_steps,
            loss=loss,
            layout=layout,
            optimizer=optimizer,
            sample=sample,
            total_steps=config.steps,
            rows=rows,
        )

    def finish(config, state, operand):
        return state.params, state.buffers, state.diverged

    identity = ("fit", loss, init_model, optimizer, layout, batch_size, batches, fixed_sampler)
    out = _sweep_chunked(
        _Chunked(init, advance, finish, identity, f"fit:{loss.__module__}.{loss.__qualname__}"),
        _FitConfig(steps),
        keys,
        operand=arrays,
        progress=progress,
        chunk_size=chunk_size,
        checkpoint_dir=checkpoint_dir,
    )
    (params, buffers, diverged), (losses, aux) = out.results["final"], out.results["history"]
    return FitResult(
        params, buffers, losses, aux, diverged, out.compile_seconds, out.run_seconds, layout
    )
