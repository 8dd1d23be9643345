"""Seed sweeps: one compiled, vmapped program for every seed, sharded over devices."""

import collections
import contextlib
import dataclasses
import itertools
import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from jaxtyping import ArrayLike

from ._checkpoint import Checkpoints, digest, key_data, structure
from ._data import Stream, experiment_data, is_stream, put, split_streams
from ._experiment import Experiment, require, require_integer
from ._model import _shapes


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
    require_integer(seeds, "seeds")
    base = jax.random.key(key) if isinstance(key, int) else key
    return jax.random.split(base, seeds)


def _grid(
    over: Mapping[str, Sequence[float] | ArrayLike] | None,
) -> tuple[list[str], tuple, np.ndarray]:
    """Field names, grid shape and the flat (points, fields) array of a product grid."""
    if not over:
        return [], (), np.zeros((1, 0))
    names = list(over)
    for name in names:
        require(len(over[name]) >= 1, f"over[{name}]", "a non-empty sequence", over[name])
    shape = tuple(len(over[n]) for n in names)
    points = np.array(list(itertools.product(*(over[n] for n in names))), dtype=float)
    return names, shape, points


class _Timer:
    """Compiles (or fetches from the process cache) and runs programs, adding up the
    seconds spent in each."""

    def __init__(self):
        self.compile_seconds = 0.0
        self.run_seconds = 0.0

    def compile(self, cache_key: Any, fn: Callable, *args, sharding: NamedSharding) -> Any:
        """`fn` compiled for `args`, every output sharded like the runs (`sharding`)."""
        if cache_key in _COMPILED:
            _COMPILED.move_to_end(cache_key)
            return _COMPILED[cache_key]
        start = time.perf_counter()
        compiled = jax.jit(fn, out_shardings=sharding).lower(*args).compile()
        self.compile_seconds += time.perf_counter() - start
        _COMPILED[cache_key] = compiled
        if len(_COMPILED) > _CACHE_SIZE:
            _COMPILED.popitem(last=False)
        return compiled

    def run(self, compiled: Any, *args) -> Any:
        start = time.perf_counter()
        out = jax.block_until_ready(compiled(*args))
        self.run_seconds += time.perf_counter() - start
        return out


def _to_host(tree: Any) -> Any:
    """Results gathered from every process (numpy); the arrays themselves in one process."""
    if jax.process_count() == 1:
        return tree
    from jax.experimental import multihost_utils

    return multihost_utils.process_allgather(key_data(tree), tiled=True)


@dataclasses.dataclass(frozen=True)
class _Chunked:
    """The parts of a chunked run, each for ONE seed, taking an `operand` (the declared
    data: arrays passed to every compiled call unbatched), `advance` also the streamed
    rows of its steps (None without a [`Stream`][jaxlab.Stream]), and the hashable
    `identity` that compiled programs are cached on."""

    init: Callable[[Any, jax.Array, Any], Any]
    advance: Callable[[Any, Any, int, Any, Any], Any]
    finish: Callable[[Any, Any, Any], Any]
    identity: Any
    name: str

    @classmethod
    def of(cls, experiment: Experiment) -> "_Chunked":
        """The parts of a chunked experiment; its declared data (if any) is the operand."""
        if experiment.data is not None:
            init, finish = experiment.init, experiment.finish

            def advance(c, s, n, o, r):
                if r is None:
                    return experiment.advance(c, s, n, o)
                return experiment.advance(c, s, n, o, rows=r)  # fit and Training read streams
        else:
            init = lambda c, k, o: experiment.init(c, k)
            advance = lambda c, s, n, o, r: experiment.advance(c, s, n)
            finish = lambda c, s, o: experiment.finish(c, s)
        return cls(
            init,
            advance,
            finish,
            (experiment.init, experiment.advance, experiment.finish),
            experiment.name,
        )


@dataclasses.dataclass(frozen=True)
class _Batch:
    """The flat batch of runs (grid points x seeds), padded and grouped for the devices."""

    config: Any
    names: list[str]
    grid_shape: tuple
    points: np.ndarray
    n_seeds: int
    total: int
    groups: list
    signature: tuple
    sharding: NamedSharding

    def configured(self, values):
        if not self.names:
            return self.config
        return dataclasses.replace(self.config, **dict(zip(self.names, values)))

    def result(self, out, compile_s: float, run_s: float) -> SweepResult:
        def unflatten(x):
            return x[: self.total].reshape(self.grid_shape + (self.n_seeds,) + x.shape[1:])

        grid = {n: self.points[:, i].reshape(self.grid_shape) for i, n in enumerate(self.names)}
        return SweepResult(jax.tree.map(unflatten, out), grid, compile_s, run_s)


