"""Seed sweeps: one compiled, vmapped program for every seed, sharded over devices."""

import collections
import contextlib
import dataclasses
import itertools
import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from ._experiment import Experiment, require
from ._results import load_checkpoint, save_checkpoint


@dataclasses.dataclass
class SweepResult:
    """What [`sweep`][jaxlab.sweep] returns.

    **Fields:**

    - `results`: the per-seed outputs, every leaf with leading axes
      `(*grid_shape, seeds)`; `grid_shape` is `()` unless `over` was given.
    - `grid`: the swept values, `{field: array of shape grid_shape}`.
    - `compile_seconds`: time spent lowering and compiling (0 when every program was cached).
    - `run_seconds`: time spent running the compiled programs, blocked until ready.
    """

    results: Any
    grid: dict[str, np.ndarray]
    compile_seconds: float
    run_seconds: float


_COMPILED: collections.OrderedDict[Any, Any] = collections.OrderedDict()
_CACHE_SIZE = 64  # compiled programs kept per process (least recently used dropped)


def _x64_context(config: Any):
    return jax.enable_x64(True) if getattr(config, "x64", False) else contextlib.nullcontext()


def _seed_keys(seeds: int | jax.Array, key: int | jax.Array) -> jax.Array:
    if isinstance(seeds, jax.Array):
        return seeds
    require(isinstance(seeds, int) and seeds >= 1, "seeds", "a positive integer", seeds)
    base = jax.random.key(key) if isinstance(key, int) else key
    return jax.random.split(base, seeds)


def _grid(over: Mapping[str, Sequence[float]] | None) -> tuple[list[str], tuple, np.ndarray]:
    """Field names, grid shape and the flat (points, fields) array of a product grid."""
    if not over:
        return [], (), np.zeros((1, 0))
    names = list(over)
    for name in names:
        require(len(over[name]) >= 1, f"over[{name}]", "a non-empty sequence", over[name])
    shape = tuple(len(over[n]) for n in names)
    points = np.array(list(itertools.product(*(over[n] for n in names))), dtype=float)
    return names, shape, points


def _compile(cache_key: Any, fn: Callable, *args) -> tuple[Any, float]:
    """Lower and compile `fn` for `args`, or fetch it; returns (compiled, seconds)."""
    if cache_key in _COMPILED:
        _COMPILED.move_to_end(cache_key)
        return _COMPILED[cache_key], 0.0
    start = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    _COMPILED[cache_key] = compiled
    if len(_COMPILED) > _CACHE_SIZE:
        _COMPILED.popitem(last=False)
    return compiled, time.perf_counter() - start


def _timed(compiled: Any, *args) -> tuple[Any, float]:
    start = time.perf_counter()
    out = jax.block_until_ready(compiled(*args))
    return out, time.perf_counter() - start


def sweep(
    experiment: Experiment | Callable[..., Any],
    config: Any,
    seeds: int | jax.Array = 8,
    *,
    key: int | jax.Array = 0,
    over: Mapping[str, Sequence[float]] | None = None,
    batch_size: int | None = None,
    progress: bool = False,
    chunk_size: int = 1000,
    checkpoint_dir: str | Path | None = None,
) -> SweepResult:
    """Run an experiment for many seeds (and numeric hyper-parameters) as one program.

    `run(config, key)` is vmapped over the seed keys, and over every point of the grid
    `over` (numeric config fields, substituted as traced values: no recompilation per
    value). The flat batch (grid points x seeds) is sharded over every visible device
    with `NamedSharding(mesh, P("seed"))`, padded to a multiple of the device count.
    With `batch_size`, at most that many runs execute at once (the same compiled program
    is called once per group), which bounds memory.

    **Arguments:**

    - `experiment`: an [`Experiment`][jaxlab.Experiment], or a plain `run(config, key)`.
    - `config`: the experiment's config (a frozen dataclass).
    - `seeds`: the number of seeds, or an array of PRNG keys.
    - `key`: the integer seed (or key) the seed keys are split from.
    - `over`: `{field: values}`; the results get leading axes `(len(values), ...)`.
    - `batch_size`: runs per compiled call (rounded up to a multiple of the device count).
    - `progress`: show a tqdm bar (chunks of a chunked experiment, or groups).
    - `chunk_size`: steps per `advance` call for chunked experiments.
    - `checkpoint_dir`: chunked experiments save their state there after every chunk,
      and resume from it when it holds a checkpoint of the same sweep.

    **Returns:** a [`SweepResult`][jaxlab.SweepResult].
    """
    if not isinstance(experiment, Experiment):
        experiment = Experiment("<run>", "", type(config), lambda *a: {}, run=experiment)
    keys = _seed_keys(seeds, key)
    names, grid_shape, points = _grid(over)
    n_seeds = keys.shape[0]
    flat_keys = jnp.tile(keys, points.shape[0])
    flat_values = np.repeat(points, n_seeds, axis=0)

    devices = jax.devices()
    total = flat_keys.shape[0]
    group = total if batch_size is None else batch_size
    require(isinstance(group, int) and group >= 1, "batch_size", "a positive integer", batch_size)
    group = math.ceil(min(group, total) / len(devices)) * len(devices)
    n_groups = math.ceil(total / group)
    # Pad by repeating runs (their results are dropped): every group fills every device.
    padded = np.arange(n_groups * group) % total
    flat_keys, flat_values = flat_keys[padded], flat_values[padded]

    mesh = Mesh(np.array(devices), ("seed",))
    sharded = NamedSharding(mesh, PartitionSpec("seed"))

    def configured(values):
        return dataclasses.replace(config, **dict(zip(names, values))) if names else config

    with _x64_context(config):
        values = jnp.asarray(flat_values)
        groups = [
            (
                jax.device_put(flat_keys[i * group : (i + 1) * group], sharded),
                jax.device_put(values[i * group : (i + 1) * group], sharded),
            )
            for i in range(n_groups)
        ]
        signature = (config, tuple(names), group, tuple(devices), jax.config.jax_enable_x64)
        if experiment.chunked:
            out, compile_s, run_s = _drive_chunks(
                experiment,
                config,
                configured,
                groups,
                signature,
                progress,
                chunk_size,
                checkpoint_dir,
            )
        else:
            run = experiment.run
            batched = jax.vmap(lambda k, v: run(configured(v), k))
            compiled, compile_s = _compile((run, signature), batched, *groups[0])
            if progress:
                print(
                    f"compiled in {compile_s:.1f} s; running {total} run(s) on "
                    f"{len(devices)} device(s)...",
                    file=sys.stderr,
                    flush=True,
                )
            out, run_s = [], 0.0
            for g in _maybe_tqdm(groups, progress and n_groups > 1, "groups"):
                result, seconds = _timed(compiled, *g)
                out.append(result)
                run_s += seconds
            out = jax.tree.map(lambda *xs: jnp.concatenate(xs), *out)

    def unflatten(x):
        return x[:total].reshape(grid_shape + (n_seeds,) + x.shape[1:])

    grid = {n: points[:, i].reshape(grid_shape) for i, n in enumerate(names)}
    return SweepResult(jax.tree.map(unflatten, out), grid, compile_s, run_s)


