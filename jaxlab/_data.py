"""The data stage: an experiment's arrays, checked once on the host and placed on every
device, then handed to the compiled programs as arguments.

Data never enter a program as a constant (a large constant makes a program slow to
compile and ties it to one data set) or through a host callback (a device-to-host round
trip per step on GPU/TPU, and a program JAX's persistent compilation cache refuses).
"""

import contextlib
import contextvars
import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from ._experiment import ConfigError


def put(x: Any, sharding: NamedSharding) -> jax.Array:
    """A host array (the same on every process) placed with a global `sharding`."""
    if jax.process_count() == 1:
        return jax.device_put(x, sharding)
    if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
        return jax.random.wrap_key_data(
            put(jax.random.key_data(x), sharding), impl=jax.random.key_impl(x)
        )
    x = np.asarray(x)
    return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])


def check_finite(data: Any, field: str = "data") -> None:
    """A one-line [`ConfigError`][jaxlab.ConfigError] naming the first floating-point
    array of `data` that holds a NaN or an infinite value (checked on the host; traced
    arrays, whose values are not known yet, are skipped)."""
    for path, leaf in jax.tree_util.tree_leaves_with_path(data):
        if isinstance(leaf, jax.core.Tracer) or not hasattr(leaf, "dtype"):
            continue
        if not np.issubdtype(leaf.dtype, np.inexact):
            continue
        bad = int(np.size(leaf) - np.count_nonzero(np.isfinite(np.asarray(leaf))))
        if bad:
            raise ConfigError(
                f"{field}{jax.tree_util.keystr(path)}: finite values, got {bad} NaN or "
                f"infinite value(s) in an array of shape {tuple(np.shape(leaf))}"
            )


def replicated(data: Any, field: str = "data") -> Any:
    """`data` (a pytree of host arrays) checked finite and copied once onto every device:
    the argument form in which compiled programs receive it. A
    [`Stream`][jaxlab.Stream] stays on the host (its rows are checked in one pass)."""
    if data is None:
        return None
    check_finite(data, field)
    everywhere = NamedSharding(Mesh(np.array(jax.devices()), ("seed",)), PartitionSpec())

    def place(x):
        if is_stream(x):
            x.check_finite()
            return x
        return put(x if hasattr(x, "dtype") else np.asarray(x), everywhere)

    return jax.tree.map(place, data, is_leaf=is_stream)


def experiment_data(experiment: Any, config: Any) -> Any:
    """The declared data of an [`Experiment`][jaxlab.Experiment] for `config`, on the
    devices (None for an experiment that declares none)."""
    return None if experiment.data is None else replicated(experiment.data(config))


class Stream:
    """Training rows read on the host, chunk by chunk: for data larger than device (or
    host) memory, such as a folder of PDEBench files.

    Put a `Stream` in an experiment's declared data where the arrays would be, and draw
    from it with [`jaxlab.sampler`][jaxlab.sampler]`(stream, batch_size)` as from arrays.
    Step $t$ of a run gets the rows that `sampler(arrays, batch_size)` would draw from
    the same rows held in memory: indices `choice(k_t, n_rows, (batch_size,),
    replace=False)`, with $k_t$ the step's batch key. The indices of a whole chunk (every
    run, every step) are computed from the runs' keys, the rows read on the host while
    the previous chunk runs, and handed to the compiled chunk as an argument. So a
    streamed run gives the in-memory run's results, and resuming at step $t$ reads what
    the uninterrupted run read (the position is the step count, in the checkpoint).

    Host memory: two chunks of rows, `runs x chunk_size x batch_size` rows each.

    **Arguments:**

    - `source`: `source.shape[0]` rows and `source.read(index) -> pytree of arrays
      [len(index), ...]` (a [`cape.PDEBenchFile`][jaxlab.cape.PDEBenchFile] reads only
      those rows).
    - `batch_size`: rows per step.
    - `name`: what the checkpoint fingerprint records (e.g. the file paths).
    """

    def __init__(self, source: Any, batch_size: int, name: str = ""):
        n_rows = int(source.shape[0])
        if not (type(batch_size) is int and 1 <= batch_size <= n_rows):
            raise ConfigError(f"batch_size: an integer in [1, {n_rows}], got {batch_size!r}")
        self.source, self.batch_size, self.n_rows, self.name = source, batch_size, n_rows, name
        rows = source.read(np.arange(1))
        self.row_shapes = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape[1:], x.dtype), rows)
        self._checked = False

    def check_finite(self, block: int = 64) -> None:
        """One pass over the rows (in blocks): a one-line error for a NaN or infinity."""
        if not self._checked:
            for start in range(0, self.n_rows, block):
                rows = self.source.read(np.arange(start, min(start + block, self.n_rows)))
                check_finite(rows, f"stream {self.name or 'rows'} {start}:{start + block}")
            self._checked = True

    def indices(self, keys: jax.Array, start: int, n_steps: int) -> np.ndarray:
        """`[runs, n_steps, batch_size]` row indices of steps `start...` of each run,
        from the runs' data keys (the `key` of their training state)."""
        return np.asarray(_draw(keys, jnp.int32(start), n_steps, self.n_rows, self.batch_size))

    def read_chunk(self, keys: jax.Array, start: int, n_steps: int) -> Any:
        """The rows of steps `start...start + n_steps` of every run: leaves
        `[runs, n_steps, batch_size, ...]` (NumPy)."""
        index = self.indices(keys, start, n_steps)
        flat = index.reshape(-1)
        unique, inverse = np.unique(flat, return_inverse=True)
        rows = self.source.read(unique)
        spread = lambda x: np.asarray(x)[inverse].reshape(*index.shape, *x.shape[1:])
        return jax.tree.map(spread, rows)

    def fingerprint(self) -> str:
        return f"Stream({self.name}, rows={self.n_rows}, batch={self.batch_size})"


