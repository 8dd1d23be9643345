"""`fit`: an optax training loop as `lax.scan` over chunks, vmapped over seeds."""

import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, Bool, Float, PRNGKeyArray, PyTree

from ._experiment import Experiment, require
from ._sweep import _seed_keys, sweep


def _is_nnx(model: Any) -> bool:
    nnx = sys.modules.get("flax.nnx")
    return nnx is not None and isinstance(model, nnx.Module)


def split_model(model: Any) -> tuple[PyTree, Callable[[PyTree], Any]]:
    """Split a model into `(trainable arrays, merge)`: `merge(arrays)` rebuilds it.

    A `flax.nnx` module trains its `nnx.Param` variables; any other pytree (an equinox
    module) trains its floating-point arrays.
    """
    if _is_nnx(model):
        from flax import nnx

        graphdef, params, rest = nnx.split(model, nnx.Param, ...)
        return params, lambda p: nnx.merge(graphdef, p, rest)
    params, static = eqx.partition(model, eqx.is_inexact_array)
    return params, lambda p: eqx.combine(p, static)


def sampler(data: Any, batch_size: int | None = None) -> Callable[[PRNGKeyArray], Any]:
    """`data` as a pure `sample(key) -> batch` (see [`fit`][jaxlab.fit])."""
    if callable(data):
        return data
    if data is None:
        return lambda key: None
    sizes = {x.shape[0] for x in jax.tree.leaves(data)}
    require(len(sizes) == 1, "data", "arrays sharing one leading (example) axis", sorted(sizes))
    (size,) = sizes
    if batch_size is None:
        return lambda key: data
    require(
        isinstance(batch_size, int) and 1 <= batch_size <= size,
        "batch_size",
        f"an integer in [1, {size}]",
        batch_size,
    )

    def sample(key):
        index = jax.random.choice(key, size, (batch_size,), replace=False)
        return jax.tree.map(lambda x: x[index], data)

    return sample


class FitState(eqx.Module):
    """The carry of one seed's training loop."""

    params: PyTree
    opt_state: PyTree
    step: Array
    diverged: Bool[Array, ""]
    key: PRNGKeyArray


@dataclasses.dataclass(frozen=True)
class _FitConfig:
    steps: int


@dataclasses.dataclass
class FitResult:
    """What [`fit`][jaxlab.fit] returns; every array has a leading seed axis.

    **Fields:**

    - `params`: the trained parameters of every seed (stacked).
    - `losses`: `(seeds, steps)` loss per step; NaN from the step a seed diverged.
    - `aux`: the loss function's auxiliary output per step, `(seeds, steps, ...)`.
    - `diverged`: `(seeds,)`; a diverged seed keeps its last finite parameters.
    - `compile_seconds`, `run_seconds`: as in [`SweepResult`][jaxlab.SweepResult].
    """

    params: PyTree
    losses: Float[Array, "seeds steps"]
    aux: PyTree
    diverged: Bool[Array, " seeds"]
    compile_seconds: float
    run_seconds: float
    merge: Callable[[PyTree], Any]

    def model(self, seed: int) -> Any:
        """The trained model of one seed."""
        return self.merge(jax.tree.map(lambda x: x[seed], self.params))


def init_state(params: PyTree, optimizer: optax.GradientTransformation, key) -> FitState:
    """The training state of one seed at step 0; `key` draws its batches and loss keys."""
    zero = jnp.zeros((), jnp.int32)
    return FitState(params, optimizer.init(params), zero, jnp.array(False), key)