def _batch(config, keys, over, batch_size) -> _Batch:
    """Seed keys times grid points, padded to fill every device, in groups; call inside
    the config's precision context."""
    names, grid_shape, points = _grid(over)
    n_seeds = keys.shape[0]
    flat_keys = jnp.tile(keys, points.shape[0])
    flat_values = np.repeat(points, n_seeds, axis=0)
    devices = jax.devices()
    total = flat_keys.shape[0]
    if batch_size is not None:
        require_integer(batch_size, "batch_size")
    group = total if batch_size is None else batch_size
    group = math.ceil(min(group, total) / len(devices)) * len(devices)
    n_groups = math.ceil(total / group)
    # Pad by repeating runs (their results are dropped): every group fills every device.
    padded = np.arange(n_groups * group) % total
    flat_keys, flat_values = flat_keys[padded], flat_values[padded]
    sharded = NamedSharding(Mesh(np.array(devices), ("seed",)), PartitionSpec("seed"))
    values = jnp.asarray(flat_values)
    groups = [
        (
            put(flat_keys[i * group : (i + 1) * group], sharded),
            put(values[i * group : (i + 1) * group], sharded),
        )
        for i in range(n_groups)
    ]
    signature = (config, tuple(names), group, tuple(devices), jax.config.jax_enable_x64)
    return _Batch(config, names, grid_shape, points, n_seeds, total, groups, signature, sharded)