def _maybe_tqdm(items, enabled: bool, unit: str, total: int | None = None):
    if not enabled:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, unit=unit, total=total)


def _non_finite(history: Any) -> jax.Array:
    """Per-run flag: any non-finite value in a history chunk."""
    flags = [
        ~jnp.all(jnp.isfinite(x.reshape(x.shape[0], -1)), axis=1)
        for x in jax.tree.leaves(history)
        if jnp.issubdtype(x.dtype, jnp.inexact)
    ]
    return jnp.stack(flags).any(axis=0) if flags else jnp.zeros((), bool)


def _drive_chunks(
    experiment, config, configured, groups, signature, progress, chunk_size, checkpoint_dir
):
    """Run init/advance/finish per group, advancing `chunk_size` steps per call."""
    steps = config.steps
    require(isinstance(steps, int) and steps >= 1, "steps", "a positive integer", steps)
    require(
        isinstance(chunk_size, int) and chunk_size >= 1,
        "chunk_size",
        "a positive integer",
        chunk_size,
    )
    chunk = min(chunk_size, steps)
    init = jax.vmap(lambda k, v: experiment.init(configured(v), k))
    finish = jax.vmap(lambda v, s: experiment.finish(configured(v), s))

    def advance_fn(n):
        return jax.vmap(lambda v, s: experiment.advance(configured(v), s, n))

    compile_s = run_s = 0.0
    c_init, seconds = _compile((experiment.init, signature), init, *groups[0])
    compile_s += seconds
    finals, histories = [], []
    for index, (keys, values) in enumerate(groups):
        state, seconds = _timed(c_init, keys, values)
        run_s += seconds
        done, history = 0, []
        ckpt = Path(checkpoint_dir) / f"group{index}" if checkpoint_dir else None
        if ckpt is not None and (loaded := load_checkpoint(ckpt, (state, keys))) is not None:
            (saved_state, saved_keys), saved_done, saved_history = loaded
            same_seeds = np.array_equal(jax.random.key_data(saved_keys), jax.random.key_data(keys))
            if same_seeds and 0 < saved_done <= steps:
                tree = jax.tree.structure(jax.eval_shape(advance_fn(chunk), values, state)[1])
                state, done = saved_state, saved_done
                history = [jax.tree.unflatten(tree, saved_history)]
        bar = _maybe_tqdm(None, progress, "step", total=steps)
        if progress:
            bar.update(done)
        while done < steps:
            n = min(chunk, steps - done)
            c_adv, seconds = _compile(
                (experiment.advance, n, signature), advance_fn(n), values, state
            )
            compile_s += seconds
            (state, chunk_history), seconds = _timed(c_adv, values, state)
            run_s += seconds
            history.append(chunk_history)
            done += n
            if ckpt is not None:
                save_checkpoint(ckpt, (state, keys), done, history)
            if progress:
                bar.update(n)
                bar.set_postfix(diverged=int(_non_finite(chunk_history).sum()))
        if progress:
            bar.close()
        c_fin, seconds = _compile((experiment.finish, signature), finish, values, state)
        compile_s += seconds
        final, seconds = _timed(c_fin, values, state)
        run_s += seconds
        finals.append(final)
        histories.append(jax.tree.map(lambda *xs: jnp.concatenate(xs, axis=1), *history))
    out = {
        "final": jax.tree.map(lambda *xs: jnp.concatenate(xs), *finals),
        "history": jax.tree.map(lambda *xs: jnp.concatenate(xs), *histories),
    }
    return out, compile_s, run_s