def train_chunk(
    state: FitState,
    n_steps: int,
    *,
    loss: Callable[[Any, Any, PRNGKeyArray], tuple[Array, Any]],
    merge: Callable[[PyTree], Any],
    optimizer: optax.GradientTransformation,
    sample: Callable[[PRNGKeyArray], Any],
) -> tuple[FitState, tuple[Array, Any]]:
    """`n_steps` optimizer steps of one seed as a `lax.scan`: the `advance` of
    [`fit`][jaxlab.fit], for experiments written as init/advance/finish.

    Step $t$ draws `sample(k_batch)` and calls `loss(merge(params), batch, k_loss)`
    with keys from `fold_in(state.key, t)`. A non-finite loss or gradient sets
    `diverged`, after which the parameters stay frozen and the loss reads NaN.
    Returns the new state and the per-step `(loss, aux)`.
    """

    def objective(params, batch, key):
        return loss(merge(params), batch, key)

    def step(state: FitState, _):
        batch_key, loss_key = jax.random.split(jax.random.fold_in(state.key, state.step))
        (value, aux), grads = jax.value_and_grad(objective, has_aux=True)(
            state.params, sample(batch_key), loss_key
        )
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        finite = jnp.isfinite(value) & jnp.all(
            jnp.array([jnp.all(jnp.isfinite(g)) for g in jax.tree.leaves(grads)])
        )
        diverged = state.diverged | ~finite
        new = FitState(params, opt_state, state.step + 1, diverged, state.key)
        kept = jax.tree.map(lambda n, o: jnp.where(diverged, o, n), new, state)
        kept = eqx.tree_at(lambda s: (s.step, s.diverged), kept, (state.step + 1, diverged))
        return kept, (jnp.where(diverged, jnp.nan, value), aux)

    return jax.lax.scan(step, state, None, length=n_steps)


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
    chunk_size: int = 500,
    progress: bool = False,
    checkpoint_dir: str | Path | None = None,
) -> FitResult:
    """Train a model for several seeds at once: one vmapped, scanned program.

    Each seed's key is split into a model key (for `init_model`) and a data key; step
    $t$ uses `fold_in(data_key, t)`. Training runs as `lax.scan` over chunks of
    `chunk_size` steps; between chunks a progress bar is updated and, with
    `checkpoint_dir`, the state is saved (a rerun resumes from it). A seed whose loss or
    gradient turns non-finite is flagged `diverged` and frozen; the others go on.

    **Arguments:**

    - `loss`: `loss(model, batch, key) -> (loss, aux)`, for one batch.
    - `init_model`: `init_model(key) -> model`, an equinox module or any pytree of
      arrays, or a `flax.nnx` module (trained through `nnx.split`/`nnx.merge`; only
      `nnx.Param` variables are trained).
    - `optimizer`: an optax `GradientTransformation`.
    - `data`: a pure sampler `data(key) -> batch`, a pytree of arrays with a leading
      example axis (full batch, or random minibatches of `batch_size`), or None (the
      loss is then called with `batch=None`).
    - `steps`: number of optimizer steps.
    - `seeds`, `key`, `progress`, `checkpoint_dir`: as in [`sweep`][jaxlab.sweep].

    **Returns:** a [`FitResult`][jaxlab.FitResult].
    """
    require(isinstance(steps, int) and steps >= 1, "steps", "a positive integer", steps)
    keys = _seed_keys(seeds, key)
    _, merge = split_model(init_model(keys[0]))
    sample = sampler(data, batch_size)

    def init(config, seed_key):
        model_key, data_key = jax.random.split(seed_key)
        params, _ = split_model(init_model(model_key))
        return init_state(params, optimizer, data_key)

    def advance(config, state, n_steps):
        return train_chunk(
            state, n_steps, loss=loss, merge=merge, optimizer=optimizer, sample=sample
        )

    def finish(config, state):
        return state.params, state.diverged

    experiment = Experiment(
        "fit", "", _FitConfig, lambda *a: {}, init=init, advance=advance, finish=finish
    )
    out = sweep(
        experiment,
        _FitConfig(steps),
        keys,
        progress=progress,
        chunk_size=chunk_size,
        checkpoint_dir=checkpoint_dir,
    )
    (params, diverged), (losses, aux) = out.results["final"], out.results["history"]
    return FitResult(params, losses, aux, diverged, out.compile_seconds, out.run_seconds, merge)