@functools.partial(jax.jit, static_argnums=(2, 3, 4))
def _draw(keys, start, n_steps, n_rows, batch_size):
    def one(key, t):
        batch_key = jax.random.split(jax.random.fold_in(key, t))[0]  # as train_chunk
        return jax.random.choice(batch_key, n_rows, (batch_size,), replace=False)

    steps = start + jnp.arange(n_steps, dtype=jnp.int32)
    return jax.vmap(lambda k: jax.vmap(lambda t: one(k, t))(steps))(keys)


_STEP_ROWS: contextvars.ContextVar = contextvars.ContextVar("jaxlab_step_rows")


@contextlib.contextmanager
def step_rows(rows: Any):
    """While a training step is traced: the streamed rows of that step."""
    token = _STEP_ROWS.set(rows)
    try:
        yield
    finally:
        _STEP_ROWS.reset(token)


def streamed_sample(stream: Stream):
    """`sample(key)` of a [`Stream`][jaxlab.Stream]: the step's rows (drawn on the host
    with this step's batch key, which it must be called with)."""

    def sample(key):
        rows = _STEP_ROWS.get(None)
        if rows is None:
            raise ConfigError(
                f"data: a Stream ({stream.name}) is read only inside a training step of "
                "fit or Training, with the step's batch key"
            )
        return rows

    return sample


def is_stream(x: Any) -> bool:
    return isinstance(x, Stream)


def split_streams(data: Any) -> tuple[Any, Any, Stream | None]:
    """`(arrays, static, stream)`: the arrays of `data` (the compiled programs' argument),
    the rest (its [`Stream`][jaxlab.Stream], at most one, in its place), and the stream;
    `eqx.combine(arrays, static, is_leaf=is_stream)` rebuilds `data`."""
    import equinox as eqx

    streams = [x for x in jax.tree.leaves(data, is_leaf=is_stream) if is_stream(x)]
    if len(streams) > 1:
        raise ConfigError(f"data: at most one Stream, got {len(streams)}")
    arrays, static = eqx.partition(data, lambda x: not is_stream(x), is_leaf=is_stream)
    return arrays, static, (streams[0] if streams else None)


def _walk(jaxpr: Any, consts: Any, found: dict) -> None:
    from jax.extend.core import ClosedJaxpr, Jaxpr, Literal

    found["constants"] += [_nbytes(c) for c in consts]
    for eqn in jaxpr.eqns:
        if "callback" in eqn.primitive.name:
            found["callbacks"].add(eqn.primitive.name)
        found["constants"] += [_nbytes(v.val) for v in eqn.invars if isinstance(v, Literal)]
        for value in eqn.params.values():
            for sub in value if isinstance(value, (tuple, list)) else (value,):
                if isinstance(sub, ClosedJaxpr):
                    _walk(sub.jaxpr, sub.consts, found)
                elif isinstance(sub, Jaxpr):
                    _walk(sub, (), found)


def _nbytes(x: Any) -> int:
    if hasattr(x, "dtype") and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
        x = jax.random.key_data(x)
    return int(np.asarray(x).nbytes) if hasattr(x, "dtype") else 0


def program_contents(fn: Any, *args: Any) -> dict[str, Any]:
    """What `fn(*args)` compiles into, from its jaxpr and every jaxpr inside it:
    `{"callbacks": host-callback primitives, "largest_constant": bytes}`."""
    closed = jax.make_jaxpr(fn)(*args)
    found: dict = {"callbacks": set(), "constants": []}
    _walk(closed.jaxpr, closed.consts, found)
    return {
        "callbacks": sorted(found["callbacks"]),
        "largest_constant": max(found["constants"], default=0),
    }


def experiment_programs(experiment: Any, config: Any, n_steps: int = 2) -> dict[str, dict]:
    """[`program_contents`][jaxlab._data.program_contents] of each program of one seed of
    `experiment` at `config`, traced (not compiled) with its declared data as an
    argument: `run`, or `init`, `advance` (`n_steps` steps) and `finish`.

    A data set baked into a program shows as a large constant; a host round trip as a
    callback (equinox's runtime checks are callbacks unless `EQX_ON_ERROR=nan`, the mode
    `jaxlab run --compile-cache` uses)."""
    import equinox as eqx

    arrays, static, stream = split_streams(
        None if experiment.data is None else experiment.data(config)
    )
    arrays = jax.tree.map(np.asarray, arrays)
    given = (
        (lambda d: (eqx.combine(d, static, is_leaf=is_stream),))
        if experiment.data
        else (lambda d: ())
    )
    key = jax.random.key(0)
    if not experiment.chunked:
        return {
            "run": program_contents(lambda k, d: experiment.run(config, k, *given(d)), key, arrays)
        }
    init = lambda k, d: experiment.init(config, k, *given(d))
    state = jax.eval_shape(init, key, arrays)
    rows = None
    if stream is not None:
        rows = jax.tree.map(
            lambda s: jax.ShapeDtypeStruct((n_steps, stream.batch_size, *s.shape), s.dtype),
            stream.row_shapes,
        )

    def advance(s, d, r):
        if r is None:
            return experiment.advance(config, s, n_steps, *given(d))
        return experiment.advance(config, s, n_steps, *given(d), rows=r)

    return {
        "init": program_contents(init, key, arrays),
        "advance": program_contents(advance, state, arrays, rows),
        "finish": program_contents(
            lambda s, d: experiment.finish(config, s, *given(d)), state, arrays
        ),
    }