def sweep(
    experiment: Experiment | Callable[..., Any],
    config: Any,
    seeds: int | jax.Array = 8,
    *,
    key: int | jax.Array = 0,
    over: Mapping[str, Sequence[float] | ArrayLike] | None = None,
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

    A chunked experiment is driven in equal chunks of `chunk_size` steps (fewer if
    `steps` is smaller): `advance` compiles once, and the history past `steps` of the
    last chunk is dropped (its `advance` must leave the state unchanged past
    `config.steps`, as [`Training`][jaxlab.Training] does).

    **Arguments:**

    - `experiment`: an [`Experiment`][jaxlab.Experiment], or a plain `run(config, key)`.
    - `config`: the experiment's config (a frozen dataclass).
    - `seeds`: the number of seeds, or an array of PRNG keys.
    - `key`: the integer seed (or key) the seed keys are split from.
    - `over`: `{field: values}`; the results get leading axes `(len(values), ...)`.
    - `batch_size`: runs per compiled call (rounded up to a multiple of the device count).
    - `progress`: show a tqdm bar (chunks of a chunked experiment, or groups).
    - `chunk_size`: steps per `advance` call for chunked experiments.
    - `checkpoint_dir`: chunked experiments save their state there after every chunk
      (orbax) and each chunk's history once, and resume from the last complete
      checkpoint; one of a different sweep (config, grid, seeds, chunk, state structure,
      data) is refused with a one-line [`ConfigError`][jaxlab.ConfigError].

    **Returns:** a [`SweepResult`][jaxlab.SweepResult].
    """
    if not isinstance(experiment, Experiment):
        experiment = Experiment("<run>", "", type(config), lambda *a: {}, run=experiment)
    keys = _seed_keys(seeds, key)
    with _x64_context(config):
        data = experiment_data(experiment, config)
    if experiment.chunked:
        return _sweep_chunked(
            _Chunked.of(experiment),
            config,
            keys,
            operand=data,
            over=over,
            batch_size=batch_size,
            progress=progress,
            chunk_size=chunk_size,
            checkpoint_dir=checkpoint_dir,
        )
    require(
        split_streams(data)[2] is None,
        "data",
        "arrays (a Stream is read by chunked experiments: fit and Training)",
        "a Stream",
    )
    with _x64_context(config):
        batch = _batch(config, keys, over, batch_size)
        run = experiment.run
        if experiment.data is None:
            batched = jax.vmap(lambda k, v, o: run(batch.configured(v), k), (0, 0, None))
        else:
            batched = jax.vmap(lambda k, v, o: run(batch.configured(v), k, o), (0, 0, None))
        timer = _Timer()
        compiled = timer.compile(
            (run, batch.signature, _shapes(data)),
            batched,
            *batch.groups[0],
            data,
            sharding=batch.sharding,
        )
        if progress:
            print(
                f"compiled in {timer.compile_seconds:.1f} s; running {batch.total} run(s) on "
                f"{len(jax.devices())} device(s)...",
                file=sys.stderr,
                flush=True,
            )
        out = [
            _to_host(timer.run(compiled, *g, data))
            for g in _maybe_tqdm(batch.groups, progress and len(batch.groups) > 1, "groups")
        ]
        out = jax.tree.map(lambda *xs: jnp.concatenate(xs), *out)
    return batch.result(out, timer.compile_seconds, timer.run_seconds)


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


def _chunk_length(steps: int, chunk_size: int) -> int:
    """The equal chunk length that covers `steps` in as few chunks of at most
    `chunk_size` as possible, with the least surplus."""
    return math.ceil(steps / math.ceil(steps / chunk_size))


def _loss_summary(history: Any) -> dict[str, float]:
    """The median over runs of each model's last loss in a chunk of `train_chunk`
    histories (`(loss, aux)` or `{name: (loss, aux)}`); empty for other histories."""
    if isinstance(history, tuple):
        history = {"loss": history}
    if not isinstance(history, dict):
        return {}
    return {
        name: float(np.nanmedian(np.asarray(value[0])[:, -1]))
        for name, value in history.items()
        if isinstance(value, tuple) and np.ndim(value[0]) == 2
    }


def _fingerprint(parts: _Chunked, batch: _Batch, index: int, chunk: int, state, operand, stream):
    """What a checkpoint of group `index` must match to be resumed."""
    keys, _ = batch.groups[index]
    return {
        "jaxlab": _jaxlab_version(),
        "run": parts.name,
        "config": dataclasses.asdict(batch.config),
        "grid": {n: batch.points[:, i].tolist() for i, n in enumerate(batch.names)},
        "seeds": digest(_to_host(keys)),
        "groups": [index, len(batch.groups), int(keys.shape[0])],
        "chunk": chunk,
        "state": structure(state),
        "data": digest(operand) + (f" {stream.fingerprint()}" if stream else ""),
    }


def _jaxlab_version() -> str:
    from importlib.metadata import version

    return version("jaxlab")


def _sweep_chunked(
    parts: _Chunked,
    config: Any,
    keys: jax.Array,
    *,
    operand: Any = None,
    over: Mapping[str, Sequence[float] | ArrayLike] | None = None,
    batch_size: int | None = None,
    progress: bool = False,
    chunk_size: int = 1000,
    checkpoint_dir: str | Path | None = None,
) -> SweepResult:
    """Run init/advance/finish per group of runs, advancing one chunk per compiled call;
    a [`Stream`][jaxlab.Stream] in `operand` is read on the host a chunk ahead."""
    steps = config.steps
    require_integer(steps, "steps")
    require_integer(chunk_size, "chunk_size")
    chunk = _chunk_length(steps, chunk_size)
    operand, static, stream = split_streams(operand)
    data = lambda o: eqx.combine(o, static, is_leaf=is_stream)
    with _x64_context(config):
        batch = _batch(config, keys, over, batch_size)
        configured = batch.configured
        init = jax.vmap(lambda k, v, o: parts.init(configured(v), k, data(o)), (0, 0, None))
        advance = jax.vmap(
            lambda v, s, o, r: parts.advance(configured(v), s, chunk, data(o), r), (0, 0, None, 0)
        )
        finish = jax.vmap(lambda v, s, o: parts.finish(configured(v), s, data(o)), (0, 0, None))
        stream_id = None if stream is None else (stream.fingerprint(), _shapes(stream.row_shapes))
        cache = (parts.identity, batch.signature, _shapes(operand), stream_id)
        timer = _Timer()
        keys0, values0 = batch.groups[0]
        c_init = timer.compile(
            ("init", cache), init, keys0, values0, operand, sharding=batch.sharding
        )
        state0 = c_init.out_info
        rows0 = None if stream is None else _rows_like(stream, keys0.shape[0], chunk)
        c_adv = timer.compile(
            ("advance", chunk, cache),
            advance,
            values0,
            state0,
            operand,
            rows0,
            sharding=batch.sharding,
        )
        c_fin = timer.compile(
            ("finish", cache), finish, values0, state0, operand, sharding=batch.sharding
        )
        finals, histories = [], []
        reader = _RowReader(stream, chunk, batch.sharding)
        for index, (keys, values) in enumerate(batch.groups):
            state = timer.run(c_init, keys, values, operand)
            done, history, checkpoints = 0, [], None
            if checkpoint_dir is not None:
                fingerprint = _fingerprint(parts, batch, index, chunk, state, operand, stream)
                checkpoints = Checkpoints(Path(checkpoint_dir) / f"group{index}", fingerprint)
                if (restored := checkpoints.restore(state, c_adv.out_info[1])) is not None:
                    state, done, history = restored
            bar = _maybe_tqdm(None, progress, "step", total=steps)
            if progress:
                runs = min(keys.shape[0], batch.total - index * keys.shape[0])
                bar.set_description(f"{runs} runs" + (f" (group {index + 1})" if index else ""))
                bar.update(done)
            reader.start(state, done, steps)
            while done < steps:
                rows = reader.next()
                state, chunk_history = timer.run(c_adv, values, state, operand, rows)
                chunk_history = _to_host(chunk_history)
                history.append(chunk_history)
                done += min(chunk, steps - done)
                if checkpoints is not None:
                    checkpoints.save(done, state, chunk_history)
                if progress:
                    bar.update(min(chunk, bar.total - bar.n))
                    losses = _loss_summary(chunk_history)
                    bar.set_postfix(diverged=int(_non_finite(chunk_history).sum()), **losses)
            if progress:
                bar.close()
            if checkpoints is not None:
                checkpoints.close()
            finals.append(_to_host(timer.run(c_fin, values, state, operand)))
            joined = jax.tree.map(lambda *xs: jnp.concatenate(xs, axis=1), *history)
            histories.append(jax.tree.map(lambda x: x[:, :steps], joined))
        reader.close()
        out = {
            "final": jax.tree.map(lambda *xs: jnp.concatenate(xs), *finals),
            "history": jax.tree.map(lambda *xs: jnp.concatenate(xs), *histories),
        }
    return batch.result(out, timer.compile_seconds, timer.run_seconds)


def _rows_like(stream: Stream, runs: int, chunk: int) -> Any:
    """The shapes of a chunk's streamed rows: `[runs, chunk, batch_size, ...]`."""
    lead = (runs, chunk, stream.batch_size)
    return jax.tree.map(lambda s: jax.ShapeDtypeStruct(lead + s.shape, s.dtype), stream.row_shapes)


def _data_keys(state: Any) -> jax.Array:
    """The runs' data keys: the `key` of the first training state in `state`."""
    from ._train import FitState

    is_fit = lambda x: isinstance(x, FitState)
    fits = [x for x in jax.tree.leaves(state, is_leaf=is_fit) if is_fit(x)]
    require(bool(fits), "data", "a Stream drawn by fit or Training (a training state)", "none")
    return fits[0].key


class _RowReader:
    """Reads a [`Stream`][jaxlab.Stream]'s rows one chunk ahead, on a host thread, while
    the current chunk runs; yields None without a stream."""

    def __init__(self, stream: Stream | None, chunk: int, sharding: NamedSharding):
        self.stream, self.chunk, self.sharding = stream, chunk, sharding
        self.pool = None if stream is None else ThreadPoolExecutor(1, "jaxlab-stream")
        self.pending = None

    def start(self, state: Any, done: int, steps: int) -> None:
        if self.stream is not None:
            self.keys = np.asarray(key_data(_to_host(_data_keys(state))))
            self.impl = jax.random.key_impl(_data_keys(state))
            self.position, self.steps = done, steps
            self._submit()

    def _submit(self) -> None:
        if self.position < self.steps:
            keys = jax.random.wrap_key_data(self.keys, impl=self.impl)
            self.pending = self.pool.submit(self.stream.read_chunk, keys, self.position, self.chunk)
            self.position += self.chunk

    def next(self) -> Any:
        if self.stream is None:
            return None
        rows = self.pending.result()
        self._submit()  # the next chunk is read while this one runs
        return jax.tree.map(lambda x: put(x, self.sharding), rows)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True)
